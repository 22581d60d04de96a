"""Keypoint cache: one ``.npz`` per (video, file identity, settings), written atomically.

STUB: interface fixed by the lead; the implementation is owned by one helper.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np


class CorruptEntryError(ValueError):
    """A cache entry or pose file that cannot be read back (truncated, wrong shape, ...)."""


@dataclass(frozen=True)
class PoseSequence:
    """Raw BlazePose output for the NUM_FRAMES sampled frames of one video.

    landmarks: (NUM_FRAMES, 33, 4) float32, image coordinates as BlazePose returns them
               (x, y in 0..1, z, visibility); zeros where nothing was detected.
    detected:  (NUM_FRAMES,) bool, a person was found in that frame.
    frame_indices: (NUM_FRAMES,) int64, the sampled frame numbers.
    total_frames: frames decoded from the video.
    """

    landmarks: np.ndarray
    detected: np.ndarray
    frame_indices: np.ndarray
    total_frames: int


def cache_key(video_path: str | Path, settings_token: str) -> str:
    """File name of the entry: sha1 of the path (as the original) + sha1 of size, mtime, settings."""
    raise NotImplementedError


def save_pose(path: str | Path, sequence: PoseSequence) -> None:
    """Write ``sequence`` to ``path`` atomically (temp file in the same folder + ``os.replace``)."""
    raise NotImplementedError


def load_pose(path: str | Path) -> PoseSequence:
    """Read and validate an entry; raise CorruptEntryError naming the file and the problem."""
    raise NotImplementedError
