"""Pose normalisation: raw BlazePose landmarks (T, 33, 4) -> features (T, FEATURE_DIMS), as the original.

Convention ("original"; BlazePose indices: 11/12 = left/right shoulder, 23/24 = left/right hip):

1. A landmark is *visible* when its visibility >= VISIBILITY_THRESHOLD (0.25). A frame is *valid* when
   a person was detected in it and it has at least MIN_VISIBLE_LANDMARKS (2) visible landmarks.
2. Per valid frame:
   - centre C = midpoint of the hips (x, y, z) when both hips are visible, else the mean (x, y, z) of
     the visible landmarks;
   - shoulder centre S = midpoint of the shoulders when both are visible, else C + (0, 0.5, 0);
   - scale s = max(|S - C|_xy, |right hip - left hip|_xy when both hips are visible else |S - C|_xy,
     MIN_SCALE), distances in 2-D (x, y);
   - every landmark (visible or not): (x, y, z) := ((x, y, z) - C) / s;
   - x, y are rotated by minus the angle of a reference vector so that it points along +x. The
     vector is right hip - left hip when both hips are visible, else right shoulder - left shoulder
     when both are visible, else the first principal axis of the visible points in (x, y), oriented
     so that the points' third moment along it is >= 0; no rotation when even that is undefined
     (all visible points coincide). z is not rotated;
   - visibility is kept as it is.
3. Invalid frames are replaced, per landmark and dimension (visibility included), by linear
   interpolation in time between the nearest valid frames; frames before the first / after the
   last valid frame take that frame's values; with no valid frame at all every value is 0.
4. Output float32 (T, 33 * 4 + 1): per frame the 33 landmarks flattened landmark-major
   (x0, y0, z0, v0, x1, ...), then a flag that is 1.0 for valid frames and 0.0 otherwise.
"""

import numpy as np

from preprocessing.constants import MIN_VISIBLE_LANDMARKS, VISIBILITY_THRESHOLD
from preprocessing.landmarks import Landmark

LEFT_SHOULDER, RIGHT_SHOULDER = Landmark.LEFT_SHOULDER, Landmark.RIGHT_SHOULDER
LEFT_HIP, RIGHT_HIP = Landmark.LEFT_HIP, Landmark.RIGHT_HIP

NORMALIZATION = "original"  # name of the convention above (recorded in artifact metadata)
FEATURE_LAYOUT = "33 landmarks x (x, y, z, visibility) landmark-major, then validity flag"
MIN_SCALE = 1e-3
SHOULDER_FALLBACK_OFFSET = np.array([0.0, 0.5, 0.0])


def visible_mask(frame: np.ndarray) -> np.ndarray:
    """(33,) bool: landmarks of a (33, 4) frame whose visibility reaches the threshold."""
    return frame[:, 3] >= VISIBILITY_THRESHOLD


def valid_frames(landmarks: np.ndarray, detected: np.ndarray) -> np.ndarray:
    """(T,) bool: detected frames with at least MIN_VISIBLE_LANDMARKS visible landmarks."""
    visible_counts = (landmarks[:, :, 3] >= VISIBILITY_THRESHOLD).sum(axis=1)
    return np.asarray(detected, dtype=bool) & (visible_counts >= MIN_VISIBLE_LANDMARKS)


def _both(visible: np.ndarray, left: int, right: int) -> bool:
    return bool(visible[left] and visible[right])


