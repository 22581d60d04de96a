"""All-or-nothing publication: artifacts are written and verified in a staging folder, then moved into
place together.

The staging folder is a hidden child of the output folder (same file system), so every move is a
``rename``: a reader sees an old artifact or a new one, never a partial file. ``publish_all`` first
renames each existing target into ``<stage>/.old/``, then the new one into place. If any step fails
or is interrupted (a read-only or immutable sub-folder, a full disk, Ctrl-C), every move already made
is undone in reverse order, so the output folder holds exactly the previous set; on success the old
artifacts are deleted with the staging folder. No ``.export-*`` folder is left either way, except
when undoing itself failed: then the staging folder, holding the previous artifacts in ``.old/``, is
kept and named in the error.
"""

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from preprocessing.errors import FileSystemError

BACKUP = ".old"


class PublishError(FileSystemError):
    """Publication failed and could not be fully undone; the message names where the old artifacts are."""


@contextmanager
def staging_dir(out_dir: str | Path) -> Iterator[Path]:
    """A fresh hidden folder inside ``out_dir`` (created if needed), removed with what is left in it,
    unless it holds previous artifacts that could not be put back (``.old/`` not empty)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".export-", dir=out_dir))
    try:
        yield stage
    finally:
        backup = stage / BACKUP
        if not (backup.is_dir() and any(backup.iterdir())):
            shutil.rmtree(stage, ignore_errors=True)


def _fsync_files(path: Path) -> None:
    """Flush a file, or every file in a folder, to disk (so a rename never exposes unwritten data)."""
    for file in [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]:
        with open(file, "rb") as handle:
            os.fsync(handle.fileno())


def _undo(moves: list[tuple[Path | None, Path, Path | None, bool]]) -> None:
    """Put back what ``publish_all`` moved: (staged or None for a removal, target, old or None, new one
    moved in), newest first."""
    for staged, target, old, moved_in in reversed(moves):
        if moved_in and staged is not None:
            os.replace(target, staged)
        if old is not None:
            os.replace(old, target)


def publish_all(pairs: list[tuple[Path, Path]], stage: Path, removed: list[Path] | None = None) -> None:
    """Move each staged file or folder onto its target and take each ``removed`` path away (all in
    ``stage``'s file system), all or nothing: removals first, then the pairs in order.

    Raises the error that stopped it after undoing every move (PublishError when undoing failed too).
    """
    for path, _ in pairs:
        _fsync_files(path)
    backup = stage / BACKUP
    backup.mkdir()
    steps: list[tuple[Path | None, Path]] = [(None, target) for target in removed or []] + list(pairs)
    moves: list[tuple[Path | None, Path, Path | None, bool]] = []
    try:
        for index, (staged, target) in enumerate(steps):
            old = None
            if target.exists() or target.is_symlink():
                old = backup / f"{index}-{target.name}"
                os.replace(target, old)
            moves.append((staged, target, old, False))
            if staged is not None:
                os.replace(staged, target)
                moves[-1] = (staged, target, old, True)
    except BaseException as error:
        try:
            _undo(moves)
        except BaseException as undo_error:
            raise PublishError(
                f"{pairs[0][1].parent}: publishing failed ({error}) and so did putting the previous artifacts "
                f"back ({undo_error}); they are in {backup}"
            ) from error
        raise
    shutil.rmtree(backup)
