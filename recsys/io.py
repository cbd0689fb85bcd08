"""Safe writing: outputs are built in a temporary sibling and swapped into place; nothing foreign is destroyed.

The write guarantee (documented in ``docs/guarantees.md``):

* **Never destroy what recsys did not write.** :func:`atomic_dir` writes a directory output of a
  *kind* (:data:`OUTPUT_KINDS`). An existing non-empty directory is replaced only when it is a previous
  output of the same kind (recognised by its marker file, e.g. ``manifest.json`` for a dataset) or when
  the caller passes ``overwrite=True``; otherwise :class:`OutputExistsError` is raised before anything is
  written. :func:`atomic_file` / :func:`write_json` refuse an existing file unless ``overwrite=True``.
* **No half-written output is ever visible.** Everything is written to ``.<name>.tmp-<pid>-*`` next to
  the target and renamed into place only when complete; a failure removes the temporary directory.
* **The previous output is kept until the new one is complete, and a reader never finds nothing.** On
  Linux the new and the old directory are exchanged in one atomic ``renameat2(RENAME_EXCHANGE)``; where
  that is unavailable the old output is first renamed to ``.<name>.old-<pid>-*`` and
  :func:`recover_output` (run by the next writer, and by readers that call it) puts it back if the
  writer died between the two renames.
* **Leftovers of killed runs are removed** by the next write to the same target: temporary and
  ``.old`` siblings whose owner process is gone.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class OutputExistsError(ValueError):
    """The output path holds something recsys did not write (or of another kind); nothing was written.

    The message names the path, what is there, and how to overwrite it deliberately.
    """


@dataclass(frozen=True)
class OutputKind:
    """A kind of directory output and how a previous output of that kind is recognised."""

    name: str
    marker: str
    """File at the top of the directory that every output of this kind has."""
    required_keys: tuple[str, ...] = ()
    """Keys the marker (a JSON object) must hold; empty: the marker only has to exist."""

    def recognises(self, directory: Path) -> bool:
        """Whether ``directory`` is a previous output of this kind."""
        marker = directory / self.marker
        if marker.is_symlink() or not marker.is_file():
            return False
        if not self.required_keys:
            return True
        try:
            payload = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return False
        return isinstance(payload, dict) and all(key in payload for key in self.required_keys)


OUTPUT_KINDS: dict[str, OutputKind] = {
    kind.name: kind for kind in (
        OutputKind("dataset", "manifest.json", ("format_version",)),
        OutputKind("model", "model.json", ("format_version",)),
        OutputKind("ranker", "ranker.json", ("format_version",)),
        OutputKind("report", "report.md"),
        OutputKind("recommendations", "_recommendations.json", ("format",)),
    )
}
"""Directory outputs of the package, by name (``atomic_dir(kind=...)``)."""

_TMP = ".tmp-"
_OLD = ".old-"
_OWNER = re.compile(r"^(\d+)-")


# ---------------------------------------------------------------------------------------------- directories
@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike[str], *, kind: str, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty temporary sibling directory that replaces ``target`` when the block succeeds.

    Parameters
    ----------
    target
        The output directory.
    kind
        What is written (a key of :data:`OUTPUT_KINDS`): an existing ``target`` that is a previous output
        of this kind is replaced.
    overwrite
        Also replace anything else at ``target`` (a foreign non-empty directory, a file, a symlink).

    Raises
    ------
    OutputExistsError
        ``target`` holds something else and ``overwrite`` is false; raised before the block runs, and
        again (after removing the temporary directory) if such a thing appeared while the block ran.

    Notes
    -----
    On an exception in the block the temporary directory is removed and ``target`` is left as it was.
    The old output stays in place until the new one is complete; see the module docstring.
    """
    output_kind = _output_kind(kind)
    target = Path(os.path.abspath(target))
    _make_parent(target)
    recover_output(target)
    _check_replaceable(target, output_kind, overwrite)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}{_TMP}{os.getpid()}-", dir=target.parent))
    try:
        yield tmp
        _check_replaceable(target, output_kind, overwrite)  # something may have appeared meanwhile
        _fsync_tree(tmp)
        _swap_into_place(tmp, target)
    except BaseException:
        _remove(tmp)
        raise


