"""The ``kinematic`` feature set: view-robust per-frame body measurements instead of coordinates.

Raw BlazePose landmarks (T, 33, 4) -> float32 (T, KINEMATIC_DIMS). Per frame, in image coordinates
with x stretched by the frame's aspect (so angles are true angles; aspect 0 = unknown = 1):

- 6 joint angles (elbow, shoulder, hip, knee, ankle, body line shoulder-hip-ankle), each in 0..1
  (angle / pi) as the visibility-weighted mean of the left and right side, then the same 6 as
  |left - right| (asymmetry);
- trunk inclination (hip -> shoulder against the horizontal, -1..1), hip sag (signed offset of the
  hip centre from the shoulder-ankle line, in line lengths, > 0 towards the top of the image),
  neck angle (trunk vs shoulder -> nose, 0..1), elbow spread and wrist drop (in torso lengths);
- 5 bone directions (upper arm, forearm, thigh, shank, torso) as unit 2-D vectors, x flipped so that
  the person faces +x (head to the right of the hips): mirror images give the same features;
- the frame-to-frame change of the 6 mean angles, trunk inclination and hip sag, times
  NUM_FRAMES - 1 (change per clip: the same scale as the values themselves, which matters to the
  network: measured on real push-ups, unscaled changes cost 0.08 ROC AUC);
- the validity flag (as in ``original``).

Nothing depends on where the person is in the frame, how large, or which side faces the camera.
Frames without a valid pose are filled by linear interpolation in time, as in ``original``.
"""

import numpy as np

from preprocessing.constants import NUM_FRAMES
from preprocessing.landmarks import ANKLE, ELBOW, FOOT, HIP, KNEE, SHOULDER, WRIST, Landmark
from preprocessing.normalize import interpolate_invalid, valid_frames

NOSE = Landmark.NOSE
ANGLES = {  # name -> (a, b, c): the angle at b
    "elbow": (SHOULDER, ELBOW, WRIST),
    "shoulder": (ELBOW, SHOULDER, HIP),
    "hip": (SHOULDER, HIP, KNEE),
    "knee": (HIP, KNEE, ANKLE),
    "ankle": (KNEE, ANKLE, FOOT),
    "body_line": (SHOULDER, HIP, ANKLE),
}
BONES = {"upper_arm": (SHOULDER, ELBOW), "forearm": (ELBOW, WRIST), "thigh": (HIP, KNEE), "shank": (KNEE, ANKLE)}
POSTURE = ("trunk_inclination", "hip_sag", "neck", "elbow_spread", "wrist_drop")
MOTION = (*ANGLES, "trunk_inclination", "hip_sag")
KINEMATIC_NAMES = (
    *[f"{name}_angle" for name in ANGLES],
    *[f"{name}_asymmetry" for name in ANGLES],
    *POSTURE,
    *[f"{bone}_{axis}" for bone in (*BONES, "torso") for axis in ("x", "y")],
    *[f"{name}_velocity" for name in MOTION],
    "valid",
)
KINEMATIC_DIMS = len(KINEMATIC_NAMES)
ARM_PARTS = ("elbow", "shoulder", "wrist", "upper_arm", "forearm")  # the shoulder angle is the upper arm's
NO_ARMS = tuple(
    index for index, name in enumerate(KINEMATIC_NAMES) if not name.startswith(tuple(f"{part}_" for part in ARM_PARTS))
)
"""Columns of ``kinematic_no_arms``: the trunk, neck, hips and legs alone. Squat and lunge form is
judged there, and what the arms do varies between people and instructions (arms overhead in UI-PRMD's
deep squats, anywhere in its lunges), so a model may learn a person's arms instead of their form."""
EPS = 1e-6
MAX_RATIO = 5.0  # cap for lengths measured in torso lengths (a torso seen end-on is short)


def _angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """(T,) angle at b of the 2-D points a, b, c (each (T, 2)), divided by pi."""
    u, v = a - b, c - b
    cross = u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0]
    return np.arctan2(np.abs(cross), (u * v).sum(-1)) / np.pi  # stable near 0 and pi, unlike arccos


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / (np.linalg.norm(vector, axis=-1, keepdims=True) + EPS)


