"""Video -> cached pose -> (NUM_FRAMES, FEATURE_DIMS) features: the one path used by training and scoring."""

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np

from preprocessing.cache import PoseSequence, cache_key, load_pose, read_through
from preprocessing.constants import (
    DEFAULT_CACHE_DIR,
    FEATURE_DIMS,
    MIN_VISIBLE_LANDMARKS,
    NUM_FRAMES,
    TRACK_FRAMES,
    VISIBILITY_THRESHOLD,
)
from preprocessing.files import is_pose_file, is_skeleton_file
from preprocessing.kinematics import KINEMATIC_DIMS, KINEMATIC_NAMES, NO_ARMS, kinematic_features
from preprocessing.normalize import FEATURE_LAYOUT, NORMALIZATION, normalize_sequence
from preprocessing.pose import PoseEstimator, PoseSettings
from preprocessing.skeleton3d import load_skeleton
from preprocessing.video import VideoError, read_sampled_frames, video_fps
from preprocessing.virtual_camera import skeleton_pose, split_view


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
    estimator = PoseEstimator(settings) if estimator is None else estimator
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
    num: int = NUM_FRAMES,
) -> tuple[PoseSequence, bool]:
    """Pose sequence of a video (or of a pre-extracted ``*.pose.npz`` file), and whether it came from cache.

    ``num`` other than NUM_FRAMES: a denser track (see ``video_track``), cached apart.
    Reads the cache entry when present and valid; a corrupt entry is reported (logging.warning) and
    rebuilt. ``estimator`` is reused when given (worker processes keep one), else one is made; it must
    have been built with ``settings``, which key the cache. ``cache_dir`` None: DEFAULT_CACHE_DIR.
    A ``*.pose.npz`` file is read as is (True); a corrupt one raises CorruptEntryError. A 3D skeleton
    file (``<file>[#<view>]``, see preprocessing/virtual_camera.py) is rendered through its view (True);
    a bad one raises DataValidationError.
    Raises VideoError (preprocessing.video) naming the file for missing, unreadable or non-video input.
    """
    if is_skeleton_file(path):  # a 3D skeleton seen through a virtual camera (``<file>#<view>``)
        return skeleton_pose(path, num), True
    if not Path(path).is_file():
        raise VideoError(f"{path}: {'a folder, not a video file' if Path(path).is_dir() else 'no such file'}")
    if is_pose_file(path):
        return load_pose(path), True
    return cached_pose(path, settings, cache_dir, estimator, num)


def video_track(
    path: str | Path,
    settings: PoseSettings = PoseSettings(),
    cache_dir: str | Path | None = None,
    estimator: PoseEstimator | None = None,
    num: int = TRACK_FRAMES,
) -> tuple[PoseSequence, bool]:
    """A denser pose track of a video: up to ``num`` uniformly spaced distinct frames (cached apart
    from the NUM_FRAMES entry), for temporal augmentation. A ``*.pose.npz`` file is its own track."""
    return video_pose(path, settings, cache_dir, estimator, num)


def clip_seconds(path: str | Path, sequence: PoseSequence) -> float | None:
    """Duration of a clip in seconds: its frames over its frame rate (a skeleton file's own, None when
    that is unknown; a video's reported one; DEFAULT_FPS for a pose file)."""
    if is_skeleton_file(path):
        fps = load_skeleton(split_view(path)[0]).fps
        return sequence.total_frames / fps if fps > 0 else None
    return sequence.total_frames / video_fps(path)


def cache_entry(path: str | Path, settings: PoseSettings, cache_dir: str | Path | None, num: int = NUM_FRAMES) -> Path:
    """The cache file that holds (or will hold) the pose of ``path`` sampled to ``num`` frames."""
    kind = "" if num == NUM_FRAMES else f"track-{num}"
    return Path(DEFAULT_CACHE_DIR if cache_dir is None else cache_dir) / cache_key(path, settings.token(), kind)


