"""Shader exports (Shadertoy, ISF, glslViewer) as text from rendering.codegen and core."""