def _side_weights(visibility: np.ndarray, *joints: tuple[int, int]) -> np.ndarray:
    """(T, 2) left / right weights: the mean visibility of the joints on each side, summing to 1."""
    weights = np.stack([visibility[:, [joint[side] for joint in joints]].mean(-1) for side in (0, 1)], -1) + EPS
    return weights / weights.sum(-1, keepdims=True)


def _mid(xy: np.ndarray, joint: tuple[int, int]) -> np.ndarray:
    return (xy[:, joint[0]] + xy[:, joint[1]]) / 2.0


def kinematic_features(landmarks: np.ndarray, detected: np.ndarray, aspect: float = 0.0) -> np.ndarray:
    """(T, 33, 4) raw landmarks, (T,) detected flags, frame aspect -> float32 (T, KINEMATIC_DIMS)."""
    landmarks = np.asarray(landmarks, dtype=np.float64)
    valid = valid_frames(landmarks, detected)
    xy = landmarks[:, :, :2] * np.array([aspect if aspect > 0 else 1.0, 1.0])
    visibility = landmarks[:, :, 3]
    columns: list[np.ndarray] = []
    angles, asymmetry = [], []
    for a, b, c in ANGLES.values():
        sides = np.stack([_angle(xy[:, a[s]], xy[:, b[s]], xy[:, c[s]]) for s in (0, 1)], -1)
        angles.append((sides * _side_weights(visibility, a, b, c)).sum(-1))
        asymmetry.append(np.abs(sides[:, 0] - sides[:, 1]))
    columns += angles + asymmetry
    shoulder, hip, ankle = _mid(xy, SHOULDER), _mid(xy, HIP), _mid(xy, ANKLE)
    torso_length = np.linalg.norm(hip - shoulder, axis=-1) + EPS
    trunk_inclination = np.arctan2(-(shoulder - hip)[:, 1], np.abs((shoulder - hip)[:, 0])) / (np.pi / 2)
    line = ankle - shoulder
    cross = line[:, 0] * (hip - shoulder)[:, 1] - line[:, 1] * (hip - shoulder)[:, 0]
    offset = cross / (np.linalg.norm(line, axis=-1) ** 2 + EPS)  # signed distance / line length
    up = -np.sign(line[:, 0] + EPS)  # the side of the line towards the top of the image
    hip_sag = offset * up
    neck = _angle(hip, shoulder, xy[:, NOSE])
    elbow_spread = np.linalg.norm(xy[:, ELBOW[0]] - xy[:, ELBOW[1]], axis=-1) / torso_length
    wrist_drop = (_mid(xy, WRIST)[:, 1] - shoulder[:, 1]) / torso_length
    columns += [
        trunk_inclination,
        hip_sag,
        neck,
        np.minimum(elbow_spread, MAX_RATIO),
        np.clip(wrist_drop, -MAX_RATIO, MAX_RATIO),
    ]
    facing = np.where(xy[:, NOSE, 0] >= hip[:, 0], 1.0, -1.0)
    flip = np.stack([facing, np.ones_like(facing)], -1)  # x mirrored so that the person faces +x
    for start, end in BONES.values():
        sides = np.stack([_unit(xy[:, end[s]] - xy[:, start[s]]) for s in (0, 1)], 1)
        columns += list((_unit((sides * _side_weights(visibility, start, end)[:, :, None]).sum(1)) * flip).T)
    columns += list((_unit(shoulder - hip) * flip).T)
    frames = interpolate_invalid(np.stack(columns, -1), valid)
    motion = frames[
        :,
        [KINEMATIC_NAMES.index(f"{name}_angle") if name in ANGLES else KINEMATIC_NAMES.index(name) for name in MOTION],
    ]
    velocity = np.diff(motion, axis=0, prepend=motion[:1]) * (NUM_FRAMES - 1)
    return np.concatenate([frames, velocity, valid[:, None]], axis=1).astype(np.float32)
