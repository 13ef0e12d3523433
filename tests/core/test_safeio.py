"""safeio: atomic writes, exclusive numbered names, and readers that refuse special files."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from realtime_cppn.core.errors import CPPNError
from realtime_cppn.core.safeio import check_name, claim_numbered, read_limited, write_atomic


def test_a_write_that_fails_half_way_leaves_the_old_file_whole(tmp_path):
    target = tmp_path / "art.png"
    target.write_bytes(b"old picture")

    def half(f):
        f.write(b"new bytes")
        raise OSError(28, "No space left on device")

    with pytest.raises(CPPNError, match="No space left on device"):
        write_atomic(target, half)
    assert target.read_bytes() == b"old picture"
    assert os.listdir(tmp_path) == ["art.png"]  # no temporary file left behind


def test_a_full_disk_leaves_the_old_file_whole(tmp_path):
    # RLIMIT_FSIZE makes the kernel refuse writes past 4 KB (EFBIG), as a full disk refuses them.
    target = tmp_path / "scene.json"
    target.write_text("{}")
    code = textwrap.dedent(f"""
        import resource, signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        from realtime_cppn.core.errors import CPPNError
        from realtime_cppn.core.safeio import write_atomic
        try:
            write_atomic({str(target)!r}, b"x" * 100_000)
        except CPPNError as exc:
            print("refused:", exc)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("refused: cannot write"), out
    assert target.read_text() == "{}"
    assert os.listdir(tmp_path) == ["scene.json"]


def test_a_symlink_at_the_target_is_replaced_not_written_through(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    link = tmp_path / "cppn.png"
    link.symlink_to(victim)
    write_atomic(link, b"png bytes")
    assert victim.read_text() == "keep me"
    assert not link.is_symlink() and link.read_bytes() == b"png bytes"


def test_new_files_are_world_readable_like_any_other(tmp_path):
    path = write_atomic(tmp_path / "a.txt", "text")
    assert path.stat().st_mode & 0o777 == 0o644


def test_numbered_names_skip_taken_and_dangling_links(tmp_path):
    (tmp_path / "shot-000.png").write_bytes(b"")
    (tmp_path / "shot-001.png").symlink_to(tmp_path / "elsewhere" / "target.png")
    path = claim_numbered(tmp_path, "shot", ".png")
    assert path.name == "shot-002.png" and path.exists()
    assert not (tmp_path / "elsewhere").exists()  # the dangling link was never followed
    assert claim_numbered(tmp_path, "shot", ".png").name == "shot-003.png"


def test_a_file_where_the_folder_should_be_is_one_clear_error(tmp_path):
    (tmp_path / "shots").write_text("a file")
    with pytest.raises(CPPNError, match="not a folder"):
        claim_numbered(tmp_path / "shots", "shot", ".png")


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "weights.npz"
    os.mkfifo(fifo)
    with pytest.raises(CPPNError, match="must be a regular file"):
        read_limited(fifo, 1000, "weights file")


def test_a_device_and_a_link_to_it_are_refused(tmp_path):
    link = tmp_path / "bank.json"
    link.symlink_to("/dev/zero")
    for path in ("/dev/zero", link):
        with pytest.raises(CPPNError, match="must be a regular file"):
            read_limited(path, 1000, "bank")


def test_files_over_the_limit_are_refused_before_reading(tmp_path):
    big = tmp_path / "big.json"
    big.write_bytes(b"x" * 2000)
    with pytest.raises(CPPNError, match="at most 1,000"):
        read_limited(big, 1000, "scene")
    assert read_limited(big, 2000) == b"x" * 2000


def test_missing_files_and_folders_read_as_one_line(tmp_path):
    with pytest.raises(CPPNError, match="no such scene"):
        read_limited(tmp_path / "nothere.json", 10, "scene")
    with pytest.raises(CPPNError, match="is a folder"):
        read_limited(tmp_path, 10, "scene")


def test_names_longer_than_the_os_allows_are_refused(tmp_path):
    with pytest.raises(CPPNError, match="longer than 255 bytes"):
        check_name(tmp_path / ("a" * 300 + ".png"))
    with pytest.raises(CPPNError, match="longer than 255 bytes"):
        write_atomic(tmp_path / ("b" * 256), b"")
