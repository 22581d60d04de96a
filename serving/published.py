"""Crash-atomic publication of an artifact set (the export writes it, a scorer reads and repairs it):
an export becomes visible with one ``rename``, or not at all.

Layout of an output folder (``checkpoints/``)::

    .versions/<id>/              one complete artifact set per export (files written, verified, fsynced)
    .current -> .versions/<id>   the pointer: the set scorers read
    .previous -> .versions/<id>  the set before it (a scorer that opened it a moment ago still finds it)
    squat_scorer.onnx -> .current/squat_scorer.onnx     every published name: a link through the pointer
    model.keras -> .current/model.keras                 (shared names too: model.keras, score_scale.txt)

An export writes its artifacts straight into a fresh ``.versions/<id>/`` (``new_version``), then
``publish`` runs ``publication_steps``: (1) adopt the names it publishes that are still plain files
of an older formscore (a version = the current one + those files, pointed to, then each name made a
link to the same bytes), (2) hard-link into the new version what the current one holds and this
export does not replace (other exercises' models), (3) fsync, (4) create the links of new names
(dangling until the switch: the name is absent, as in the old set), (5) ``.previous``, (6) **switch**
``.current`` with one ``os.replace``, (7) drop links to names the new set lacks, (8) remove dead
versions. Each step is one or a few system calls; before step 6 every name reads the old set, after
it the new one, so a SIGKILL or a power cut at any instant leaves old-or-new (tests/test_hostile.py
kills a process after every step). What a dead run left (an unpointed version, a dangling link, an
``.export-*`` staging folder of an older formscore, whose stranded previous artifacts are put back
where their name is empty) is removed by the next export, or by a scorer
that finds the folder writable and unlocked (``repair``). Everything happens under the folder's lock
(``preprocessing.locks``): one writer at a time. Adopting a plain *folder* (an old SavedModel):
a link cannot be renamed over a folder, so the two are swapped with ``renameat2(RENAME_EXCHANGE)``
(Linux); where that is missing, the name is absent for the instant between two renames.
"""

import ctypes
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from preprocessing.locks import try_lock

VERSIONS = ".versions"
CURRENT = ".current"
PREVIOUS = ".previous"
LEGACY_STAGING = ".export-"  # formscore's staging folders before versions (export/staging.py)
TEMP_LINK = re.compile(r".+\.\d+\.tmp")  # temp links (and swapped-out folders): ``<name>.<pid>.tmp``


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _fsync_tree(path: Path) -> None:
    """Flush a file, or a folder's files and folders, to disk (a switch never exposes unwritten data)."""
    for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
        if item.is_dir():
            _fsync_dir(item)
        else:
            with open(item, "rb") as handle:
                os.fsync(handle.fileno())


def _link_tree(source: Path, target: Path) -> None:
    """``target`` as a hard-linked copy of the file or folder ``source`` (a plain copy where links fail)."""
    if source.is_dir():
        shutil.copytree(source, target, copy_function=_link_or_copy)
    else:
        _link_or_copy(source, target)


