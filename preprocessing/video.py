"""Frame sampling: NUM_FRAMES uniformly spaced frames of a video, read in one sequential pass.

STUB: interface fixed by the lead; the implementation is owned by one helper.
"""

from pathlib import Path

import numpy as np

from preprocessing.constants import NUM_FRAMES


class VideoError(ValueError):
    """A file that is missing, not a video, or has no decodable frame; the message names the file."""


def sample_indices(total_frames: int, num: int = NUM_FRAMES) -> np.ndarray:
    """``linspace(0, total_frames - 1, num)`` truncated to int, as the original computes them."""
    raise NotImplementedError


def read_sampled_frames(path: str | Path, num: int = NUM_FRAMES) -> tuple[list[np.ndarray], np.ndarray, int]:
    """RGB uint8 frames at ``sample_indices(true frame count)``, those indices, and the true frame count."""
    raise NotImplementedError
