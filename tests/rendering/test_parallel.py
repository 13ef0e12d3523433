"""New architectures compiled on the driver's threads (GL_KHR_parallel_shader_compile): the
current program keeps drawing while the new one is pending, the swap happens once the driver
says it is complete, and the swapped-in program draws the new network (against torch float64).

llvmpipe advertises the extension but links in the calling thread, so the renderer does not use
it there by itself; these tests force it (``DriverProfile.parallel_forced``) to run the mechanism
the renderer uses on GPUs. They count frames and compiles, never seconds.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
from conftest import reference

from realtime_cppn.core.errors import CPPNError
from realtime_cppn.nn.export import to_spec
from realtime_cppn.nn.model import CPPN
from realtime_cppn.rendering import driver, parallel
from realtime_cppn.rendering.codegen import glsl

pytestmark = pytest.mark.gl

ATOL = 1e-4
H200 = "NVIDIA H200/PCIe/SSE2"
KHR = ["GL_KHR_parallel_shader_compile"]


def test_gpus_with_the_extension_compile_in_parallel_and_llvmpipe_does_not():
    assert driver.profile({"GL_RENDERER": H200}, 460, KHR).compiles_in_parallel
    assert driver.profile({"GL_RENDERER": H200}, 460, ["GL_ARB_parallel_shader_compile"]) \
        .compiles_in_parallel
    assert not driver.profile({"GL_RENDERER": H200}, 460).compiles_in_parallel
    soft = driver.profile({"GL_RENDERER": "llvmpipe (LLVM 15.0.6, 256 bits)"}, 450, KHR)
    assert soft.parallel_compile and not soft.compiles_in_parallel
    assert dataclasses.replace(soft, parallel_forced=True).compiles_in_parallel


def _renderer(ctx, path, forced=True):
    from realtime_cppn.rendering.renderer import Renderer

    base = driver.profile(ctx.info, ctx.version_code, ctx.extensions)
    if not base.parallel_compile:
        pytest.skip("this driver has no GL_KHR_parallel_shader_compile")
    return Renderer(ctx, path=path, background=True,
                    profile=dataclasses.replace(base, parallel_forced=forced))


@pytest.mark.parametrize("path", glsl.PATHS)
def test_the_old_program_draws_while_the_new_one_compiles_then_it_swaps(gl_context, path):
    r = _renderer(gl_context, path)
    try:
        a = to_spec(CPPN(width=6, depth=2, seed=1))
        b = to_spec(CPPN(width=10, depth=3, activation="sin", z_dim=2, seed=2))
        z = np.array([0.4, -0.8])
        size = (19, 13)
        r.set_network(a)
        shown_a = r.read(r.draw(size))
        compiles = r.stats.compiles
        assert not r.prepare(b)  # handed to the driver: not ready yet
        assert r.building and r.gl_objects()["parallel_programs"] == 1
        # Each prepare asks the driver once, without waiting; the frames between draw a. (On
        # llvmpipe the link completed inside the first prepare: one frame, then the swap.)
        frames, same = 0, True
        deadline = time.monotonic() + 300  # a hang guard, not a budget
        while True:
            img = r.read(r.draw(size))  # the current network plays on meanwhile
            frames += 1
            same = same and bool(np.array_equal(img, shown_a))
            if r.prepare(b):
                break
            assert time.monotonic() < deadline, "the parallel compile never completed"
        assert frames >= 1 and same
        # The swap: the renderer's program built (from the driver's cache), nothing pending,
        # no child process, and the first frame of b compiles nothing more.
        assert r.stats.parallel_compiles == 1 and r.stats.background_compiles == 0
        assert r.stats.compiles == compiles + 1
        objects = r.gl_objects()
        assert objects["parallel_programs"] == 0 and objects["arch_procs"] == 0
        assert not r.building
        r.set_network(b, z)
        out = r.read(r.draw(size)).astype(np.float64)
        assert r.stats.compiles == compiles + 1
        ref, _ = reference(b, size, z)
        assert np.abs(out - ref).max() <= ATOL
        assert r._parallel is not None  # the rebuild was a cache hit: the path stays on
    finally:
        r.release()


def test_going_back_drops_the_pending_compile(gl_context):
    r = _renderer(gl_context, "fragment")
    try:
        a = to_spec(CPPN(width=6, depth=2, seed=5))
        r.set_network(a)
        assert not r.prepare(to_spec(CPPN(width=14, depth=2, seed=6)))
        assert r.prepare(a)  # compiled already; the other build is not wanted any more
        assert r.gl_objects()["parallel_programs"] == 0 and not r.building
    finally:
        r.release()


def test_a_program_the_driver_refuses_reports_failed_with_its_log(gl_context):
    job = parallel.ParallelCompile.for_current_context()
    if job is None:
        pytest.skip("no GL entry points for a parallel compile here")
    job.start(("bad",), [(parallel.GL_COMPUTE_SHADER,
                          "#version 430\nlayout(local_size_x = 1) in;\nvoid main() { nope; }\n")])
    deadline = time.monotonic() + 60
    while (status := job.poll(("bad",))) == "running":
        assert time.monotonic() < deadline
    assert status == "failed" and job.log and not job.pending


def test_a_refused_network_raises_the_drivers_error_from_prepare(gl_context, monkeypatch):
    r = _renderer(gl_context, "compute")
    try:
        r.set_network(to_spec(CPPN(width=6, depth=2, seed=7)))
        b = to_spec(CPPN(width=9, depth=2, seed=8))
        real = driver.program_source
        monkeypatch.setattr(driver, "program_source",
                            lambda *a, **k: (real(*a, **k)[0].replace("void main", "nope main"),
                                             real(*a, **k)[1]))
        deadline = time.monotonic() + 60
        with pytest.raises(CPPNError, match="could not compile"):
            while not r.prepare(b):
                assert time.monotonic() < deadline
        # The program was refused, not the mechanism: the next architecture compiles there too.
        monkeypatch.setattr(driver, "program_source", real)
        assert r._parallel is not None and not r.prepare(b)
        assert r.stats.parallel_compiles == 2
    finally:
        r.release()


def test_without_forcing_llvmpipe_keeps_its_child_process_path(gl_context):
    r = _renderer(gl_context, "compute", forced=False)
    try:
        if not r.profile.software:
            pytest.skip("a GPU: the parallel path is its default")
        assert r._parallel is None
    finally:
        r.release()
