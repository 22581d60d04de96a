"""Video -> cached pose -> (NUM_FRAMES, FEATURE_DIMS) features: the one path used by training and scoring."""

import dataclasses
import logging
from pathlib import Path

import numpy as np

from preprocessing.cache import CorruptEntryError, PoseSequence, cache_key, is_pose_file, load_pose, save_pose
from preprocessing.constants import (
    DEFAULT_CACHE_DIR,
    FEATURE_DIMS,
    MIN_VISIBLE_LANDMARKS,
    NUM_FRAMES,
    TRACK_FRAMES,
    VISIBILITY_THRESHOLD,
)
from preprocessing.normalize import FEATURE_LAYOUT, NORMALIZATION, normalize_sequence
from preprocessing.pose import PoseEstimator, PoseSettings
from preprocessing.video import VideoError, read_sampled_frames

logger = logging.getLogger(__name__)


def extract_pose(
    path: str | Path, settings: PoseSettings, estimator: PoseEstimator | None = None, num: int = NUM_FRAMES
) -> PoseSequence:
    """Sample ``num`` frames of a video and run BlazePose on them (no cache).

    ``num`` other than NUM_FRAMES (a dense track) keeps each sampled frame once, so a video shorter
    than ``num`` frames gives a shorter sequence.
    """
    frames, frame_indices, total_frames = read_sampled_frames(path, num)
    if num != NUM_FRAMES:
        frame_indices, first = np.unique(frame_indices, return_index=True)
        frames = [frames[i] for i in first]
    owned = estimator is None
    estimator = PoseEstimator(settings) if owned else estimator
    try:
        landmarks, detected = estimator.estimate(frames)
    finally:
        if owned:
            estimator.close()
    height, width = frames[0].shape[:2]
    return PoseSequence(landmarks, detected, frame_indices, total_frames, aspect=width / height)


def video_pose(
    path: str | Path,
    settings: PoseSettings = PoseSettings(),
    cache_dir: str | Path | None = None,
    estimator: PoseEstimator | None = None,
) -> tuple[PoseSequence, bool]:
    """Pose sequence of a video (or of a pre-extracted ``*.pose.npz`` file), and whether it came from cache.

    Reads the cache entry when present and valid; a corrupt entry is reported (logging.warning) and
    rebuilt. ``estimator`` is reused when given (worker processes keep one), else one is made; it must
    have been built with ``settings``, which key the cache. ``cache_dir`` None: DEFAULT_CACHE_DIR.
    A ``*.pose.npz`` file is read as is (True); a corrupt one raises CorruptEntryError.
    Raises VideoError (preprocessing.video) naming the file for missing, unreadable or non-video input.
    """
    if not Path(path).is_file():
        raise VideoError(f"{path}: no such file")
    if is_pose_file(path):
        return load_pose(path), True
    return cached_pose(path, settings, cache_dir, estimator, NUM_FRAMES)


def video_track(
    path: str | Path,
    settings: PoseSettings = PoseSettings(),
    cache_dir: str | Path | None = None,
    estimator: PoseEstimator | None = None,
    num: int = TRACK_FRAMES,
) -> tuple[PoseSequence, bool]:
    """A denser pose track of a video: up to ``num`` uniformly spaced distinct frames (cached apart
    from the NUM_FRAMES entry), for temporal augmentation. A ``*.pose.npz`` file is its own track."""
    if not Path(path).is_file():
        raise VideoError(f"{path}: no such file")
    if is_pose_file(path):
        return load_pose(path), True
    return cached_pose(path, settings, cache_dir, estimator, num)


def cached_pose(
    path: str | Path, settings: PoseSettings, cache_dir: str | Path | None, estimator: PoseEstimator | None, num: int
) -> tuple[PoseSequence, bool]:
    """``extract_pose(path, settings, estimator, num)`` through the cache (rebuilding a corrupt entry)."""
    if estimator is not None and estimator.settings != settings:
        raise ValueError(f"estimator built with {estimator.settings}, but the cache is keyed by {settings}")
    kind = "" if num == NUM_FRAMES else f"track-{num}"
    entry = Path(DEFAULT_CACHE_DIR if cache_dir is None else cache_dir) / cache_key(path, settings.token(), kind)
    try:
        return load_pose(entry), True
    except FileNotFoundError:
        pass
    except CorruptEntryError as error:
        logger.warning("corrupt keypoint cache entry for %s, rebuilding it: %s", path, error)
    sequence = extract_pose(path, settings, estimator, num)
    save_pose(entry, sequence)
    return sequence, False


def sequence_features(sequence: PoseSequence) -> np.ndarray:
    """Normalised (NUM_FRAMES, FEATURE_DIMS) float32 features of a pose sequence."""
    return normalize_sequence(sequence.landmarks, sequence.detected)


def video_features(
    path: str | Path,
    settings: PoseSettings = PoseSettings(),
    cache_dir: str | Path | None = None,
    estimator: PoseEstimator | None = None,
) -> np.ndarray:
    """``sequence_features(video_pose(...))``."""
    sequence, _ = video_pose(path, settings, cache_dir, estimator)
    return sequence_features(sequence)


def preprocessing_signature(settings: PoseSettings = PoseSettings()) -> dict:
    """JSON-able description of everything that shapes the features (stored with exported models;
    a scorer refuses a model whose signature differs from its own)."""
    return {
        "num_frames": NUM_FRAMES,
        "feature_dims": FEATURE_DIMS,
        "feature_layout": FEATURE_LAYOUT,
        "visibility_threshold": VISIBILITY_THRESHOLD,
        "min_visible_landmarks": MIN_VISIBLE_LANDMARKS,
        "normalization": NORMALIZATION,
        "pose_settings": dataclasses.asdict(settings),
    }
