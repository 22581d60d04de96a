"""Keypoint cache: one ``.npz`` per (video content, settings, entry kind), written atomically.

An entry (and a pre-extracted ``*.pose.npz`` file, same format) holds ``landmarks`` (T, 33, 4) float32,
``detected`` (T,) bool, ``frame_indices`` (T,) int64, ``total_frames`` (int64 scalar) and, from format
2 on, ``aspect`` (float32 scalar, frame width / height; 0 when unknown). T is NUM_FRAMES for the
default sampled entry and any length for a dense track (see ``preprocessing.features.video_track``).
Writes go through ``preprocessing.files.atomic_output`` (a unique temp file in the same folder, fsynced,
then ``os.replace``d over the entry), so readers never see a partial file and concurrent writers
(processes, or machines sharing one cache folder) leave one complete entry.
"""

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from preprocessing.constants import LANDMARK_DIMS, NUM_LANDMARKS
from preprocessing.errors import InputError
from preprocessing.files import atomic_output, file_sha1

FORMAT_VERSION = 2  # bump when the entry format or its meaning changes: old entries are then missed
ENTRY_LAYOUT = {  # array name -> (shape with None for the sequence length T, dtype)
    "landmarks": ((None, NUM_LANDMARKS, LANDMARK_DIMS), np.float32),
    "detected": ((None,), np.bool_),
    "frame_indices": ((None,), np.int64),
    "total_frames": ((), np.int64),
    "aspect": ((), np.float32),
}
logger = logging.getLogger(__name__)
OPTIONAL_ARRAYS = {"aspect"}  # absent in format-1 pose files (older demo data): read as 0 (unknown)
UNKNOWN_ASPECT = 0.0


class CorruptEntryError(InputError, ValueError):
    """A cache entry or pose file that cannot be read back (truncated, wrong shape, ...)."""


@dataclass(frozen=True)
class PoseSequence:
    """Raw BlazePose output for T frames of one video (T = NUM_FRAMES for the sampled entry).

    landmarks: (T, 33, 4) float32, image coordinates as BlazePose returns them
               (x, y in 0..1, z, visibility); zeros where nothing was detected.
    detected:  (T,) bool, a person was found in that frame.
    frame_indices: (T,) int64, the frame numbers, increasing.
    total_frames: frames decoded from the video.
    aspect: frame width / height (x and y are fractions of each); 0.0 when unknown.
    """

    landmarks: np.ndarray
    detected: np.ndarray
    frame_indices: np.ndarray
    total_frames: int
    aspect: float = UNKNOWN_ASPECT


def cache_key(video_path: str | Path, settings_token: str, kind: str = "") -> str:
    """File name of the entry: sha1 of the video's bytes + sha1 of (settings, kind, FORMAT_VERSION).

    Keyed by content, not path: the same video listed from another CSV, folder or machine shares one
    entry, and a rewritten file gets a new one. ``kind`` names a non-default entry (e.g. a dense
    track, ``"track-2"``). Raises FileNotFoundError when the video does not exist.
    """
    settings_hash = hashlib.sha1(f"{settings_token}|{kind}|{FORMAT_VERSION}".encode()).hexdigest()[:16]
    return f"{file_sha1(video_path)}_{settings_hash}.npz"


def _arrays(sequence: PoseSequence) -> dict[str, np.ndarray]:
    return {
        "landmarks": np.asarray(sequence.landmarks, dtype=np.float32),
        "detected": np.asarray(sequence.detected, dtype=bool),
        "frame_indices": np.asarray(sequence.frame_indices, dtype=np.int64),
        "total_frames": np.asarray(sequence.total_frames, dtype=np.int64),
        "aspect": np.asarray(sequence.aspect, dtype=np.float32),
    }


