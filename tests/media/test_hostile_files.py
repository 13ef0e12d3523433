"""Files written whole, and hostile or odd input files refused with one line.

Writers (PNG stills, scene files, banks, exports, screenshots) survive a full disk and never
write through a symlink. Readers refuse FIFOs and devices without blocking, bound what a weights
file may inflate to by the architecture its scene declares, and turn odd values, deep nesting,
oversized text chunks and bad names into one CPPNError line.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import subprocess
import sys
import textwrap
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from realtime_cppn.cli import main as cli
from realtime_cppn.cli import still
from realtime_cppn.core.errors import CPPNError
from realtime_cppn.core.scene import Scene
from realtime_cppn.core.spec import Layer, NetworkSpec
from realtime_cppn.instrument import bank
from realtime_cppn.media import scenefile
from realtime_cppn.media.images import load_texture, read_scene, save_png

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SHAPES = [(8, 5), (3, 8)]  # inputs x, y, r and z_dim 2


def small_spec(seed: int = 0) -> NetworkSpec:
    rng = np.random.default_rng(seed)
    layers = tuple(Layer(rng.normal(size=s).astype(np.float32),
                         rng.normal(size=s[0]).astype(np.float32), a)
                   for s, a in zip(SHAPES, ("tanh", "sigmoid")))
    return NetworkSpec(inputs=("x", "y", "r"), z_dim=2, layers=layers, scale=2.0)


def saved_scene(folder: Path) -> Path:
    return scenefile.save(folder / "s.json", Scene(network={"fitted": "x.png"}), small_spec())


def with_npz(json_path: Path, blob: bytes) -> None:
    """Replace the scene's weights by ``blob``, with a matching hash (the attack a hash alone
    cannot stop)."""
    json_path.with_suffix(".npz").write_bytes(blob)
    doc = json.loads(json_path.read_text())
    doc["weights"]["sha256"] = hashlib.sha256(blob).hexdigest()
    json_path.write_text(json.dumps(doc))


def run_python(code: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter (the timeout only guards the suite against a hang)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout)


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert text and "\n" not in text
    return text


# --- writers ----------------------------------------------------------------------------------


def test_a_full_disk_leaves_every_earlier_file_whole(tmp_path):
    """RLIMIT_FSIZE makes the kernel refuse writes past 4 KB (EFBIG), as a full disk does: each
    writer's new file is bigger, so each write fails, and the earlier file stays as it was."""
    earlier = {"still.png": b"old png", "s.json": b"old scene", "s.npz": b"old weights",
               "bank.json": b"old bank", "shader.frag": b"old shader"}
    for name, data in earlier.items():
        (tmp_path / name).write_bytes(data)
    source = tmp_path / "src"
    source.mkdir()
    config = Scene(network={"width": 24, "depth": 3, "seed": 1})
    (source / "c.json").write_text(json.dumps(config.to_dict()))
    out = run_python(f"""
        import resource, signal
        import numpy as np
        from realtime_cppn.instrument import bank
        from realtime_cppn.cli import main as cli
        from realtime_cppn.media import scenefile
        from realtime_cppn.core.errors import CPPNError
        from realtime_cppn.media.images import save_png
        from realtime_cppn.core.scene import Scene
        from realtime_cppn.core.spec import Layer, NetworkSpec
        d = {str(tmp_path)!r}
        rng = np.random.default_rng(0)
        spec = NetworkSpec(("x", "y", "r"), 0, (
            Layer(rng.normal(size=(256, 3)).astype(np.float32), np.zeros(256, np.float32), "tanh"),
            Layer(rng.normal(size=(3, 256)).astype(np.float32), np.zeros(3, np.float32), "tanh")))
        scene = Scene(network={{"seed": 1, "width": 8, "depth": 2}}, texture="t" * 600)
        full = bank.Bank({{k: scene for k in range(1, 10)}})
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        jobs = [lambda: save_png(d + "/still.png", rng.random((128, 128, 3))),
                lambda: scenefile.save(d + "/s.json", scene, spec),
                lambda: bank.save(full, d + "/bank.json")]
        for job in jobs:
            try:
                job()
                print("written")
            except CPPNError as exc:
                print("refused:", exc)
        print("export", cli.main(["export", d + "/src/c.json", "--format", "glsl",
                                  "-o", d + "/shader.frag"]))
    """)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 4 and all(s.startswith("refused:") for s in lines[:3]), out.stdout
    assert lines[3] == "export 2" and "cannot write" in out.stderr, out
    for name, data in earlier.items():
        assert (tmp_path / name).read_bytes() == data, name
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*earlier, "src"])  # no leftovers


