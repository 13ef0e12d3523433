"""GLSL generation from a NetworkSpec (plain text, no GL): templates, layouts, baked shaders.

May import core only; exports reads it too."""