def _problem(arrays: dict[str, np.ndarray]) -> str | None:
    """What is wrong with the arrays of an entry, or None when they form a valid PoseSequence."""
    if not set(ENTRY_LAYOUT) - OPTIONAL_ARRAYS <= set(arrays) <= set(ENTRY_LAYOUT):
        return f"arrays {sorted(arrays)}, expected {sorted(ENTRY_LAYOUT)}"
    length = arrays["landmarks"].shape[0] if isinstance(arrays["landmarks"], np.ndarray) else 0
    for name, (shape, dtype) in ENTRY_LAYOUT.items():
        if name not in arrays:
            continue
        if not isinstance(arrays[name], np.ndarray):
            return f"'{name}' is not an array"
        expected = tuple(length if size is None else size for size in shape)
        if arrays[name].shape != expected or arrays[name].dtype != dtype:
            return f"'{name}' is {arrays[name].dtype} {arrays[name].shape}, expected {np.dtype(dtype)} {expected}"
    if length < 1:
        return "no frames"
    if not np.isfinite(arrays["landmarks"]).all():
        return "landmarks contain NaN or infinity"
    total = int(arrays["total_frames"])
    indices = arrays["frame_indices"]
    if total < 1 or indices.min() < 0 or indices.max() >= total or (np.diff(indices) < 0).any():
        return f"frame_indices {indices.min()}..{indices.max()} are not increasing within total_frames={total}"
    if "aspect" in arrays and not (np.isfinite(arrays["aspect"]) and arrays["aspect"] >= 0):
        return f"aspect {arrays['aspect']} is not a finite number >= 0"
    return None


def save_pose(path: str | Path, sequence: PoseSequence) -> None:
    """Write ``sequence`` to ``path`` atomically (``atomic_output``).

    Creates the folder if needed; raises ValueError (naming ``path``) for a malformed sequence.
    """
    path = Path(path)
    arrays = _arrays(sequence)
    problem = _problem(arrays)
    if problem is not None:
        raise ValueError(f"refusing to write {path}: {problem}")
    with atomic_output(path) as temp, open(temp, "wb") as handle:
        np.savez(handle, **arrays)


def _read_npz(path: Path) -> dict[str, np.ndarray] | None:
    """Every array of an ``.npz`` file, or None when the file is a bare ``.npy`` array."""
    loaded = np.load(path, allow_pickle=False)
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        return None
    with loaded:
        return {name: loaded[name] for name in loaded.files}


def load_pose(path: str | Path) -> PoseSequence:
    """Read and validate an entry; raise CorruptEntryError naming the file and the problem.

    A missing file raises FileNotFoundError (a cache miss, not a corrupt entry).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such pose file")
    try:
        arrays = _read_npz(path)
    except FileNotFoundError:  # removed since the check above: still a miss
        raise
    except Exception as error:  # damaged bytes raise many types (fuzzing: BadZipFile, TokenError, ...)
        raise CorruptEntryError(f"{path}: unreadable ({type(error).__name__}: {error})") from None
    if arrays is None:
        raise CorruptEntryError(f"{path}: not an .npz archive")
    problem = _problem(arrays)
    if problem is not None:
        raise CorruptEntryError(f"{path}: {problem}")
    return PoseSequence(
        landmarks=arrays["landmarks"],
        detected=arrays["detected"],
        frame_indices=arrays["frame_indices"],
        total_frames=int(arrays["total_frames"]),
        aspect=float(arrays.get("aspect", UNKNOWN_ASPECT)),
    )


def read_through(entry: str | Path, build: Callable[[], PoseSequence], what: str) -> tuple[PoseSequence, bool]:
    """The sequence stored in ``entry``, else ``build()``'s, stored there; and whether it came from the
    cache. A corrupt entry is reported (logging.warning naming ``what``) and rebuilt."""
    try:
        return load_pose(entry), True
    except FileNotFoundError:
        pass
    except CorruptEntryError as error:
        logger.warning("corrupt %s, rebuilding it: %s", what, error)
    sequence = build()
    save_pose(entry, sequence)
    return sequence, False