def test_writers_replace_a_symlink_and_leave_its_target_alone(tmp_path, capsys):
    victims = {}
    for name in ("a.png", "s.json", "s.npz", "bank.json", "c.frag"):
        victim = tmp_path / f"victim-{name}"
        victim.write_text("keep me")
        (tmp_path / name).symlink_to(victim)
        victims[name] = victim
    save_png(tmp_path / "a.png", np.zeros((4, 4, 3)))
    scenefile.save(tmp_path / "s.json", Scene(network={"fitted": "x"}), small_spec())
    bank.save(bank.Bank(), tmp_path / "bank.json")
    config = tmp_path / "c.json"
    config.write_text(Scene(network={"width": 4, "depth": 1}).to_json())
    assert cli.main(["export", str(config), "--format", "glsl", "-o", str(tmp_path / "c.frag")]) == 0
    for name, victim in victims.items():
        assert victim.read_text() == "keep me", name
        assert not (tmp_path / name).is_symlink(), name
    assert scenefile.load(tmp_path / "s.json").spec is not None


def test_screenshots_and_exports_never_follow_a_dangling_link(renderer, tmp_path):
    from realtime_cppn.live.live import Live
    from realtime_cppn.show.actions import initial_state
    from realtime_cppn.show.clock import FixedClock

    shots = tmp_path / "shots"
    shots.mkdir()
    elsewhere = tmp_path / "elsewhere"
    (shots / "cppn-7-000.png").symlink_to(elsewhere / "stolen.png")
    (shots / "cppn-7-000.frag").symlink_to(elsewhere / "stolen.frag")
    state = initial_state(Scene(network={"seed": 7, "width": 8, "depth": 2}), paused=True)
    live = Live(renderer, state, clock=FixedClock(10), screenshot_dir=shots)
    live.update()
    png = live.screenshot((32, 24))
    frag = live.export("glsl")
    assert (png.name, frag.name) == ("cppn-7-001.png", "cppn-7-001.frag")
    assert not elsewhere.exists()
    assert read_scene(png).network["seed"] == 7 and "main" in frag.read_text()
    assert (shots / "cppn-7-000.png").is_symlink()


