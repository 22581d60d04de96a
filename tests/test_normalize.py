"""Normalisation: hand-computed cases for every step and fallback, and invariance properties."""

from collections.abc import Mapping

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from preprocessing.constants import FEATURE_DIMS, NUM_LANDMARKS
from preprocessing.landmarks import Landmark
from preprocessing.normalize import body_scale, normalize_frame, normalize_sequence, valid_frames

NOSE, LEFT_WRIST, RIGHT_WRIST = Landmark.NOSE, Landmark.LEFT_WRIST, Landmark.RIGHT_WRIST
LEFT_SHOULDER, RIGHT_SHOULDER = Landmark.LEFT_SHOULDER, Landmark.RIGHT_SHOULDER
LEFT_HIP, RIGHT_HIP = Landmark.LEFT_HIP, Landmark.RIGHT_HIP


def make_frame(
    points: Mapping[Landmark, tuple[float, float, float]], hidden: Mapping[Landmark, tuple] | None = None
) -> np.ndarray:
    """(33, 4) frame: ``points`` visible (visibility 0.9), ``hidden`` and all others invisible (0.1)."""
    frame = np.zeros((NUM_LANDMARKS, 4))
    frame[:, :3] = (0.5, 0.5, 0.0)
    frame[:, 3] = 0.1
    for index, xyz in (hidden or {}).items():
        frame[index, :3] = xyz
    for index, xyz in points.items():
        frame[index] = (*xyz, 0.9)
    return frame


def features_of(frame: np.ndarray) -> np.ndarray:
    """(33, 4) normalised landmarks of a single detected frame, through the public entry point."""
    out = normalize_sequence(frame[None], np.array([True]))
    assert out.shape == (1, FEATURE_DIMS) and out.dtype == np.float32 and out[0, -1] == 1.0
    return out[0, :-1].reshape(NUM_LANDMARKS, 4)


def test_hips_give_centre_scale_and_rotation_over_tilted_shoulders():
    # hips (0.4, 0.6, 0.1) / (0.6, 0.6, 0.3): centre (0.5, 0.6, 0.2), hip vector along +x (no rotation);
    # shoulders tilted, midpoint (0.5, 0.2, 0.0): torso 0.4 > hip distance 0.2 -> scale 0.4.
    frame = make_frame(
        {
            LEFT_HIP: (0.4, 0.6, 0.1),
            RIGHT_HIP: (0.6, 0.6, 0.3),
            LEFT_SHOULDER: (0.4, 0.25, 0.0),
            RIGHT_SHOULDER: (0.6, 0.15, 0.0),
        },
        hidden={NOSE: (0.5, 0.0, 0.6)},
    )
    out = features_of(frame)
    np.testing.assert_allclose(out[LEFT_HIP], [-0.25, 0.0, -0.25, 0.9], atol=1e-6)
    np.testing.assert_allclose(out[RIGHT_HIP], [0.25, 0.0, 0.25, 0.9], atol=1e-6)
    np.testing.assert_allclose(out[LEFT_SHOULDER], [-0.25, -0.875, -0.5, 0.9], atol=1e-6)
    # an invisible landmark is transformed like the others and keeps its visibility
    np.testing.assert_allclose(out[NOSE], [0.0, -1.5, 1.0, 0.1], atol=1e-6)


