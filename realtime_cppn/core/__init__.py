"""Plain numpy and Python that everything builds on: errors, specs, views, scenes, activations, safe IO.

Imports nothing else from the package."""