def recover_output(target: str | os.PathLike[str]) -> Path:
    """Repair what a killed writer left next to ``target`` and return ``target``.

    * ``target`` missing and a ``.<name>.old-*`` sibling of a dead writer present: the writer died between
      its two renames; the old output is renamed back, so nothing is lost.
    * ``.<name>.old-*`` siblings of dead writers with ``target`` present: the new output was complete;
      they are removed.
    * ``.<name>.tmp-*`` siblings of dead writers (half-written outputs): removed.

    Siblings of a live writer are left alone. Readers may call this before opening ``target``.
    """
    target = Path(os.path.abspath(target))
    if not target.parent.is_dir():
        return target
    olds = sorted(_siblings(target, _OLD), key=_mtime, reverse=True)  # newest old output first
    for old in olds:
        if _owner_alive(old, _OLD):
            continue
        if not _lexists(target):
            with contextlib.suppress(OSError):
                os.rename(old, target)
                continue
        _remove(old)
    for tmp in _siblings(target, _TMP):
        if not _owner_alive(tmp, _TMP):
            _remove(tmp)
    return target


def _output_kind(kind: str) -> OutputKind:
    if kind not in OUTPUT_KINDS:
        raise ValueError(f"kind: unknown output kind {kind!r}; known: {sorted(OUTPUT_KINDS)}")
    return OUTPUT_KINDS[kind]


def _check_replaceable(target: Path, kind: OutputKind, overwrite: bool) -> None:
    """Raise :class:`OutputExistsError` unless writing ``kind`` to ``target`` destroys nothing foreign."""
    if not _lexists(target):
        return
    if overwrite and not target.is_symlink() and target.is_dir():
        resolved, cwd = target.resolve(), Path.cwd().resolve()
        if resolved in (Path(resolved.anchor), Path.home().resolve()) or resolved == cwd or resolved in cwd.parents:
            raise OutputExistsError(f"output path {str(target)!r} is the filesystem root, the home directory "
                                    f"or holds the current directory; recsys never replaces it, even with "
                                    f"overwrite; choose a dedicated directory")
    if overwrite:
        return
    how = "pass overwrite=True (recsys-generate: overwrite=true) to replace it, or choose another path"
    if target.is_symlink():
        raise OutputExistsError(f"output path {str(target)!r} is a symlink, not a {kind.name} written by "
                                f"recsys; {how}")
    if not target.is_dir():
        raise OutputExistsError(f"output path {str(target)!r} exists and is a file, not a {kind.name} "
                                f"directory; {how}")
    if kind.recognises(target):
        return
    try:
        entries = sorted(entry.name for entry in os.scandir(target))
    except OSError as exc:
        raise OutputExistsError(f"output path {str(target)!r} cannot be listed ({exc}); {how}") from exc
    if entries:
        shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
        raise OutputExistsError(f"output path {str(target)!r} is a non-empty directory that is not a "
                                f"{kind.name} written by recsys (no valid {kind.marker}; it holds {shown}); "
                                f"{how}")


def _swap_into_place(new: Path, target: Path) -> None:
    """Put directory ``new`` at ``target``; an existing ``target`` is replaced only once ``new`` is there."""
    if not _lexists(target):
        try:
            os.rename(new, target)  # fails (ENOTEMPTY/EEXIST) rather than replace a non-empty directory
            _fsync_dir(target.parent)
            return
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
                raise
            raise OutputExistsError(f"output path {str(target)!r} appeared while writing; nothing was "
                                    f"replaced, run again") from exc
    if _exchange(new, target):  # one atomic step: `new` now holds the old output
        _fsync_dir(target.parent)
        _remove(new)
        return
    # two renames; recover_output puts the old output back if this process dies between them
    old = target.with_name(f".{target.name}{_OLD}{os.getpid()}-{uuid.uuid4().hex[:8]}")
    os.rename(target, old)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(old, target)
        raise
    _fsync_dir(target.parent)
    _remove(old)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange paths ``a`` and ``b`` (Linux ``renameat2``); ``False`` where unsupported."""
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    if renameat2(-100, os.fsencode(a), -100, os.fsencode(b), 2) == 0:  # AT_FDCWD, RENAME_EXCHANGE
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EPERM):
        return False  # filesystem or kernel without RENAME_EXCHANGE
    raise OSError(err, os.strerror(err), str(a), None, str(b))


_RENAMEAT2: list[Callable[..., int] | None] = []


def _renameat2() -> Callable[..., int] | None:
    if not _RENAMEAT2:
        function = None
        with contextlib.suppress(OSError, AttributeError, TypeError):
            libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
            function = libc.renameat2
            function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
            function.restype = ctypes.c_int
        _RENAMEAT2.append(function)
    return _RENAMEAT2[0]


# ---------------------------------------------------------------------------------------------- files
@contextlib.contextmanager
def atomic_file(target: str | os.PathLike[str], mode: str = "w", *, overwrite: bool = False,
                **open_kwargs: Any) -> Iterator[Any]:
    """Open a temporary sibling of ``target`` for writing; rename it over ``target`` on success.

    An existing ``target`` file is replaced only with ``overwrite=True`` (:class:`OutputExistsError`
    otherwise, before anything is written); a directory or symlink at ``target`` is never replaced.
    """
    target = Path(os.path.abspath(target))
    _check_file_target(target, overwrite)
    _make_parent(target)
    for tmp in _siblings(target, _TMP):
        if tmp.is_file() and not _owner_alive(tmp, _TMP):
            _remove(tmp)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}{_TMP}{os.getpid()}-", dir=target.parent)
    os.close(fd)
    try:
        with open(tmp_name, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        _check_file_target(target, overwrite)
        if overwrite:
            os.replace(tmp_name, target)
        else:
            _publish_new_file(Path(tmp_name), target)
        _fsync_dir(target.parent)
    except FileExistsError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise OutputExistsError(f"output file {str(target)!r} appeared while writing; nothing was "
                                f"replaced") from exc
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def _publish_new_file(tmp: Path, target: Path) -> None:
    """Move ``tmp`` to ``target`` only if nothing is there: a hard link fails if something appeared meanwhile
    (a filesystem without hard links falls back to a checked rename)."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise
    except OSError:
        if _lexists(target):
            raise FileExistsError(errno.EEXIST, "exists", str(target)) from None
        os.replace(tmp, target)
        return
    os.unlink(tmp)