def cached_pose(
    path: str | Path, settings: PoseSettings, cache_dir: str | Path | None, estimator: PoseEstimator | None, num: int
) -> tuple[PoseSequence, bool]:
    """``extract_pose(path, settings, estimator, num)`` through the cache (rebuilding a corrupt entry)."""
    if estimator is not None and estimator.settings != settings:
        raise ValueError(f"estimator built with {estimator.settings}, but the cache is keyed by {settings}")
    entry = cache_entry(path, settings, cache_dir, num)
    return read_through(entry, lambda: extract_pose(path, settings, estimator, num), f"keypoint cache entry for {path}")


@dataclasses.dataclass(frozen=True)
class FeatureSet:
    """How a pose sequence becomes per-frame features: the function, the width and the layout."""

    compute: Callable[[PoseSequence], np.ndarray]
    dims: int
    layout: str


FEATURE_SETS = {
    "original": FeatureSet(lambda s: normalize_sequence(s.landmarks, s.detected), FEATURE_DIMS, FEATURE_LAYOUT),
    "kinematic": FeatureSet(
        lambda s: kinematic_features(s.landmarks, s.detected, s.aspect), KINEMATIC_DIMS, ", ".join(KINEMATIC_NAMES)
    ),
}


def combined_features(sequence: PoseSequence) -> np.ndarray:
    """``kinematic`` without its validity flag, then ``original`` (which ends with the flag)."""
    return np.concatenate(
        [FEATURE_SETS["kinematic"].compute(sequence)[:, :-1], FEATURE_SETS["original"].compute(sequence)], axis=1
    )


FEATURE_SETS["combined"] = FeatureSet(
    combined_features,
    KINEMATIC_DIMS - 1 + FEATURE_DIMS,
    f"{', '.join(KINEMATIC_NAMES[:-1])}, then {FEATURE_LAYOUT}",
)
FEATURE_SETS["kinematic_no_arms"] = FeatureSet(
    lambda s: FEATURE_SETS["kinematic"].compute(s)[:, NO_ARMS],
    len(NO_ARMS),
    ", ".join(KINEMATIC_NAMES[index] for index in NO_ARMS),
)
FeatureSetName = Literal["original", "kinematic", "combined", "kinematic_no_arms"]


def feature_set(name: str) -> FeatureSet:
    """The feature set called ``name``; ValueError listing the choices for an unknown one."""
    if name not in FEATURE_SETS:
        raise ValueError(f"unknown feature set {name!r} (choose from {', '.join(FEATURE_SETS)})")
    return FEATURE_SETS[name]


def feature_dims(name: str) -> int:
    """Features per frame of the feature set ``name`` (the model's input width)."""
    return feature_set(name).dims


def sequence_features(sequence: PoseSequence, name: str = "original") -> np.ndarray:
    """(T, feature_dims(name)) float32 features of a pose sequence; ``original`` is the seed's
    normalisation (T = NUM_FRAMES, FEATURE_DIMS = 133), ``kinematic`` the view-robust set."""
    return feature_set(name).compute(sequence)


def video_features(
    path: str | Path,
    settings: PoseSettings = PoseSettings(),
    cache_dir: str | Path | None = None,
    estimator: PoseEstimator | None = None,
    name: str = "original",
) -> np.ndarray:
    """``sequence_features(video_pose(...), name)``."""
    sequence, _ = video_pose(path, settings, cache_dir, estimator)
    return sequence_features(sequence, name)


def preprocessing_signature(settings: PoseSettings = PoseSettings(), name: str = "original") -> dict:
    """JSON-able description of everything that shapes the features (stored with exported models;
    a scorer refuses a model whose signature differs from its own)."""
    chosen = feature_set(name)
    return {
        "num_frames": NUM_FRAMES,
        "feature_set": name,
        "feature_dims": chosen.dims,
        "feature_layout": chosen.layout,
        "visibility_threshold": VISIBILITY_THRESHOLD,
        "min_visible_landmarks": MIN_VISIBLE_LANDMARKS,
        "normalization": NORMALIZATION,
        "pose_settings": dataclasses.asdict(settings),
    }
