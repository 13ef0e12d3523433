"""The only moderngl importers: the renderer, its cpu path, and the shader code generator.

May import show and core; never nn."""
