"""Video -> cached pose -> (NUM_FRAMES, FEATURE_DIMS) features: the one path used by training and scoring.

STUB: interface fixed by the lead; the implementation is owned by one helper.
"""

from pathlib import Path

import numpy as np

from preprocessing.cache import PoseSequence
from preprocessing.pose import PoseEstimator, PoseSettings


def video_pose(
    path: str | Path,
    settings: PoseSettings = PoseSettings(),
    cache_dir: str | Path | None = None,
    estimator: PoseEstimator | None = None,
) -> tuple[PoseSequence, bool]:
    """Pose sequence of a video (or of a pre-extracted ``*.pose.npz`` file), and whether it came from cache.

    Reads the cache entry when present and valid; a corrupt entry is reported (logging.warning) and
    rebuilt. ``estimator`` is reused when given (worker processes keep one), else one is made.
    Raises VideoError (preprocessing.video) naming the file for unreadable / non-video input.
    """
    raise NotImplementedError


def sequence_features(sequence: PoseSequence) -> np.ndarray:
    """Normalised (NUM_FRAMES, FEATURE_DIMS) float32 features of a pose sequence."""
    raise NotImplementedError


def video_features(
    path: str | Path,
    settings: PoseSettings = PoseSettings(),
    cache_dir: str | Path | None = None,
    estimator: PoseEstimator | None = None,
) -> np.ndarray:
    """``sequence_features(video_pose(...))``."""
    raise NotImplementedError
