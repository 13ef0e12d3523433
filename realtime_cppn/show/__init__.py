"""Pure live logic: the action vocabulary and reducer, the key table, clocks.

May import core only."""