def test_vertical_hips_are_rotated_onto_x_and_missing_shoulders_use_offset():
    # hips (0.5, 0.5) -> (0.5, 0.7): centre (0.5, 0.6, 0); no shoulders: S = centre + (0, 0.5, 0),
    # torso 0.5 > hip distance 0.2 -> scale 0.5; the hip vector points along +y -> rotate by -90 deg,
    # which maps (x, y) to (y, -x).
    frame = make_frame({LEFT_HIP: (0.5, 0.5, 0.0), RIGHT_HIP: (0.5, 0.7, 0.0)}, hidden={NOSE: (0.7, 0.6, 0.5)})
    out = features_of(frame)
    np.testing.assert_allclose(out[RIGHT_HIP, :3], [0.2, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(out[LEFT_HIP, :3], [-0.2, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(out[NOSE, :3], [0.0, -0.4, 1.0], atol=1e-6)


def test_one_hip_invisible_centres_on_visible_mean_and_rotates_by_shoulders():
    visible = {
        LEFT_HIP: (0.3, 0.5, 0.2),
        LEFT_SHOULDER: (0.1, 0.1, 0.0),
        RIGHT_SHOULDER: (0.5, 0.3, 0.0),
        NOSE: (0.3, 0.3, -0.2),
    }
    frame = make_frame(visible, hidden={RIGHT_HIP: (0.9, 0.9, 0.9)})
    centre = np.array([0.3, 0.3, 0.0])  # mean of the four visible points
    scale = np.hypot(0.0, 0.3 - 0.2)  # S = shoulder midpoint (0.3, 0.2); no hip distance -> torso
    angle = np.arctan2(0.2, 0.4)  # right shoulder - left shoulder
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    for index, xyz in [*visible.items(), (RIGHT_HIP, (0.9, 0.9, 0.9))]:
        shifted = (np.array(xyz) - centre) / scale
        expected = np.concatenate([shifted[:2] @ rotation, shifted[2:]])
        np.testing.assert_allclose(features_of(frame)[index, :3], expected, atol=1e-5)
    assert np.isclose(features_of(frame)[RIGHT_SHOULDER, 1], features_of(frame)[LEFT_SHOULDER, 1], atol=1e-6)


@pytest.mark.parametrize("order", [(0.0, 0.1, 0.5), (0.5, 0.4, 0.0)])
def test_no_hips_no_shoulders_rotates_principal_axis_towards_the_long_tail(order):
    # three visible points on the diagonal; the right wrist lies on the long tail either way and must
    # end up on +x. Centre = their mean, scale = 0.5 (shoulder fallback offset).
    points = {
        NOSE: (order[0],) * 2 + (0.0,),
        LEFT_WRIST: (order[1],) * 2 + (0.0,),
        RIGHT_WRIST: (order[2],) * 2 + (0.0,),
    }
    out = features_of(make_frame(points))
    expected_x = abs(order[2] - sum(order) / 3) * np.sqrt(2) / 0.5
    np.testing.assert_allclose(out[RIGHT_WRIST, :2], [expected_x, 0.0], atol=1e-6)
    np.testing.assert_allclose(out[[NOSE, LEFT_WRIST, RIGHT_WRIST], 1], 0.0, atol=1e-6)


def test_coincident_points_use_minimum_scale_and_no_rotation():
    frame = make_frame(
        {
            LEFT_HIP: (0.5, 0.5, 0.0),
            RIGHT_HIP: (0.5, 0.5, 0.0),
            LEFT_SHOULDER: (0.5, 0.5, 0.0),
            RIGHT_SHOULDER: (0.5, 0.5, 0.0),
        }
    )
    visible = frame[:, 3] >= 0.25
    assert body_scale(frame[:, :3], visible, np.array([0.5, 0.5, 0.0])) == 1e-3
    assert np.isfinite(normalize_frame(frame)).all()


def test_hip_distance_wins_when_larger_than_torso():
    frame = make_frame(
        {
            LEFT_HIP: (0.2, 0.5, 0.0),
            RIGHT_HIP: (0.8, 0.5, 0.0),
            LEFT_SHOULDER: (0.4, 0.3, 0.0),
            RIGHT_SHOULDER: (0.6, 0.3, 0.0),
        }
    )
    assert body_scale(frame[:, :3], frame[:, 3] >= 0.25, np.array([0.5, 0.5, 0.0])) == pytest.approx(0.6)


def test_frame_validity_needs_detection_and_two_visible_landmarks():
    one = make_frame({NOSE: (0.5, 0.5, 0.0)})
    two = make_frame({NOSE: (0.5, 0.5, 0.0), LEFT_WRIST: (0.6, 0.5, 0.0)})
    threshold = two.copy()
    threshold[LEFT_WRIST, 3] = 0.25  # exactly the threshold counts as visible
    landmarks = np.stack([one, two, two, threshold])
    valid = valid_frames(landmarks, np.array([True, True, False, True]))
    assert valid.tolist() == [False, True, False, True]
    assert normalize_sequence(landmarks, np.array([True, True, False, True]))[:, -1].tolist() == [0, 1, 0, 1]


def random_pose(rng: np.random.Generator, shoulders_visible: bool = False) -> np.ndarray:
    """A random (33, 4) frame whose reference vector is well defined: both hips visible and apart,
    else both shoulders, else (``shoulders_visible`` False only) a principal axis of points spread
    along a line with a long one-sided tail."""
    frame = np.concatenate(
        [
            rng.uniform(0.1, 0.9, (NUM_LANDMARKS, 2)),
            rng.uniform(-0.3, 0.3, (NUM_LANDMARKS, 1)),
            rng.uniform(0.0, 1.0, (NUM_LANDMARKS, 1)),
        ],
        axis=1,
    )
    case = rng.integers(2 if shoulders_visible else 3)
    if shoulders_visible or case == 1:  # shoulders above the body, apart: torso length >= ~0.3
        frame[LEFT_SHOULDER] = (rng.uniform(0.2, 0.6), 0.02, 0.0, 0.9)
        frame[RIGHT_SHOULDER] = frame[LEFT_SHOULDER] + (rng.uniform(0.1, 0.3), rng.uniform(-0.02, 0.02), 0.0, 0.0)
    if case == 0:  # both hips visible, clearly apart
        frame[[LEFT_HIP, RIGHT_HIP], 3] = 0.9
        frame[RIGHT_HIP, :2] = frame[LEFT_HIP, :2] + rng.uniform(0.1, 0.3) * np.array([1.0, rng.uniform(-1, 1)])
    elif case == 1:  # one hip hidden
        frame[rng.choice([LEFT_HIP, RIGHT_HIP]), 3] = 0.1
    else:  # no hip or shoulder pair: points along a line, one far out on the tail
        frame[[LEFT_HIP, LEFT_SHOULDER], 3] = 0.1
        direction = np.array([np.cos(angle := rng.uniform(0, np.pi)), np.sin(angle)])
        spread = rng.exponential(0.1, (NUM_LANDMARKS, 1)) * direction + rng.normal(0, 0.005, (NUM_LANDMARKS, 2))
        frame[:, :2] = 0.3 + spread
        frame[NOSE] = (*(0.3 + 0.8 * direction), 0.0, 0.9)
    return frame


def transform_xyz(landmarks: np.ndarray, shift: np.ndarray, scale: float, angle: float) -> np.ndarray:
    """Rotate x, y by ``angle`` (aspect 1), scale x, y, z by ``scale``, then shift x, y, z."""
    moved = landmarks.copy()
    rotation = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    moved[..., :2] = landmarks[..., :2] @ rotation
    moved[..., :3] = moved[..., :3] * scale + shift
    return moved


def assert_invariant(seed: int, shift: tuple, scale: float, angle: float, shoulders_visible: bool) -> None:
    rng = np.random.default_rng(seed)
    landmarks = np.stack([random_pose(rng, shoulders_visible) for _ in range(16)])
    detected = rng.uniform(size=16) < 0.7
    expected = normalize_sequence(landmarks, detected)
    moved = normalize_sequence(transform_xyz(landmarks, np.array(shift), scale, angle), detected)
    np.testing.assert_allclose(moved, expected, rtol=1e-4, atol=1e-4)


SEEDS = st.integers(0, 2**32 - 1)
SHIFTS = st.tuples(*[st.floats(-2.0, 2.0)] * 3)
ANGLES = st.floats(-np.pi, np.pi)


@settings(max_examples=40, deadline=None)
@given(seed=SEEDS, shift=SHIFTS, angle=ANGLES)
def test_output_is_invariant_to_translation_and_in_plane_rotation(seed, shift, angle):
    """Every reference-vector case (hips, shoulders, principal axis)."""
    assert_invariant(seed, shift, 1.0, angle, shoulders_visible=False)


@settings(max_examples=40, deadline=None)
@given(seed=SEEDS, shift=SHIFTS, scale=st.floats(0.5, 5.0), angle=ANGLES)
def test_output_is_invariant_to_scale_when_shoulders_are_visible(seed, shift, scale, angle):
    """Without both shoulders the torso falls back to a fixed 0.5 offset, so only then is scale kept."""
    assert_invariant(seed, shift, scale, angle, shoulders_visible=True)


def test_shoulder_fallback_offset_is_not_scaled():
    rng = np.random.default_rng(3)
    landmarks = np.stack([random_pose(rng) for _ in range(16)])
    landmarks[:, [LEFT_SHOULDER, RIGHT_SHOULDER], 3] = 0.1
    landmarks[:, LEFT_HIP, :2], landmarks[:, RIGHT_HIP, :2] = (0.45, 0.5), (0.55, 0.5)
    landmarks[:, [LEFT_HIP, RIGHT_HIP], 3] = 0.9
    detected = np.ones(16, dtype=bool)
    small = normalize_sequence(transform_xyz(landmarks, np.zeros(3), 0.5, 0.0), detected)
    full = normalize_sequence(landmarks, detected)
    xyz = np.arange(FEATURE_DIMS - 1) % 4 != 3  # scale = the fixed torso 0.5 in both: coordinates halve
    np.testing.assert_allclose(small[:, :-1][:, xyz], full[:, :-1][:, xyz] / 2, rtol=1e-5, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), valid=st.lists(st.booleans(), min_size=16, max_size=16).filter(any))
def test_invalid_frames_are_linear_in_time_between_valid_ones_and_nearest_at_edges(seed, valid):
    rng = np.random.default_rng(seed)
    landmarks = np.stack([random_pose(rng) for _ in range(16)])
    valid = np.array(valid)
    out = normalize_sequence(landmarks, valid)
    assert out[:, -1].tolist() == valid.astype(float).tolist()
    valid_times = np.flatnonzero(valid)
    for t in valid_times:  # valid frames are normalised on their own
        np.testing.assert_allclose(out[t, :-1], normalize_frame(landmarks[t]).ravel(), atol=1e-5)
    for t in np.flatnonzero(~valid):
        before, after = valid_times[valid_times < t], valid_times[valid_times > t]
        if not len(before) or not len(after):
            nearest = after[0] if not len(before) else before[-1]
            np.testing.assert_array_equal(out[t, :-1], out[nearest, :-1])
            continue
        a, b = before[-1], after[0]
        expected = out[a, :-1] + (t - a) / (b - a) * (out[b, :-1] - out[a, :-1])
        np.testing.assert_allclose(out[t, :-1], expected, atol=1e-5)


def test_gap_is_filled_with_hand_computed_values():
    rng = np.random.default_rng(1)
    first, last = random_pose(rng), random_pose(rng)
    landmarks = np.stack([first, first * 0, first * 0, first * 0, last])
    out = normalize_sequence(landmarks, np.array([True, False, False, False, True]))
    f, g = normalize_frame(first).ravel(), normalize_frame(last).ravel()
    for t, weight in enumerate([0.0, 0.25, 0.5, 0.75, 1.0]):
        np.testing.assert_allclose(out[t, :-1], (1 - weight) * f + weight * g, atol=1e-5)
    assert out[:, -1].tolist() == [1, 0, 0, 0, 1]


def test_no_valid_frame_gives_zeros_and_zero_flags():
    rng = np.random.default_rng(2)
    landmarks = np.stack([random_pose(rng) for _ in range(16)])
    out = normalize_sequence(landmarks, np.zeros(16, dtype=bool))
    assert out.shape == (16, FEATURE_DIMS) and out.dtype == np.float32
    assert not out.any()
