"""Files: the inputs a command takes (videos, pre-extracted pose files, folders of them), atomic
writes, checks on folders a command must write into (made before any work is done), and a way to
keep native libraries' start-up chatter off the terminal."""

import hashlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from preprocessing.constants import POSE_FILE_SUFFIX, SKELETON_SUFFIXES, VIDEO_EXTENSIONS
from preprocessing.errors import FileSystemError, InputError, debugging

OUTPUT_MODE = 0o644  # outputs are shared like normal files (mkstemp would leave them private)


_file_digests: dict[tuple[str, int, int], str] = {}


class NotWritableError(FileSystemError):
    """A folder that a command must write into cannot be written; the message names the folder."""


def is_video_name(path: str | Path) -> bool:
    """Whether the file name ends in one of VIDEO_EXTENSIONS (case-insensitive)."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def is_pose_file(path: str | Path) -> bool:
    """True for a pre-extracted pose sequence (``*.pose.npz``, e.g. the demo data), read with load_pose."""
    return str(path).endswith(POSE_FILE_SUFFIX)


GENERIC_SKELETON_SUFFIX = SKELETON_SUFFIXES[1]
VIEW_SEPARATOR = "#"  # "<skeleton file>#<view>": a 3D skeleton seen through a named virtual camera


def is_skeleton_file(path: str | Path) -> bool:
    """True for a 3D skeleton file (UI-PRMD Vicon ``.txt.gz``, generic ``.skeleton.npz``), also when
    followed by ``#<view>`` (preprocessing/virtual_camera.py)."""
    return str(path).split(VIEW_SEPARATOR)[0].endswith(SKELETON_SUFFIXES)


def is_input_name(path: str | Path) -> bool:
    """Whether a file name is one the pipeline takes: a video, a pre-extracted ``*.pose.npz`` or a 3D
    skeleton."""
    return is_pose_file(path) or is_video_name(path) or is_skeleton_file(path)


def files_in(folder: Path, accept: Callable[[Path], bool] = is_input_name) -> list[Path]:
    """The files under ``folder`` (searched recursively) that ``accept`` takes, sorted."""
    return sorted(path for path in folder.rglob("*") if path.is_file() and accept(path))


def find_inputs(
    paths: Sequence[Path],
    accept: Callable[[Path], bool] = is_input_name,
    limit: int | None = None,
    refuse_empty: bool = False,
) -> list[Path]:
    """``paths`` with each folder replaced by its first ``limit`` (None: all) ``files_in`` it; other
    paths are kept as given (a missing or bad file is the reader's to report). ``refuse_empty``: an
    InputError naming a folder that holds no such file (e.g. a folder named ``clip.mp4``)."""
    found: list[Path] = []
    for path in paths:
        inside = files_in(path, accept)[:limit] if path.is_dir() else [path]
        if refuse_empty and not inside:
            raise InputError(f"{path}: a folder with no video or *.pose.npz file in it")
        found += inside
    return found


@contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """A temp file beside ``path`` for the caller to write (same suffix: writers pick the format from
    it); on a clean exit it is fsynced, made mode 0644 and ``os.replace``d over ``path``, so readers
    never see a partial file; on an error it is removed. Creates the folder if needed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{path.suffix}")
    os.close(descriptor)
    temp = Path(name)
    try:
        yield temp
        descriptor = os.open(temp, os.O_RDWR)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.chmod(temp, OUTPUT_MODE)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def check_writable(folder: str | Path, what: str) -> None:
    """Create ``folder`` if needed and write (then remove) a file in it; NotWritableError otherwise."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        descriptor, probe = tempfile.mkstemp(dir=folder, prefix=".write-check-")
        os.close(descriptor)
        os.unlink(probe)
    except OSError as error:
        raise NotWritableError(f"{folder}: {what} cannot be written ({error.strerror or error})") from None


@contextmanager
def _descriptor_2_to_devnull() -> Iterator[int]:
    """File descriptor 2 goes to /dev/null inside; yields a copy of the original one (restored after)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    try:
        yield saved
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


@contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """File descriptor 2 goes to /dev/null inside (unless FORMSCORE_DEBUG is set): TensorFlow's CUDA
    probes and absl / glog lines of TFLite and MediaPipe are written there by native code at start-up,
    before any log level applies. Python exceptions raised inside still reach the terminal."""
    if debugging():
        yield
        return
    with _descriptor_2_to_devnull():
        yield


def file_sha1(path: str | Path) -> str:
    """sha1 of a file's bytes, remembered per (absolute path, size, mtime) within a process."""
    absolute = os.path.abspath(path)
    stat = os.stat(absolute)
    identity = (absolute, stat.st_size, stat.st_mtime_ns)
    if identity not in _file_digests:
        with open(absolute, "rb") as handle:
            _file_digests[identity] = hashlib.file_digest(handle, "sha1").hexdigest()
    return _file_digests[identity]


@contextmanager
def python_stderr_only(verbose: bool = False) -> Iterator[None]:
    """Inside, file descriptor 2 goes to /dev/null for the whole run (native libraries' notes, printed
    from their own threads at any time, MediaPipe's included), while Python's ``sys.stderr`` (errors,
    warnings, tracebacks) still reaches the terminal through a copy of the original descriptor.
    Nothing changes when ``verbose``, under FORMSCORE_DEBUG, or when ``sys.stderr`` is not fd 2
    (e.g. captured by a test)."""
    try:
        real = sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):
        real = False
    if verbose or not real or debugging():
        yield
        return
    with _descriptor_2_to_devnull() as saved:
        original = sys.stderr
        sys.stderr = open(os.dup(saved), "w", buffering=1, encoding=original.encoding, errors="backslashreplace")
        try:
            yield
        finally:
            sys.stderr.flush()
            sys.stderr.close()
            sys.stderr = original
