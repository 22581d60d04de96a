"""Augmentation of raw poses and the kinematic feature set: invariances, shapes, validity flags."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from preprocessing.augment import (
    MIRROR_PERMUTATION,
    AugmentationConfig,
    augment,
    drop_frames,
    jitter,
    mirror,
    resample,
    similarity,
)
from preprocessing.cache import PoseSequence
from preprocessing.constants import NUM_FRAMES
from preprocessing.features import feature_dims, sequence_features
from preprocessing.kinematics import KINEMATIC_DIMS, KINEMATIC_NAMES, NO_ARMS
from preprocessing.landmarks import ELBOW, SHOULDER, WRIST
from preprocessing.normalize import valid_frames

LEFT_WRIST, RIGHT_WRIST = 15, 16


def pose(
    length: int = NUM_FRAMES, seed: int = 0, aspect: float = 16 / 9, missing: tuple[int, ...] = (3,)
) -> PoseSequence:
    """A plausible side-view push-up: body roughly horizontal, arms bending, some frames missing."""
    rng = np.random.default_rng(seed)
    landmarks = np.zeros((length, 33, 4), np.float32)
    phase = np.sin(np.linspace(0, np.pi, length))
    for t in range(length):
        base = np.array([0.3, 0.55]) + rng.normal(0, 0.01, 2)
        points = base + np.stack([np.linspace(0, 0.4, 33), 0.05 * np.sin(np.arange(33)) - 0.08 * phase[t]], 1)
        landmarks[t, :, :2] = points + rng.normal(0, 0.005, (33, 2))
        landmarks[t, :, 2] = rng.normal(0, 0.1, 33)
        landmarks[t, :, 3] = rng.uniform(0.3, 1.0, 33)
    detected = np.ones(length, bool)
    detected[list(missing)] = False
    landmarks[~detected] = 0.0
    return PoseSequence(landmarks, detected, np.arange(length) * 3, (length - 1) * 3 + 1, aspect)


def test_mirror_twice_is_the_identity_and_swaps_left_and_right():
    sequence = pose()
    once, twice = mirror(sequence), mirror(mirror(sequence))
    np.testing.assert_allclose(twice.landmarks, sequence.landmarks, atol=1e-6)
    valid = sequence.detected
    np.testing.assert_allclose(
        once.landmarks[valid, LEFT_WRIST, 0], 1 - sequence.landmarks[valid, RIGHT_WRIST, 0], atol=1e-6
    )
    np.testing.assert_array_equal(once.landmarks[valid, LEFT_WRIST, 1:], sequence.landmarks[valid, RIGHT_WRIST, 1:])
    assert sorted(MIRROR_PERMUTATION) == list(range(33))
    assert (MIRROR_PERMUTATION[MIRROR_PERMUTATION] == np.arange(33)).all()
    assert not once.landmarks[~valid].any(), "frames without a person stay empty"


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_every_augmentation_keeps_shapes_and_validity(seed):
    sequence = pose(seed=seed)
    rng = np.random.default_rng(seed)
    transformed = [
        mirror(sequence),
        similarity(sequence, 0.2, 1.1, (0.03, -0.02)),
        jitter(sequence, 0.01, rng),
        resample(pose(48, seed), rng),
        augment(pose(48, seed), AugmentationConfig(0.5, 10, 0.1, 0.05, 0.005, 0.0, True), rng),
    ]
    for result in transformed:
        assert result.landmarks.shape == (NUM_FRAMES, 33, 4) and result.landmarks.dtype == np.float32
        assert result.detected.shape == (NUM_FRAMES,)
        assert (np.diff(result.frame_indices) >= 0).all()
        for name in ("original", "kinematic"):
            features = sequence_features(result, name)
            assert np.isfinite(features).all()
            np.testing.assert_array_equal(features[:, -1], valid_frames(result.landmarks, result.detected))
    for result in transformed[:3]:  # frame-preserving transforms keep the validity flags exactly
        np.testing.assert_array_equal(result.detected, sequence.detected)
        np.testing.assert_array_equal(sequence_features(result)[:, -1], sequence_features(sequence)[:, -1])


def test_frame_dropout_only_clears_frames_and_keeps_one():
    sequence = pose()
    dropped = drop_frames(sequence, 0.5, np.random.default_rng(1))
    assert not (dropped.detected & ~sequence.detected).any() and 0 < dropped.detected.sum() < sequence.detected.sum()
    assert not dropped.landmarks[~dropped.detected].any()
    assert drop_frames(sequence, 1.0, np.random.default_rng(1)).detected.sum() == 1


def test_resample_without_rng_is_the_default_sampling_and_with_rng_spans_most_of_the_video():
    track = pose(48)
    default = resample(track, None)
    expected = np.linspace(0, track.total_frames - 1, NUM_FRAMES)
    assert np.abs(default.frame_indices - expected).max() <= 1.5  # nearest of frames 3 apart
    spans = [np.ptp(resample(track, np.random.default_rng(s)).frame_indices) for s in range(50)]
    assert min(spans) >= 0.7 * track.total_frames and len(set(spans)) > 5


def test_inactive_config_changes_nothing():
    sequence = pose()
    assert not AugmentationConfig().active
    sample = augment(sequence, AugmentationConfig(), np.random.default_rng(0))
    np.testing.assert_array_equal(sample.landmarks, sequence.landmarks)


def test_kinematic_features_ignore_mirror_position_and_size():
    sequence = pose()
    features = sequence_features(sequence, "kinematic")
    assert features.shape == (NUM_FRAMES, KINEMATIC_DIMS) and len(KINEMATIC_NAMES) == KINEMATIC_DIMS
    np.testing.assert_allclose(sequence_features(mirror(sequence), "kinematic"), features, atol=1e-5)
    moved = similarity(sequence, 0.0, 0.7, (0.1, -0.05))
    np.testing.assert_allclose(sequence_features(moved, "kinematic"), features, atol=1e-4)
    original = sequence_features(sequence, "original")
    assert np.abs(sequence_features(mirror(sequence), "original") - original).max() > 0.1  # the seed's is not


def test_kinematic_no_arms_is_kinematic_without_the_arm_columns_and_ignores_the_arms():
    sequence = pose()
    full, legs = sequence_features(sequence, "kinematic"), sequence_features(sequence, "kinematic_no_arms")
    assert legs.shape == (NUM_FRAMES, feature_dims("kinematic_no_arms")) == (NUM_FRAMES, KINEMATIC_DIMS - 12)
    np.testing.assert_array_equal(legs, full[:, NO_ARMS])
    kept = [KINEMATIC_NAMES[index] for index in NO_ARMS]
    assert {"knee_angle", "hip_angle", "trunk_inclination", "thigh_x", "valid"} <= set(kept)
    assert not [name for name in kept if "elbow" in name or "wrist" in name or "arm" in name]
    landmarks = sequence.landmarks.copy()
    landmarks[:, [*ELBOW, *WRIST], 1] -= 0.3  # arms raised overhead
    raised = dataclasses.replace(sequence, landmarks=landmarks)
    np.testing.assert_array_equal(sequence_features(raised, "kinematic_no_arms"), legs)
    assert np.abs(sequence_features(raised, "kinematic") - full).max() > 0.1
    np.testing.assert_array_equal(legs[:, -1] > 0, sequence.detected)


def test_kinematic_angles_are_true_angles_in_stretched_frames():
    """A 135-degree elbow stays 135 degrees in a 16:9 frame (x is a fraction of the width, y of the height)."""
    landmarks = np.zeros((1, 33, 4), np.float32)
    landmarks[0, :, 3] = 1.0
    aspect = 16 / 9
    for side in (0, 1):
        landmarks[0, SHOULDER[side], :2] = (0.5, 0.2)  # shoulder
        landmarks[0, ELBOW[side], :2] = (0.5, 0.5)  # elbow, 0.3 below
        landmarks[0, WRIST[side], :2] = (0.5 + 0.3 / aspect, 0.8)  # wrist, 0.3 right and 0.3 down (height units)
    sequence = PoseSequence(landmarks, np.ones(1, bool), np.zeros(1, np.int64), 1, aspect)
    elbow = KINEMATIC_NAMES.index("elbow_angle")
    assert sequence_features(sequence, "kinematic")[0, elbow] == pytest.approx(0.75, abs=1e-4)
    unknown = dataclasses.replace(sequence, aspect=0.0)
    assert sequence_features(unknown, "kinematic")[0, elbow] != pytest.approx(0.75, abs=1e-2)
