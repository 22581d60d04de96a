"""MediaPipe BlazePose on sampled frames.

STUB: interface fixed by the lead; the implementation is owned by one helper.
"""

from dataclasses import dataclass
from typing import Literal

import numpy as np


@dataclass(frozen=True)
class PoseSettings:
    """Everything about pose estimation that changes its output (part of the cache key)."""

    model_path: str | None = None  # None: the BlazePose model shipped inside the mediapipe package
    running_mode: Literal["video", "image"] = "video"  # tracking across the sampled frames, or per image
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5

    def token(self) -> str:
        """A stable string identifying these settings (and the model file's identity) for cache keys."""
        raise NotImplementedError


class PoseEstimator:
    """One reusable BlazePose detector (create once per worker process, reuse for many videos)."""

    def __init__(self, settings: PoseSettings = PoseSettings()) -> None:
        raise NotImplementedError

    def estimate(self, frames: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """RGB uint8 frames of one video -> landmarks (n, 33, 4) float32 and detected (n,) bool."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError
