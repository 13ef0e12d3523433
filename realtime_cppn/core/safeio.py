"""Files written whole or not at all, and files read only when they are what they claim to be.

Every writer in the package goes through :func:`write_atomic`: the bytes go to a temporary file
in the target's folder, are flushed to disk, then renamed over the target. A full disk, an error
half-way or a kill leaves the file that was there whole, and a symlink at the target is replaced,
never written through. Numbered names (screenshots, exports, takes) are claimed with exclusive
creation (:func:`claim_numbered`), so two writers never share a name and a dangling link is never
followed. Readers open regular files only, without blocking, and with a size limit
(:func:`read_limited`), so a FIFO, a device or a huge file is refused before anything is read.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import CPPNError

NAME_MAX = 255  # bytes in one path component on every filesystem a show runs on
Payload = bytes | str | Callable[[BinaryIO], None]


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def check_name(path: str | Path) -> Path:
    """``path`` as a Path, refused when one of its components is longer than the OS allows."""
    path = Path(path)
    for part in path.parts:
        if len(os.fsencode(part)) > NAME_MAX:
            raise CPPNError(f"the name {part[:40]}... is longer than {NAME_MAX} bytes")
    return path


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file that becomes ``path`` when the block ends without an exception.

    The temporary name is hidden (a dot) in the target's own folder, so the rename never crosses
    a filesystem; on any error it is removed and ``path`` keeps what it held.
    """
    path = check_name(path)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:200]}.", suffix=".part", dir=folder)
    except OSError as exc:
        raise CPPNError(f"cannot write {path}: {_why(exc)}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if path.is_dir() and not path.is_symlink():
            raise CPPNError(f"cannot write {path}: it is a folder")
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; an ordinary new file is world-readable
        os.replace(tmp, path)  # a symlink at ``path`` is replaced, its target left alone
    except OSError as exc:
        _remove(tmp)
        raise CPPNError(f"cannot write {path}: {_why(exc)}") from None
    except BaseException:
        _remove(tmp)
        raise


def write_atomic(path: str | Path, data: Payload) -> Path:
    """Write ``data`` (bytes, text as UTF-8, or a function given the open file) to ``path``
    through a temporary file and a rename; returns ``path``."""
    path = Path(path)
    with atomic_file(path) as f:
        if callable(data):
            data(f)
        else:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def _remove(tmp: str | Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(tmp)


def claim_numbered(folder: str | Path, stem: str, suffix: str, limit: int = 100_000) -> Path:
    """``folder/stem-NNN.suffix`` with the first free number, created empty with O_EXCL (the
    folder is made). The caller then writes it whole with :func:`write_atomic`. A dangling
    symlink holds its number: exclusive creation never follows it."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise CPPNError(f"cannot write into {folder}: it is a file, not a folder") from None
    except OSError as exc:
        raise CPPNError(f"cannot make the folder {folder}: {_why(exc)}") from None
    if not folder.is_dir():
        raise CPPNError(f"cannot write into {folder}: it is not a folder")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    for n in range(limit):
        path = check_name(folder / f"{stem}-{n:03d}{suffix}")
        try:
            os.close(os.open(path, flags, 0o644))
        except FileExistsError:
            continue
        except OSError as exc:
            raise CPPNError(f"cannot write {path}: {_why(exc)}") from None
        return path
    raise CPPNError(f"{folder} already holds {limit} files named {stem}-NNN{suffix}")


def open_regular(path: str | Path, what: str = "file") -> BinaryIO:
    """``path`` opened for reading, refused unless it is a regular file (a FIFO or a device
    would block or never end). The open itself never blocks."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise CPPNError(f"no such {what}: {path}") from None
    except IsADirectoryError:
        raise CPPNError(f"{path} is a folder, not a {what}") from None
    except OSError as exc:
        raise CPPNError(f"cannot read {what} {path}: {_why(exc)}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise CPPNError(f"{path} is a folder, not a {what}")
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a device or socket"
        raise CPPNError(f"{path} is {kind}: a {what} must be a regular file")
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def read_limited(path: str | Path, limit: int, what: str = "file") -> bytes:
    """The bytes of a regular file no larger than ``limit``; larger files are refused before
    they are read."""
    with open_regular(path, what) as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise CPPNError(f"{path} is {size:,} bytes; a {what} is at most {limit:,}")
        data = f.read(limit + 1)  # the file may grow after the check
    if len(data) > limit:
        raise CPPNError(f"{path} is over {limit:,} bytes; a {what} is at most {limit:,}")
    return data
