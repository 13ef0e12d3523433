"""The instrument: OSC, MIDI, audio, tempo and the scene bank, all turned into actions.

May import show and core."""
