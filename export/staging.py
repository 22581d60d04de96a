"""Atomic publication: artifacts are written and verified in a staging folder, then moved into place.

The staging folder is a hidden child of the output folder (same file system), so each move is a
``rename``: a reader sees the old artifact or the new one, never a partial file. A file is moved with
``os.replace``; a folder (SavedModel) cannot be renamed over a non-empty one, so the old folder is
first renamed aside, the new one renamed in, and the old one deleted. If anything fails before
publication, the staging folder is deleted and the output folder is left exactly as it was.
"""

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def staging_dir(out_dir: str | Path) -> Iterator[Path]:
    """A fresh hidden folder inside ``out_dir`` (created if needed), removed with what is left in it."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".export-", dir=out_dir))
    try:
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _fsync_files(path: Path) -> None:
    """Flush a file, or every file in a folder, to disk (so a rename never exposes unwritten data)."""
    for file in [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]:
        with open(file, "rb") as handle:
            os.fsync(handle.fileno())


def publish(staged: Path, target: Path) -> None:
    """Move the staged file or folder ``staged`` to ``target`` (same file system), replacing it."""
    _fsync_files(staged)
    if not staged.is_dir():
        os.replace(staged, target)
        return
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.replace(target, old / target.name)
    os.replace(staged, target)
    if old is not None:
        shutil.rmtree(old)