def test_a_screenshot_folder_that_is_a_file_is_one_line_at_startup(tmp_path, capsys):
    (tmp_path / "shots").write_text("a file")
    code = cli.main(["live", "--screenshot-dir", str(tmp_path / "shots"), "--width", "8"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "is a file, not a folder" in err, err


# --- weights files ----------------------------------------------------------------------------


def _npy_header(shape: tuple, dtype: str = "<f8") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue()


BIG = [(1024, 5), (1024, 1024), (1024, 1024), (3, 1024)]  # a large network within the limits


def big_scene(folder: Path) -> Path:
    """A scene declaring BIG (its weights file may be some 30 MB), with zero weights."""
    zeros = tuple(Layer(np.zeros(s, np.float32), np.zeros(s[0], np.float32), "tanh")
                  for s in BIG)
    spec = NetworkSpec(inputs=("x", "y", "r"), z_dim=2, layers=zeros)
    return scenefile.save(folder / "s.json", Scene(network={"fitted": "x.png"}), spec)


def _npz_with(first: bytes, first_tail: int = 0) -> bytes:
    """BIG's zero weights as a compressed .npz, with layer0.weight replaced by ``first`` (raw
    member bytes) followed by ``first_tail`` zero bytes (streamed, never held in memory)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for i, shape in enumerate(BIG):
            for name, array in ((f"layer{i}.weight", np.zeros(shape, np.float32)),
                                (f"layer{i}.bias", np.zeros(shape[0], np.float32))):
                with zf.open(f"{name}.npy", "w", force_zip64=True) as m:
                    if name != "layer0.weight":
                        np.lib.format.write_array(m, array)
                        continue
                    m.write(first)
                    zeros = bytes(1 << 20)
                    for _ in range(first_tail >> 20):
                        m.write(zeros)
    return buf.getvalue()


BOMBS = {
    # 256 MB of zeros deflated to about a megabyte, claiming an array of that size
    "deflate bomb": lambda: _npz_with(_npy_header((1 << 25,)), 1 << 28),
    # the declared shape, then 256 MB more than the shape needs
    "oversized member": lambda: _npz_with(_npy_header((1024, 5), "<f4") + bytes(20480), 1 << 28),
    # a few kilobytes whose header claims 2**40 float64 (8 TB)
    "header claims 2**40": lambda: _npz_with(_npy_header((1 << 40,)) + bytes(4000)),
    "no npy magic": lambda: _npz_with(b"PK not an array at all" * 10),
    "object dtype": lambda: _npz_with(_npy_header((1024, 5), "|O") + bytes(40960)),
    "big-endian ints": lambda: _npz_with(_npy_header((1024, 5), ">i8") + bytes(40960)),
}


def test_a_large_declared_network_loads_in_small_memory(tmp_path):
    """The baseline of the bomb test below: the honest file of the same scene loads."""
    path = big_scene(tmp_path)
    said, peak = _load_in_child(path)
    assert said == "loaded" and peak < 200 << 20, (said, peak >> 20)


def _load_in_child(path: Path) -> tuple[str, int]:
    """What loading ``path`` in a fresh interpreter said, and its peak resident memory in
    bytes (VmHWM: ru_maxrss of a child can report its parent's peak)."""
    out = run_python(f"""
        from realtime_cppn.media import scenefile
        from realtime_cppn.core.errors import CPPNError
        try:
            scenefile.load({str(path)!r})
            print("loaded")
        except CPPNError as exc:
            print("refused:", exc)
        status = open("/proc/self/status").read()
        print(next(l.split()[1] for l in status.splitlines() if l.startswith("VmHWM")))
    """)
    assert out.returncode == 0, out.stderr
    said, peak_kb = out.stdout.splitlines()
    return said, int(peak_kb) << 10


@pytest.mark.parametrize("name", list(BOMBS))
def test_weight_bombs_are_refused_with_small_memory(tmp_path, name):
    path = big_scene(tmp_path)
    with_npz(path, BOMBS[name]())
    said, peak = _load_in_child(path)
    assert said.startswith("refused: scene s.json: weights s.npz: layer0.weight.npy"), said
    assert peak < 200 << 20, f"{name}: {peak >> 20} MB"


def test_a_weights_file_larger_than_its_network_needs_is_refused_unread(tmp_path):
    path = saved_scene(tmp_path)
    with_npz(path, bytes(1 << 20))
    with pytest.raises(CPPNError, match="is 1,048,576 bytes; a weights file for scene s.json "
                                        "is at most") as info:
        scenefile.load(path)
    one_line(info)


@pytest.mark.parametrize(("shapes", "acts"), [
    ([[8, 5]] + [[8, 8]] * 1999 + [[3, 8]], ["tanh"] * 2000 + ["sigmoid"]),  # depth 2000
    ([[4096, 5], [3, 4096]], ["tanh", "sigmoid"]),  # width 4096
    ([[8, 5], [3, 9]], ["tanh", "sigmoid"]),  # layers that do not chain
])
def test_stored_weights_beyond_the_model_limits_are_refused_before_reading(
        tmp_path, shapes, acts):
    path = saved_scene(tmp_path)
    doc = json.loads(path.read_text())
    doc["weights"].update(shapes=shapes, activations=acts)
    path.write_text(json.dumps(doc))
    path.with_suffix(".npz").unlink()  # never reached: the architecture is refused first
    with pytest.raises(CPPNError) as info:
        scenefile.load(path)
    assert "no such" not in one_line(info)


def test_weights_stored_fortran_order_or_float64_load_as_the_same_network(tmp_path):
    path = saved_scene(tmp_path)
    spec = small_spec()
    buf = io.BytesIO()
    arrays = {}
    for i, layer in enumerate(spec.layers):
        arrays[f"layer{i}.weight"] = np.asfortranarray(layer.weight.astype(np.float64))
        arrays[f"layer{i}.bias"] = layer.bias
    np.savez_compressed(buf, **arrays)
    with_npz(path, buf.getvalue())
    loaded = scenefile.load(path).spec
    for a, b in zip(loaded.layers, spec.layers):
        assert np.array_equal(a.weight, b.weight) and a.weight.dtype == np.float32


# --- special files ----------------------------------------------------------------------------


def test_fifos_and_devices_are_refused_without_blocking(tmp_path):
    """Each reader meets a FIFO (no writer: reading would block forever) and a link to
    /dev/zero (reading would never end)."""
    path = saved_scene(tmp_path)
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "zero").symlink_to("/dev/zero")
    out = run_python(f"""
        import json, os
        from realtime_cppn.instrument import bank
        from realtime_cppn.media import scenefile
        from realtime_cppn.core.errors import CPPNError
        from realtime_cppn.cli.fit import load_target
        from realtime_cppn.media.images import load_texture, read_scene
        d = {str(tmp_path)!r}
        doc = json.load(open(d + "/s.json"))
        for special in ("fifo", "zero"):
            doc["weights"]["file"] = special + ".npz"
            if not os.path.lexists(d + "/" + special + ".npz"):
                os.symlink(special, d + "/" + special + ".npz")
            with open(d + "/w-" + special + ".json", "w") as f:
                json.dump(doc, f)
            loaders = [scenefile.load, bank.load, load_texture, read_scene,
                       lambda p: load_target(p, 64),
                       lambda p, s=special: scenefile.load(d + "/w-" + s + ".json")]
            for load in loaders:
                try:
                    load(d + "/" + special)
                    print("loaded")
                except CPPNError as exc:
                    print("refused:", exc)
    """, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 12 and all("must be a regular file" in s for s in lines), out.stdout
    assert path.exists()


# --- odd values and shapes --------------------------------------------------------------------


def _scene_doc(**changes) -> dict:
    doc = Scene(network={"seed": 1, "width": 8, "depth": 2}).to_dict()
    for key, value in changes.items():
        if key.startswith("net_"):
            doc["network"][key[4:]] = value
        else:
            doc[key] = value
    return doc


ODD_SCENES = {
    "path_seed Infinity": '{"path_seed": Infinity}',
    "path_seed NaN": '{"path_seed": NaN}',
    "path_seed 2**64": '{"path_seed": 18446744073709551616}',
    "path_seed string": '{"path_seed": "3"}',
    "path_seed null": '{"path_seed": null}',
    "path_seed list": '{"path_seed": [1]}',
    "seed 2**64": '{"net_seed": 18446744073709551616}',
    "seed NaN": '{"net_seed": NaN}',
    "seed -1": '{"net_seed": -1}',
    "seed string": '{"net_seed": "1"}',
    "seed null": '{"net_seed": null}',
    "seed list": '{"net_seed": [1, 2]}',
    "z_dim Infinity": '{"net_z_dim": Infinity}',
    "width true": '{"net_width": true}',
    "width 1e400": '{"net_width": 1e400}',
    "zoom 1e400": '{"view": {"zoom": 1e400}}',
    "zoom huge int": '{"view": {"zoom": ' + "9" * 400 + "}}",
    "center not a list": '{"view": {"center": 3}}',
    "sigma string": '{"net_sigma": "big"}',
}


@pytest.mark.parametrize("name", list(ODD_SCENES))
def test_odd_scene_values_are_one_line(tmp_path, name):
    from realtime_cppn.nn.build import scene_config

    changes = json.loads(ODD_SCENES[name].replace("Infinity", '"INF"').replace("NaN", '"NAN"'))
    text = json.dumps(_scene_doc(**changes))
    text = text.replace('"INF"', "Infinity").replace('"NAN"', "NaN")
    path = tmp_path / "s.json"
    path.write_text(text)
    with pytest.raises(CPPNError) as info:
        scene_config(scenefile.load(path).scene)  # refused at load or, at the latest, here
    one_line(info)


def test_weights_entries_with_infinity_are_one_line(tmp_path):
    path = saved_scene(tmp_path)
    for key, value in (("z_dim", "Infinity"), ("shapes", "[[8, Infinity], [3, 8]]"),
                       ("scale", "NaN"), ("shapes", "[[8, true], [3, 8]]")):
        doc = json.loads(path.read_text())
        doc["weights"][key] = "@"
        path.write_text(json.dumps(doc).replace('"@"', value))
        with pytest.raises(CPPNError) as info:
            scenefile.load(path)
        one_line(info)
        saved_scene(tmp_path)


def test_cli_seeds_beyond_64_bits_are_one_line(tmp_path, capsys):
    code = cli.main(["still", "--seed", str(2**64), "--size", "8x8", "-o", str(tmp_path / "a.png")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "seed" in err and "0..18446744073709551615" in err
    assert not (tmp_path / "a.png").exists()


DEEP = "[" * 100_000 + "]" * 100_000


def _png_with_chunk(kind: bytes, body: bytes, size: tuple[int, int] = (8, 8)) -> bytes:
    def chunk(k: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + k + data + struct.pack(">I", zlib.crc32(k + data))

    ihdr = struct.pack(">IIBBBBB", *size, 8, 2, 0, 0, 0)
    return (PNG_MAGIC + chunk(b"IHDR", ihdr) + chunk(kind, b"realtime-cppn\0" + body)
            + chunk(b"IDAT", zlib.compress(b"\0" * 25)) + chunk(b"IEND", b""))


def test_deep_nesting_is_one_line_everywhere(tmp_path):
    deep_scene = {**_scene_doc(), "network": {"fit": json.loads("[" * 200 + "]" * 200)}}
    cases = {"s.json": DEEP, "t.json": "{" + '"a": {' * 5000 + "}" * 5001,
             "u.json": json.dumps(deep_scene), "bank.json": DEEP,
             "p.png": _png_with_chunk(b"tEXt", DEEP.encode())}
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        load = bank.load if name == "bank.json" else scenefile.load
        with pytest.raises(CPPNError, match="nested|not valid JSON|not a scene") as info:
            load(path)
        one_line(info)


def test_png_scene_chunks_beyond_the_text_limit_or_bombs_are_one_line(tmp_path):
    scene = Scene(network={"seed": 3}).to_json().encode()
    bomb = zlib.compress(b" " * (64 << 20), 9)  # 64 MB of spaces in about 64 KB
    cases = {
        "big text": _png_with_chunk(b"tEXt", b" " * (3 << 20) + scene),
        "ztxt bomb": _png_with_chunk(b"zTXt", b"\0" + bomb),
        "itxt bomb": _png_with_chunk(b"iTXt", b"\1\0\0\0" + bomb),
        "bad zlib": _png_with_chunk(b"zTXt", b"\0not zlib"),
        "truncated": _png_with_chunk(b"tEXt", scene)[:40],
    }
    for name, blob in cases.items():
        path = tmp_path / f"{name}.png"
        path.write_bytes(blob)
        with pytest.raises(CPPNError) as info:
            scenefile.load(path)
        one_line(info)
    ok = tmp_path / "ok.png"
    ok.write_bytes(_png_with_chunk(b"zTXt", b"\0" + zlib.compress(scene)))
    assert read_scene(ok).network == {"seed": 3}


def test_a_png_scene_claiming_9000x9000_renders_at_4096_by_default(tmp_path):
    """The pixels are never decoded to read the scene or the size; the default is capped."""
    from realtime_cppn.media.images import read_png_scene

    path = tmp_path / "huge.png"
    path.write_bytes(_png_with_chunk(b"tEXt", Scene().to_json().encode(), (9000, 6000)))
    assert read_png_scene(path)[1] == (9000, 6000)
    assert still._still_size(path) == (4096, 2731)
    assert still._still_size(None) == (1024, 1024)


@pytest.mark.parametrize(("argv", "message"), [
    (["still", "-o", "a.xyz"], "must end in .png"),
    (["still", "-o", "take.json"], "must end in .png"),
    (["still", "-o", "a" * 300 + ".png"], "longer than 255 bytes"),
    (["still", "--size", "12000x12000"], "at most 67 megapixels"),
    (["still", "--size", "16384x16384"], "at most 67 megapixels"),
    (["still", "--scene", "{dir}"], "is a folder, not a scene file"),
    (["export", "{photo}"], "is not a scene file"),
    (["export", "{scene}", "--format", "isf", "-o", "x.glsl"], "exports are written to .fs"),
    (["fit", "nothere.jpg"], "no such image file: nothere.jpg"),
    (["fit", "{photo}", "--save", "fit.txt"], "ends in .json"),
    (["fit", "{photo}", "-o", "fit.jpg"], "must end in .png"),
    (["grid", "-o", "b" * 300 + ".png"], "longer than 255 bytes"),
])
def test_cli_bad_files_and_names_are_one_line(tmp_path, capsys, monkeypatch, argv, message):
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    Image.new("RGB", (8, 8)).save(tmp_path / "photo.jpg")
    (tmp_path / "s.json").write_text(Scene(network={"width": 4, "depth": 1}).to_json())
    argv = [a.format(dir=tmp_path, photo="photo.jpg", scene="s.json") for a in argv]
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.jpg", "s.json"]


def test_an_export_never_overwrites_its_own_input(tmp_path, capsys):
    scene = tmp_path / "s.json"
    scene.write_text(Scene(network={"width": 4, "depth": 1}).to_json())
    disguised = tmp_path / "scene.frag"  # a scene under a shader's name
    disguised.write_bytes(scene.read_bytes())
    before = disguised.read_bytes()
    for argv in (["export", str(disguised), "--format", "glsl"],
                 ["export", str(disguised), "--format", "glsl", "-o", str(disguised)]):
        assert cli.main(argv) == 2
        assert "overwrite its own input" in capsys.readouterr().err
        assert disguised.read_bytes() == before


def test_textures_of_every_format_load_and_refuse_like_pngs(tmp_path):
    from PIL import Image

    rgb = (np.arange(8 * 6 * 3).reshape(6, 8, 3) * 5 % 256).astype(np.uint8)
    for fmt in ("QOI", "SGI", "PPM", "ICO", "DDS", "BMP", "TIFF"):
        path = tmp_path / f"t.{fmt.lower()}"
        Image.fromarray(rgb).save(path, format=fmt)
        tex = load_texture(path)
        assert tex.shape[2] == 4 and tex.dtype == np.uint8, fmt
        path.write_bytes(path.read_bytes()[:20])
        with pytest.raises(CPPNError) as info:
            load_texture(path)
        one_line(info)


def test_config_files_that_are_fifos_devices_or_deeply_nested_are_one_line(tmp_path):
    os.mkfifo(tmp_path / "fifo.toml")
    (tmp_path / "zero.toml").symlink_to("/dev/zero")
    (tmp_path / "deep.toml").write_text("[keys]\nr = " + DEEP)
    (tmp_path / "big.toml").write_bytes(b"#" * (2 << 20))
    names = ["fifo.toml", "zero.toml", "deep.toml", "big.toml"]
    out = run_python(f"""
        from realtime_cppn.show import keys
        from realtime_cppn.core.errors import CPPNError
        for name in {names!r}:
            try:
                keys.load_config({str(tmp_path)!r} + "/" + name)
                print("loaded")
            except CPPNError as exc:
                print("refused:", exc)
    """)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    for line, match in zip(lines, ("must be a regular file", "must be a regular file", "nested",
                                   "at most"), strict=True):
        assert line.startswith("refused:") and match in line, line


def test_performance_logs_and_midi_config_rewrites_refuse_fifos_and_devices(tmp_path):
    """The log reader (replay) and MIDI learn's config rewrite meet the same special files as
    the other readers: refused at once, the file left as it was."""
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "zero").symlink_to("/dev/zero")
    out = run_python(f"""
        from realtime_cppn.instrument import midi
        from realtime_cppn.media import perflog
        from realtime_cppn.core.errors import CPPNError
        for special in ("fifo", "zero"):
            for read in (perflog.read, lambda p: midi.save_config(p, midi.Mapping())):
                try:
                    read({str(tmp_path)!r} + "/" + special)
                    print("loaded")
                except CPPNError as exc:
                    print("refused:", exc)
    """, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 4 and all(
        line.startswith("refused:") and "must be a regular file" in line for line in lines), lines
    assert (tmp_path / "zero").is_symlink() and (tmp_path / "fifo").is_fifo()
