"""Real footage from ../shared/real_footage (team material, not shipped): BlazePose finds the person
and the pipeline gives (16, 133) features. Skips cleanly where that folder is absent."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO

from preprocessing.constants import FEATURE_DIMS, NUM_FRAMES
from preprocessing.features import sequence_features, video_pose
from preprocessing.pose import PoseEstimator, PoseSettings

FOOTAGE = REPO.parent / "shared" / "real_footage"
MIN_DETECTION_RATE = 0.9  # sampled frames with a person, over the clips below


def footage(exercise: str, count: int) -> list[Path]:
    """The first ``count`` clips of an exercise listed in the footage manifest."""
    manifest = FOOTAGE / "manifest.csv"
    if not manifest.is_file():
        pytest.skip(f"{FOOTAGE} is absent (team material, not part of the project)")
    rows = pd.read_csv(manifest)
    return [FOOTAGE / path for path in rows[rows["exercise"].str.startswith(exercise)]["path"].head(count)]


@pytest.mark.parametrize("exercise", ["squat", "pushup"])
def test_real_footage_gives_detected_16x133_features(exercise: str, tmp_path: Path) -> None:
    clips = footage(exercise, 3)
    detected = []
    with PoseEstimator(PoseSettings()) as estimator:
        for clip in clips:
            sequence, from_cache = video_pose(clip, cache_dir=tmp_path, estimator=estimator)
            features = sequence_features(sequence)
            assert not from_cache
            assert features.shape == (NUM_FRAMES, FEATURE_DIMS) and features.dtype == np.float32
            assert np.isfinite(features).all()
            assert np.array_equal(features[:, -1] > 0, sequence.detected)  # every detected frame is valid here
            detected.append(sequence.detected.mean())
    assert np.mean(detected) >= MIN_DETECTION_RATE, f"detection rate per clip: {detected}"