def _check_file_target(target: Path, overwrite: bool) -> None:
    if not _lexists(target):
        return
    if target.is_symlink():
        raise OutputExistsError(f"output file {str(target)!r} is a symlink; recsys does not write through "
                                f"or replace symlinks; remove it or choose another path")
    if target.is_dir():
        raise OutputExistsError(f"output file {str(target)!r} is a directory; choose another path")
    if not overwrite:
        raise OutputExistsError(f"output file {str(target)!r} already exists; pass overwrite=True to "
                                f"replace it, or choose another path")


def write_json(path: str | os.PathLike[str], payload: Any, *, overwrite: bool = False) -> None:
    """Write ``payload`` as pretty UTF-8 JSON, atomically; an existing file only with ``overwrite=True``."""
    with atomic_file(path, "w", overwrite=overwrite, encoding="utf-8") as handle:
        json.dump(payload, handle, ensure_ascii=False, indent=2, sort_keys=True, default=str)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------- helpers
def _make_parent(target: Path) -> None:
    """Create the parent directories of ``target``; a file in the way is an :class:`OutputExistsError`."""
    for ancestor in (target.parent, *target.parent.parents):
        if _lexists(ancestor):
            if not ancestor.is_dir():
                raise OutputExistsError(f"output path {str(target)!r} cannot be created: {str(ancestor)!r} "
                                        f"is a file, not a directory")
            break
    target.parent.mkdir(parents=True, exist_ok=True)


def _lexists(path: Path) -> bool:
    return os.path.lexists(path)


def _mtime(path: Path) -> float:
    try:
        return path.lstat().st_mtime
    except OSError:
        return 0.0


def _siblings(target: Path, infix: str) -> list[Path]:
    """``.<name><infix>*`` entries next to ``target`` (temporary or old outputs of writers to it)."""
    prefix = f".{target.name}{infix}"
    try:
        return [target.parent / entry.name for entry in os.scandir(target.parent)
                if entry.name.startswith(prefix)]
    except OSError:
        return []


def _owner_alive(path: Path, infix: str) -> bool:
    """Whether the process that created the temporary/old sibling ``path`` may still be writing it.

    The owner's pid is in the name. A name without one (older recsys) counts as alive only while it is
    newer than this process. A pid that now belongs to a process started after ``path`` was created was
    reused, so the owner is gone.
    """
    suffix = path.name.split(infix, 1)[-1]
    match = _OWNER.match(suffix)
    created = _mtime(path)
    if match is None:
        return created >= _process_start(os.getpid())
    pid = int(match.group(1))
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    started = _process_start(pid)
    return started <= created + 1.0  # mtime and process start are of different clocks' resolution


def _process_start(pid: int) -> float:
    """Start time of process ``pid`` in epoch seconds (Linux ``/proc``); ``0.0`` when unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return _boot_time() + int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: starttime
    except (OSError, ValueError, IndexError):
        return _START if pid == os.getpid() else 0.0


def _boot_time() -> float:
    with open("/proc/stat", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("btime "):
                return float(line.split()[1])
    raise ValueError("no btime in /proc/stat")


_START = time.time()


def _remove(path: Path) -> None:
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    else:
        shutil.rmtree(path, ignore_errors=True)


def _fsync_tree(root: Path) -> None:
    """Flush the files of ``root`` to disk, so the swap never publishes data still in the page cache."""
    for directory, _, files in os.walk(root):
        for name in files:
            with contextlib.suppress(OSError):
                fd = os.open(os.path.join(directory, name), os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        _fsync_dir(Path(directory))


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
