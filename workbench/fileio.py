"""Crash-safe file writes (a reader sees the old file or the new one, never a torn one), and the
version token that lets a save refuse to overwrite a file changed since it was read."""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from workbench.errors import WriteRefused

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"),
          (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"))


def write_target(path: str | os.PathLike) -> Path:
    """Where a write to `path` must land: the final target of a symlink (so the real file is
    updated and the link kept), after refusing anything that exists and is not a regular file.

    Replacing a FIFO, a device or `/dev/stdout` by a new regular file would leave the real one
    unchanged (or, as root, replace a device node), so `WriteRefused` says so instead.
    """
    real = Path(os.path.realpath(path))
    try:
        mode = os.stat(path).st_mode  # follows links: a pipe behind /dev/stdout is seen as one
    except FileNotFoundError:
        return real
    except OSError as exc:
        raise WriteRefused(f"{path}: cannot write it ({exc.strerror})") from None
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
        raise WriteRefused(f"{path} is {kind}, not a regular file; write to a file path instead")
    return real


@contextlib.contextmanager
def locked(folder: str | os.PathLike, *, blocking: bool = True) -> Iterator[bool]:
    """Hold an exclusive lock on `folder` (flock on the folder itself: no lock file to leave
    behind, and it works in a read-only folder) for a read-modify-write of a file in it.

    Yields whether this process holds the lock. With `blocking=True` (the default) it waits for
    the lock and yields True. With `blocking=False` it does not wait: when another holder has the
    lock it yields False at once, and the body runs without the lock, so it must check:

        with locked(folder, blocking=False) as held:
            if not held:
                return  # someone else is at it

    flock locks belong to an open file, so two holders in one process exclude each other too.
    The lock is released when the block ends (or the process dies). On Windows there is no
    flock: it yields True without locking (the version checks alone still catch a concurrent
    change of a note or the catalog).
    """
    try:
        import fcntl
    except ImportError:
        yield True
        return
    fd = os.open(folder, os.O_RDONLY)  # not inherited by children (PEP 446): they never hold it
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
            held = True
        except BlockingIOError:
            held = False
        yield held
    finally:
        os.close(fd)  # closing releases the lock


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> os.stat_result:
    """Write `data` to `path` via a temp file in the same folder, fsync, then rename.

    `os.replace` is atomic on POSIX and Windows, so a crash (even SIGKILL) at any moment leaves
    either the previous content or the new content at `path`. A symlink is written through to
    its target; a FIFO, device or folder is refused (`write_target`). Returns the written
    file's stat, taken before the rename: what is at `path` a moment later may already be
    someone else's.
    """
    path = write_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes 0600 files; keep the old file's mode, or the usual umask-based one
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
            written = os.fstat(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
    return written


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def version_of(data: bytes) -> str:
    """A file's version token: sha256 of its bytes (hex)."""
    return hashlib.sha256(data).hexdigest()


def read_if_present(path: Path, error: type[Exception]) -> bytes | None:
    """The file's bytes, None if it does not exist; any other failure raises `error` (one line)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise error(f"{path}: cannot read it ({exc.strerror})") from None


_cache_write_failed: set[str] = set()  # reasons already warned about, once per process


def write_cache_bytes(path: str | os.PathLike, data: bytes) -> bool:
    """Write a cache file (`.workbench/...`) atomically if we can; False if we cannot.

    A cache only saves time, so a read-only workspace (EROFS, EACCES), a full disk or a cache
    path that is not a regular file must not fail the command that wanted to keep a result:
    the first failure of each kind is logged as a warning, the rest at debug level.
    """
    import logging

    try:
        atomic_write_bytes(path, data)
        return True
    except (OSError, WriteRefused) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        level = logging.DEBUG if reason in _cache_write_failed else logging.WARNING
        _cache_write_failed.add(reason)
        logging.getLogger(__name__).log(level, "not caching %s (%s); carrying on without the "
                                        "cache", path, reason)
        return False
