"""The command line: main (dispatch), args (shared argument helpers), one module per command.

Nothing in the package imports cli."""
