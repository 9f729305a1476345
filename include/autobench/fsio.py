"""Crash-safe file writes, standard library only.

Every state write goes through :func:`atomic_write`: the data goes to a temporary file in the
same folder, is flushed and fsynced, renamed over the target (atomic on POSIX), and the folder
is fsynced so the rename itself survives a power cut. A process killed at any instant leaves
either the old file or the new one, never a mix. The experiment runner imports this module
too, so it must stay free of third-party imports.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

TMP_MARKER = ".tmp-"


def fsync_dir(folder: Path) -> None:
    """fsync a directory so that a rename inside it is durable."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_path_for(path: Path) -> Path:
    """A unique temporary name beside ``path`` (hidden, marked, tied to this process)."""
    return path.with_name(f".{path.name}{TMP_MARKER}{os.getpid()}-{secrets.token_hex(4)}")


def atomic_write(path: str | os.PathLike[str], data: bytes | str, *, keep_old_as: Path | None = None) -> None:
    """Replace ``path`` with ``data`` atomically.

    ``keep_old_as``: if given and ``path`` exists, the current version is first linked (or,
    where the file system has no hard links, copied) there, so the replaced version is kept.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    tmp = temp_path_for(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if keep_old_as is not None and path.exists():
            keep(path, keep_old_as)
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        raise
    fsync_dir(path.parent)


def keep(path: Path, dest: Path) -> None:
    """Preserve the current content of ``path`` at ``dest`` (hard link, else atomic copy)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(path, dest)
    except OSError:
        atomic_write(dest, path.read_bytes())
        return
    fsync_dir(dest.parent)


def remove_stale_temps(folder: Path, name: str) -> int:
    """Delete temporary files left beside ``folder/name`` by writers that were killed.

    Call it while holding the file's lock: no live writer of that file exists then.
    """
    removed = 0
    prefix = f".{name}{TMP_MARKER}"
    try:
        entries = list(folder.iterdir())
    except FileNotFoundError:
        return 0
    for entry in entries:
        if entry.name.startswith(prefix):
            try:
                entry.unlink()
                removed += 1
            except FileNotFoundError:
                pass
    return removed