def body_centre(xyz: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """(3,) hip midpoint when both hips are visible, else the mean of the visible points."""
    if _both(visible, LEFT_HIP, RIGHT_HIP):
        return (xyz[LEFT_HIP] + xyz[RIGHT_HIP]) / 2.0
    return xyz[visible].mean(axis=0)


def shoulder_centre(xyz: np.ndarray, visible: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """(3,) shoulder midpoint when both shoulders are visible, else ``centre + (0, 0.5, 0)``."""
    if _both(visible, LEFT_SHOULDER, RIGHT_SHOULDER):
        return (xyz[LEFT_SHOULDER] + xyz[RIGHT_SHOULDER]) / 2.0
    return centre + SHOULDER_FALLBACK_OFFSET


def body_scale(xyz: np.ndarray, visible: np.ndarray, centre: np.ndarray) -> float:
    """max(2-D torso length, 2-D hip distance (torso length without both hips), MIN_SCALE)."""
    torso = float(np.linalg.norm(shoulder_centre(xyz, visible, centre)[:2] - centre[:2]))
    if _both(visible, LEFT_HIP, RIGHT_HIP):
        hips = float(np.linalg.norm(xyz[RIGHT_HIP, :2] - xyz[LEFT_HIP, :2]))
    else:
        hips = torso
    return max(torso, hips, MIN_SCALE)


def principal_axis(points: np.ndarray) -> np.ndarray | None:
    """Unit first principal axis of (n, 2) points, third moment along it >= 0; None if they coincide."""
    centred = points - points.mean(axis=0)
    eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred)
    if eigenvalues[-1] <= 1e-12:
        return None
    axis = eigenvectors[:, -1]
    return -axis if np.sum((centred @ axis) ** 3) < 0 else axis


def reference_vector(xy: np.ndarray, visible: np.ndarray) -> np.ndarray | None:
    """(2,) vector to align with +x: hips (right - left), else shoulders, else principal axis."""
    if _both(visible, LEFT_HIP, RIGHT_HIP):
        return xy[RIGHT_HIP] - xy[LEFT_HIP]
    if _both(visible, LEFT_SHOULDER, RIGHT_SHOULDER):
        return xy[RIGHT_SHOULDER] - xy[LEFT_SHOULDER]
    return principal_axis(xy[visible])


def rotate(xy: np.ndarray, angle: float) -> np.ndarray:
    """(n, 2) points rotated by ``-angle`` radians about the origin."""
    cos, sin = np.cos(angle), np.sin(angle)
    return xy @ np.array([[cos, -sin], [sin, cos]])


def normalize_frame(frame: np.ndarray) -> np.ndarray:
    """A valid (33, 4) frame centred, scaled and rotated as in the module docstring (float64)."""
    visible = visible_mask(frame)
    xyz = frame[:, :3]
    centre = body_centre(xyz, visible)
    xyz = (xyz - centre) / body_scale(xyz, visible, centre)
    vector = reference_vector(xyz[:, :2], visible)
    if vector is not None:
        xyz[:, :2] = rotate(xyz[:, :2], float(np.arctan2(vector[1], vector[0])))
    return np.concatenate([xyz, frame[:, 3:]], axis=1)


def interpolate_invalid(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Replace rows ``values[t]`` of invalid frames by linear interpolation in time between valid
    frames (nearest valid frame at the edges); zeros when no frame is valid. ``values``: (T, ...)."""
    if not valid.any():
        return np.zeros_like(values)
    flat = values.reshape(len(values), -1)
    times, valid_times = np.arange(len(values)), np.flatnonzero(valid)
    filled = np.stack([np.interp(times, valid_times, column[valid_times]) for column in flat.T], axis=1)
    return filled.reshape(values.shape)


def normalize_sequence(landmarks: np.ndarray, detected: np.ndarray) -> np.ndarray:
    """(T, 33, 4) landmarks and (T,) detected flags -> float32 (T, 33 * 4 + 1) features."""
    landmarks = np.asarray(landmarks, dtype=np.float64)
    valid = valid_frames(landmarks, detected)
    frames = np.zeros_like(landmarks)
    for t in np.flatnonzero(valid):
        frames[t] = normalize_frame(landmarks[t])
    frames = interpolate_invalid(frames, valid)
    flags = valid.astype(np.float64)[:, None]
    return np.concatenate([frames.reshape(len(frames), -1), flags], axis=1).astype(np.float32)
