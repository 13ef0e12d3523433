"""GL helpers the renderer and its background compiles share: linking a program, binding the
weights, and the texture units both use."""

from __future__ import annotations

import moderngl

from .codegen import glsl

WEIGHT_UNIT = 0
TEXTURE_UNIT = 3


def bind_weights(obj, storage: str, size: int, block: int | None) -> None:
    """Bind a weight texture or buffer of ``size`` vec4s the way programs of ``storage`` read
    it: a texture on its unit, a storage buffer at binding 0, uniform blocks as consecutive
    ranges of one buffer at bindings 0.. (``block`` vec4s each; None: one block)."""
    if storage == "texture":
        obj.use(WEIGHT_UNIT)
    elif storage == "ssbo":
        obj.bind_to_storage_buffer(0)
    elif block is None:
        obj.bind_to_uniform_block(0, offset=0, size=16 * size)
    else:
        for b in range(glsl.blocks_for(size, block)):
            n = min(block, size - b * block)
            obj.bind_to_uniform_block(b, offset=16 * b * block, size=16 * n)


def set_block_bindings(prog, size: int, block: int | None) -> None:
    """Uniform block b of a program reads binding b (GLSL 3.30 has no layout(binding))."""
    for b, name in enumerate(glsl.block_names(glsl.blocks_for(size, block))):
        if name in prog:
            prog[name].binding = b


def link(ctx: moderngl.Context, source: str, compute: bool = False):
    """A compute shader, or a fragment program drawn over the full-screen triangle."""
    if compute:
        return ctx.compute_shader(source)
    return ctx.program(vertex_shader=glsl.load("fullscreen.vert"), fragment_shader=source)


def first_draw(ctx: moderngl.Context, prog, target, compute: bool) -> None:
    """One draw of ``prog`` into ``target``, then a finish: llvmpipe compiles a program at its
    first use, not at link time, so this is where a warm-up pays the compile."""
    if compute:
        target.bind_to_image(0, read=False, write=True)
        prog.run(1, 1)
        ctx.memory_barrier()
    else:
        fbo = ctx.framebuffer(color_attachments=[target])
        fbo.use()
        vao = ctx.vertex_array(prog, [])
        vao.vertices = 3
        vao.render()
        vao.release()
        fbo.release()
    ctx.finish()
