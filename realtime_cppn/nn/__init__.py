"""The only torch importers: the CPPN model, torch -> NetworkSpec export, scene networks, training.

May import show and core; never rendering."""
