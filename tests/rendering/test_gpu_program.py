"""The runtime GPU program: one pixel per invocation, straight-line, every weight at a literal
index; its weight storages (one uniform block, several, a storage buffer, the texture) and its
layer loop drawn on llvmpipe against torch float64; the DriverProfile decisions from strings."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess

import numpy as np
import pytest
from conftest import reference

from realtime_cppn.core import cost
from realtime_cppn.core.spec import Layer, NetworkSpec, View
from realtime_cppn.nn.export import to_spec
from realtime_cppn.nn.model import CPPN
from realtime_cppn.rendering import driver
from realtime_cppn.rendering.codegen import glsl

ATOL = 1e-4
H200 = "NVIDIA H200/PCIe/SSE2"


# --- DriverProfile, from strings ----------------------------------------------------------------


def test_llvmpipe_gets_the_cpu_path_and_bakes_only_under_a_shader_path():
    p = driver.profile({"GL_RENDERER": "llvmpipe (LLVM 15.0.6, 256 bits)",
                        "GL_MAX_UNIFORM_BLOCK_SIZE": 65536,
                        "GL_UNIFORM_BUFFER_OFFSET_ALIGNMENT": 16}, 450)
    assert p.software and p.llvmpipe and p.auto_path() == "cpu"
    assert p.specializes("compute") and p.specializes("fragment") and not p.specializes("cpu")
    assert p.storage(100, "compute") == "texture"  # its JIT compiles block indexing slowly
    assert p.loop_above == glsl.LOOP_MACS_SOFTWARE


@pytest.mark.parametrize("renderer, version, path", [
    ("NVIDIA GeForce RTX 3080/PCIe/SSE2", 460, "fragment"),
    ("AMD Radeon RX 6800 XT (radeonsi, navi21, LLVM 15.0.7, DRM 3.49)", 460, "fragment"),
    ("Apple M1", 410, "fragment"),
    (H200, 460, "compute"),
    ("NVIDIA H100 80GB HBM3/PCIe/SSE2", 460, "compute"),
    ("NVIDIA H100 80GB HBM3/PCIe/SSE2", 410, "fragment"),  # no compute shaders below 4.3
])
def test_gpus_draw_fragment_shaders_unless_pixel_shaders_reach_part_of_the_chip(
        renderer, version, path):
    p = driver.profile({"GL_RENDERER": renderer}, version)
    assert not p.software and p.auto_path() == path
    assert not p.specializes(path)  # baking gains nothing on a GPU compiler
    assert p.loop_above == glsl.LOOP_MACS_GPU


def test_storage_goes_one_block_then_several_then_ssbo_then_texture():
    info = {"GL_RENDERER": H200, "GL_MAX_UNIFORM_BLOCK_SIZE": 65536,
            "GL_UNIFORM_BUFFER_OFFSET_ALIGNMENT": 256, "GL_MAX_COMPUTE_UNIFORM_BLOCKS": 14,
            "GL_MAX_FRAGMENT_UNIFORM_BLOCKS": 14}
    p = driver.profile(info, 460, ["GL_KHR_parallel_shader_compile"])
    assert p.parallel_compile and p.block_vec4s() == 4096
    assert p.storage(4096, "compute") == "ubo" and p.block(4096, "ubo") is None
    assert p.storage(4097, "compute") == "ubo" and p.block(4097, "ubo") == 4096
    assert p.storage(14 * 4096, "compute") == "ubo"
    assert p.storage(14 * 4096 + 1, "compute") == "ssbo"
    assert driver.profile(info, 410).storage(14 * 4096 + 1, "fragment") == "texture"
    # A block's byte size is a multiple of the offset alignment: ranges start aligned.
    odd = driver.profile({**info, "GL_MAX_UNIFORM_BLOCK_SIZE": 65000}, 460)
    assert (16 * odd.block_vec4s()) % 256 == 0 and 16 * odd.block_vec4s() <= 65000


def test_missing_limits_fall_back_to_gl_minimums():
    p = driver.profile({"GL_RENDERER": "Some GPU"}, 330)
    assert (p.max_ubo, p.max_fragment_blocks, p.ubo_alignment) == (16384, 12, 256)
    assert p.storage(5000, "fragment") == "ubo"  # five blocks of 16 KiB
    assert not p.has_compute and p.storage(12 * 1024 + 1, "fragment") == "texture"


# --- the emitted body ---------------------------------------------------------------------------


def _body(src: str) -> str:
    start = src.index("vec4 evaluate(vec2 p) {")
    return src[start:src.index("\n}\n", start)]


@pytest.mark.parametrize("path", glsl.PATHS)
@pytest.mark.parametrize("storage", glsl.STORAGES)
def test_the_runtime_body_indexes_only_with_literals(path, storage):
    spec = to_spec(CPPN(width=16, depth=3, seed=2))
    body = _body(glsl.source(spec, path, storage))
    assert "for (" not in body and "while" not in body
    indices = re.findall(r"\[([^\]]*)\]", body) + re.findall(r"\bW\(([^)]*)\)", body)
    assert indices and all(re.fullmatch(r"\d+", i) for i in indices), set(indices)
    if path == "compute" or storage == "ssbo":
        assert body.count("fma(") == spec.macs_per_pixel  # one fma per useful multiply-add
    else:  # GLSL 3.30 has no fma(): a chain compilers contract to the same instructions
        assert "fma(" not in body and body.count(" * ") >= spec.macs_per_pixel


def _spirv(tmp_path, src: str, stage: str) -> str:
    f = tmp_path / f"p.{stage}"
    f.write_text(src)
    spv = tmp_path / "p.spv"
    run = subprocess.run(["glslangValidator", "-G", "--auto-map-locations", "--auto-map-bindings",
                          "-o", str(spv), str(f)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    dis = subprocess.run(["spirv-dis", str(spv)], capture_output=True, text=True) \
        if shutil.which("spirv-dis") else None
    if dis is not None and dis.returncode == 0:
        return dis.stdout
    return subprocess.run(["glslangValidator", "-G", "-H", "--auto-map-locations",
                           "--auto-map-bindings", "-o", str(spv), str(f)],
                          capture_output=True, text=True).stdout


@pytest.mark.skipif(shutil.which("glslangValidator") is None, reason="needs glslang-tools")
@pytest.mark.parametrize("path, stage", [("compute", "comp"), ("fragment", "frag")])
def test_spirv_of_the_runtime_program_has_no_dynamic_access_chain(tmp_path, path, stage):
    # Compiled by glslang to SPIR-V: every OpAccessChain into the weights uses constants only.
    spec = to_spec(CPPN(width=8, depth=2, seed=3))
    asm = _spirv(tmp_path, glsl.source(spec, path, "ubo"), stage)
    consts = set(re.findall(r"^\s*(%\w+) = OpConstant\b", asm, re.M))
    weights = set(re.findall(r"^\s*(%\w+) = OpVariable %_ptr_Uniform_Weights\b", asm, re.M)) or \
        set(re.findall(r"^\s*(%\w+) = OpVariable %_ptr_Uniform_\w+ Uniform", asm, re.M))
    chains = [line.split() for line in asm.splitlines() if "OpAccessChain" in line]
    into_weights = [c for c in chains if c[4] in weights]
    assert into_weights, "no access to the weight block found"
    for c in into_weights:
        assert all(i in consts for i in c[5:]), " ".join(c)


def test_the_loop_program_loops_over_identical_hidden_layers():
    spec = to_spec(CPPN(width=16, depth=5, seed=4))
    body = _body(glsl.source(spec, "compute", "ubo", loop_above=1000))
    assert body.count("for (int l = 0; l < 4; l++)") == 1  # hidden layers 2-5 of 16 -> 16
    assert body.count("fma(") == spec.macs_per_pixel - 3 * 16 * 16  # the body is one layer


def test_the_four_pixel_program_loops_too():
    """Software rasterizers' four-pixel compute program loops above loop_above as well: its
    straight-line W64 D4 took the JIT 3.7x the CPU time of the loop (benchmarks/README.md)."""
    spec = to_spec(CPPN(width=16, depth=5, seed=4))
    body = glsl.source(spec, "compute", "texture", pixels=4, loop_above=1000)
    assert body.count("for (int l = 0; l < 4; l++)") == 1
    assert "int k = l * " in body  # not "o": the four-pixel program's output array
    straight = glsl.source(spec, "compute", "texture", pixels=4)
    assert "for (int l" not in straight


# --- drawn on llvmpipe against torch float64 ----------------------------------------------------


def _renderer(ctx, path, storage, **profile):
    from realtime_cppn.rendering.renderer import Renderer

    base = driver.profile(ctx.info, ctx.version_code, ctx.extensions)
    # One pixel per invocation, as on a GPU: the program these tests are about.
    profile = {"compute_pixels": 1, **profile}
    return Renderer(ctx, path=path, storage=storage, profile=dataclasses.replace(base, **profile))


def _relu_then_sin(seed: int = 5) -> NetworkSpec:
    # Pre-activations of the sin layer reach tens of radians: range reduction must match.
    rng = np.random.default_rng(seed)
    sizes = [(8, 3, "relu"), (8, 8, "sin"), (3, 8, "sigmoid")]
    layers = tuple(Layer((3.0 * rng.normal(size=(o, i))).astype(np.float32),
                         rng.normal(size=o).astype(np.float32), a) for o, i, a in sizes)
    return NetworkSpec(inputs=("x", "y", "r"), z_dim=0, layers=layers, scale=2.0)


def _assert_parity(r, spec, size=(19, 13), z=None) -> None:
    r.set_network(spec, z)
    out = r.read(r.draw(size)).astype(np.float64)
    ref, pre = reference(spec, size, z)
    err = np.abs(out - ref)
    assert err.max() <= ATOL, f"max abs error {err.max():.3g}"


CASES = {
    "one block": ("ubo", {}),
    "several blocks": ("ubo", {"max_ubo": 256, "ubo_alignment": 64}),  # 16 vec4s a block
    "ssbo": ("ssbo", {}),
    "texture": ("texture", {}),
    "loop": ("ubo", {"loop_macs": 100}),
    # llvmpipe's compute program: four pixels an invocation, texture weights, the layer loop
    "four-pixel loop": ("texture", {"loop_macs": 100, "compute_pixels": 4}),
}


@pytest.mark.parametrize("path", glsl.PATHS)
@pytest.mark.parametrize("case", CASES)
def test_parity_for_every_path_and_storage(gl_context, path, case):
    storage, limits = CASES[case]
    r = _renderer(gl_context, path, storage, **limits)
    try:
        spec = to_spec(CPPN(width=8, depth=3, z_dim=3, seed=11))
        assert r.storage_for(spec) == storage
        if case == "several blocks":
            assert glsl.blocks_for(glsl.layout(spec).size, r.block_for(spec)) >= 3
        z = np.array([0.3, -0.7, 1.1])
        _assert_parity(r, spec, z=z)
        r.set_latent(np.array([-1.0, 0.2, 0.5]))  # the per-frame latent write, same buffer
        ref, _ = reference(spec, (19, 13), np.array([-1.0, 0.2, 0.5]))
        assert np.abs(r.read(r.draw((19, 13))) - ref).max() <= ATOL
        _assert_parity(r, _relu_then_sin())
        if case == "several blocks":  # a reseed is one upload of the whole buffer
            uploads = r.stats.uploads
            r.set_network(to_spec(CPPN(width=8, depth=3, z_dim=3, seed=12)), z)
            assert r.stats.uploads == uploads + 1 and r.stats.compiles == 2
    finally:
        r.release()


def test_sin_after_relu_on_the_cpu_path_matches_torch(cpu_renderer):
    _assert_parity(cpu_renderer, _relu_then_sin())


def test_warm_up_binds_zeros_as_large_as_every_block(gl_context):
    r = _renderer(gl_context, "compute", "ubo", max_ubo=256, ubo_alignment=64)
    try:
        r.set_network(to_spec(CPPN(width=4, depth=1, z_dim=0, seed=1)))
        big = to_spec(CPPN(width=8, depth=3, z_dim=0, seed=1))
        r.warm_up(r._program(big, "rgba32f"), big, "rgba32f")
        assert r._zero_weights[1].size >= 16 * glsl.layout(big).size
        assert gl_context.error == "GL_NO_ERROR"
    finally:
        r.release()


# --- NaN and infinity ---------------------------------------------------------------------------


def _overflowing() -> NetworkSpec:
    # Layer 1 overflows to +inf; layer 2 makes inf - inf = NaN (channel 0) and keeps +inf (1).
    big = np.float32(3e38)
    l1 = Layer(np.array([[0, 0, 0, 1], [0, 0, 0, 1]], np.float32) * big,
               np.array([big, big], np.float32), "identity")
    l2 = Layer(np.array([[1, -1], [1, 0], [0, 0]], np.float32), np.zeros(3, np.float32),
               "identity")
    return NetworkSpec(inputs=("x", "y", "r", "b"), z_dim=0, layers=(l1, l2))


@pytest.mark.parametrize("name", ["compute_renderer", "fragment_renderer", "cpu_renderer"])
@pytest.mark.parametrize("color", ["rgb", "hsv", "palette"])
def test_nan_and_inf_draw_as_zero_in_every_colour_mode(request, gl_context, name, color):
    r = request.getfixturevalue(name)
    r.set_network(_overflowing())
    frame = r.read(r.draw((8, 8), View(color=color), display=True), 4)
    assert np.isfinite(frame).all()
    plain = NetworkSpec(inputs=("x", "y", "r", "b"), z_dim=0,
                        layers=(Layer(np.zeros((3, 4), np.float32), np.zeros(3, np.float32),
                                      "identity"),))
    r.set_network(plain)  # outputs exactly 0: the colour NaN and infinity must match
    zero = r.read(r.draw((8, 8), View(color=color), display=True), 4)
    np.testing.assert_array_equal(frame, zero)


@pytest.mark.parametrize("name", ["compute_renderer", "fragment_renderer"])
def test_a_frame_drawn_in_bands_is_the_same_frame(request, gl_context, name):
    r = request.getfixturevalue(name)
    spec = to_spec(CPPN(width=6, depth=2, z_dim=0, seed=8))
    r.set_network(spec)
    whole = r.read(r.draw((40, 70), View(color="hsv"), display=True), 4)
    try:
        r.tile_work = 40 * 20 * cost.spec_work_per_pixel(spec)  # 20 rows: bands of 16
        assert r.tile_rows(spec, (40, 70)) == 16
        banded = r.read(r.draw((40, 70), View(color="hsv"), display=True), 4)
    finally:
        r.tile_work = 0.0
    np.testing.assert_array_equal(banded, whole)
