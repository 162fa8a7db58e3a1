"""State on disk that survives a crash or a full disk: private folders, atomic writes.

A state file is either the old version or the new one, never half of each: it is
written to a temporary file beside it, flushed to disk, then renamed over the old one
(a rename within a folder is atomic). A write that fails (disk full) leaves the old
file as it was and raises.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """`path` (and its missing parents) as a folder only its owner can enter (0700).

    The harness's state holds credentials and the records of its processes. A folder
    that already exists with wider permissions is narrowed when it is ours and not a
    shared one (a sticky folder such as /tmp is left alone).
    """
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    info = path.stat()
    shared = info.st_mode & stat.S_ISVTX or info.st_uid != os.getuid()
    if not shared and stat.S_IMODE(info.st_mode) != PRIVATE_DIR_MODE:
        path.chmod(PRIVATE_DIR_MODE)
    return path


def private_subdir(root: Path, relative: str | Path) -> Path:
    """`root / relative`, with `root` and every folder from it down private (0700).

    `Path.mkdir(parents=True, mode=...)` gives the parents it creates default
    permissions; a state folder made on the way to one of its subfolders must not be.
    """
    path = private_dir(root)
    for part in Path(relative).parts:
        path = private_dir(path / part)
    return path


def atomic_write_text(path: Path, text: str, mode: int = PRIVATE_FILE_MODE) -> None:
    """Replace `path` with `text` all at once, durably; on failure `path` is untouched."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