def _link_or_copy(source: str | Path, target: str | Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _point(link: Path, target: str) -> None:
    """Make ``link`` a symlink to ``target`` with one ``os.replace`` (atomic; readers see old or new)."""
    temp = link.with_name(f"{link.name}.{os.getpid()}.tmp")
    temp.unlink(missing_ok=True)
    os.symlink(target, temp)
    os.replace(temp, link)


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one system call (Linux ``renameat2(RENAME_EXCHANGE)``); False where the
    system or file system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_cwd, exchange = -100, 2  # AT_FDCWD, RENAME_EXCHANGE
    return renameat2(at_cwd, os.fsencode(first), at_cwd, os.fsencode(second), exchange) == 0


def _swap_in_link(folder: Path, target: str) -> None:
    """Replace the plain folder ``folder`` by a symlink to ``target``: atomically where ``_exchange``
    works, else by two renames (the name is absent between them)."""
    temp = folder.with_name(f"{folder.name}.{os.getpid()}.tmp")
    _remove(temp)
    os.symlink(target, temp)
    if not _exchange(temp, folder):
        temp.unlink()
        os.rename(folder, temp)
        os.symlink(target, folder)
    shutil.rmtree(temp)  # the old folder, now under the temp name


def pointed(out_dir: Path, pointer: str) -> Path | None:
    """The version folder a pointer names, or None when there is none (or it is not a link)."""
    link = out_dir / pointer
    if not link.is_symlink():
        return None
    target = out_dir / os.readlink(link)
    return target if target.is_dir() else None


def _is_plain(path: Path) -> bool:
    """Whether ``path`` is a plain file or folder (an older formscore's artifact), not a link."""
    return path.exists() and not path.is_symlink()


def _is_name_link(path: Path) -> bool:
    """Whether ``path`` is one of the published names: a link through the pointer."""
    return path.is_symlink() and os.readlink(path) == f"{CURRENT}/{path.name}"


@contextmanager
def new_version(out_dir: str | Path) -> Iterator[Path]:
    """A fresh, empty ``.versions/<id>/`` to write an export into; removed unless published."""
    versions = Path(out_dir) / VERSIONS
    versions.mkdir(parents=True, exist_ok=True)
    version = versions / Path(tempfile.mkdtemp(prefix="v-", dir=versions)).name  # as out_dir is: 3.12's is absolute
    version.chmod(0o755)  # shared like the artifacts in it (mkdtemp makes it private)
    try:
        yield version
    finally:
        if pointed(Path(out_dir), CURRENT) != version:
            shutil.rmtree(version, ignore_errors=True)
            if not any(versions.iterdir()):  # the first export into this folder failed: leave no trace
                versions.rmdir()


def _adopt(out_dir: Path, legacy: list[str]) -> Iterator[str]:
    """Steps that move plain (pre-version) files at ``legacy`` names under the pointer, bytes unchanged."""
    versions = out_dir / VERSIONS
    version = versions / Path(tempfile.mkdtemp(prefix="v-", dir=versions)).name  # as out_dir is: 3.12's is absolute
    version.chmod(0o755)  # shared like the artifacts in it (mkdtemp makes it private)
    current = pointed(out_dir, CURRENT)
    for item in current.iterdir() if current else ():
        if item.name not in legacy:
            _link_tree(item, version / item.name)
    for name in legacy:
        _link_tree(out_dir / name, version / name)
    _fsync_tree(version)
    yield f"adopt: built {version.name}"
    _point(out_dir / CURRENT, f"{VERSIONS}/{version.name}")
    yield "adopt: switched"
    for name in legacy:
        path = out_dir / name
        if path.is_dir():  # a link cannot be renamed over a folder: swapped with it instead
            _swap_in_link(path, f"{CURRENT}/{name}")
        else:
            _point(path, f"{CURRENT}/{name}")
        yield f"adopt: linked {name}"


def publication_steps(out_dir: str | Path, version: Path, removed: Iterable[str] = ()) -> Iterator[str]:
    """Publish the complete set in ``version`` (a folder made by ``new_version``), keeping what the
    current set holds that ``version`` does not, except the names in ``removed``; one yield after
    each step (see the module docstring). The caller holds the folder's lock."""
    out_dir = Path(out_dir)
    removed = set(removed)
    names = sorted(item.name for item in version.iterdir())
    yield from repair_steps(out_dir, keep=version)
    legacy = [name for name in [*names, *sorted(removed)] if _is_plain(out_dir / name)]
    if legacy:
        yield from _adopt(out_dir, legacy)
    current = pointed(out_dir, CURRENT)
    for item in sorted(current.iterdir()) if current else ():
        if item.name not in names and item.name not in removed:
            _link_tree(item, version / item.name)
    _fsync_tree(version)
    _fsync_dir(version.parent)
    yield "carried over and flushed"
    for name in names:
        if not _is_name_link(out_dir / name):
            _point(out_dir / name, f"{CURRENT}/{name}")
            yield f"linked {name}"
    if current is not None:
        _point(out_dir / PREVIOUS, f"{VERSIONS}/{current.name}")
        yield "previous"
    _point(out_dir / CURRENT, f"{VERSIONS}/{version.name}")
    _fsync_dir(out_dir)
    yield "switched"
    yield from repair_steps(out_dir)


def repair_steps(out_dir: Path, keep: Path | None = None) -> Iterator[str]:
    """Remove what dead runs left: versions no pointer names (but ``keep``), links to names the
    current set lacks, older formscore's ``.export-*`` staging folders and stray pointer temp links."""
    live = {pointed(out_dir, CURRENT), pointed(out_dir, PREVIOUS), keep}
    for pointer in (CURRENT, PREVIOUS):  # e.g. a copy made with links followed: a folder, not a pointer
        path = out_dir / pointer
        if path.exists() and not path.is_symlink():
            os.rename(path, out_dir / VERSIONS / f"dead-{pointer[1:]}-{os.getpid()}")
            yield f"removed a copied {pointer}"
    for version in sorted((out_dir / VERSIONS).iterdir()) if (out_dir / VERSIONS).is_dir() else ():
        if version not in live:
            _remove(version)
            yield f"removed dead {version.name}"
    for item in sorted(out_dir.iterdir()):
        if item.name.startswith(LEGACY_STAGING) and item.is_dir():
            yield from _restore_stranded(out_dir, item / ".old")
        dead_link = _is_name_link(item) and not item.exists()
        stray_temp = TEMP_LINK.fullmatch(item.name) is not None and (item.is_symlink() or item.is_dir())
        staging = item.name.startswith(LEGACY_STAGING) and item.is_dir() and not any((item / ".old").glob("*"))
        if dead_link or stray_temp or staging:
            _remove(item)
            yield f"removed {item.name}"


def _restore_stranded(out_dir: Path, backup: Path) -> Iterator[str]:
    """Put back the previous artifacts an older formscore's killed export left in ``.export-*/.old/``
    (named ``<index>-<name>``) where their name is now empty; the rest stays there, named nowhere."""
    for old in sorted(backup.iterdir()) if backup.is_dir() else ():
        target = out_dir / old.name.partition("-")[2]
        if not target.exists() and not target.is_symlink():
            os.rename(old, target)
            yield f"restored {target.name} from {backup}"


def publish(out_dir: str | Path, version: Path, removed: Iterable[str] = ()) -> None:
    """Run every step of ``publication_steps`` (the caller holds the folder's lock)."""
    for _ in publication_steps(out_dir, version, removed):
        pass


def repair(out_dir: str | Path) -> None:
    """``repair_steps`` when ``out_dir`` can be locked at once (no live export there) and written;
    else nothing: a scorer never waits for, or fails on, a clean-up."""
    out_dir = Path(out_dir)
    if not ((out_dir / VERSIONS).is_dir() or any(out_dir.glob(f"{LEGACY_STAGING}*"))):
        return  # nothing any export of ours could have left
    lock = try_lock(out_dir)
    if lock is None:
        return
    try:
        for _ in repair_steps(out_dir):
            pass
    except OSError:
        pass  # a read-only folder: the dead version stays, and harms nothing (no pointer names it)
    finally:
        lock.release()
