"""Skeleton and kinematics: body proportions, geometry helpers, the kinematic chains the exercises
share (forward kinematics of chains, two-link inverse kinematics for planted limbs) and the 3-D
joints -> BlazePose's 33 landmarks with surface normals.

World frame: metres; X = the subject's left, Y = up, Z = the way the subject faces (push-up: towards
the head). Angles are in degrees.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

UP = np.array([0.0, 1.0, 0.0])
FORWARD = np.array([0.0, 0.0, 1.0])
LEFT_AXIS = np.array([1.0, 0.0, 0.0])
SIDES = (0, 1)  # 0 = left, 1 = right (BlazePose: odd = left, even = right)
SIDE_SIGN = np.array([1.0, -1.0])  # direction of each side along X
BODY_SPREAD = 0.04  # relative spread of each body proportion

Joints = dict[str, np.ndarray]
"""3-D joints over T frames. Paired keys (T, 2, 3), side 0 = left: shoulder, elbow, wrist, finger,
thumb (unit directions of the hand), hip, knee, ankle, heel, toe. Single keys (T, 3): head (centre),
head_forward, head_up, front (unit direction the chest faces)."""


# --------------------------------------------------------------------------------------------------
# Small geometry helpers


def unit(vectors: np.ndarray) -> np.ndarray:
    """Vectors scaled to length 1 along the last axis."""
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def lerp(start: float | np.ndarray, end: float | np.ndarray, weight: float | np.ndarray) -> np.ndarray:
    """``start`` at weight 0, ``end`` at weight 1."""
    return np.asarray(start + (end - start) * np.asarray(weight), dtype=float)


def direction(angle: np.ndarray | float, forward: np.ndarray) -> np.ndarray:
    """Unit vectors ``angle`` degrees from UP towards ``forward`` (a horizontal unit vector)."""
    radians = np.radians(np.asarray(angle, dtype=float))[..., None]
    return np.cos(radians) * UP + np.sin(radians) * forward


def rotate_about_axis(vectors: np.ndarray, axis: np.ndarray, angle: np.ndarray | float) -> np.ndarray:
    """Rotate ``vectors`` (..., 3) by ``angle`` degrees about the unit ``axis`` (right-hand rule)."""
    radians = np.radians(np.asarray(angle, dtype=float))[..., None]
    cos, sin = np.cos(radians), np.sin(radians)
    along = np.sum(vectors * axis, axis=-1, keepdims=True)
    return vectors * cos + np.cross(axis, vectors) * sin + axis * along * (1.0 - cos)


def two_link(root: np.ndarray, end: np.ndarray, first: float, second: float, bend: np.ndarray) -> np.ndarray:
    """Middle joint of a two-segment limb from ``root`` to ``end``, bending towards ``bend``.

    Lengths ``first`` (root-middle) and ``second`` (middle-end); an unreachable end is approached as
    closely as the limb allows. Shapes (T, 3); ``bend`` may be (3,).
    """
    span = end - root
    distance = np.clip(np.linalg.norm(span, axis=-1), abs(first - second) + 1e-6, first + second - 1e-6)
    along = span / np.linalg.norm(span, axis=-1, keepdims=True)
    base = (first**2 - second**2 + distance**2) / (2 * distance)
    height = np.sqrt(np.maximum(first**2 - base**2, 0.0))
    across = unit(bend - np.sum(bend * along, axis=-1, keepdims=True) * along)
    return root + base[:, None] * along + height[:, None] * across


def turned_out(side: int, degrees: float) -> np.ndarray:
    """Horizontal unit vector pointing forward, turned outwards on ``side`` by ``degrees``."""
    radians = np.radians(degrees)
    return np.array([SIDE_SIGN[side] * np.sin(radians), 0.0, np.cos(radians)])


# --------------------------------------------------------------------------------------------------
# Body proportions


@dataclass(frozen=True)
class Body:
    """Segment lengths and widths of one subject (metres; BlazePose joint centres)."""

    height: float
    head_radius: float
    neck: float  # shoulder centre -> head centre
    torso: float  # hip centre -> shoulder centre
    upper_arm: float
    forearm: float
    hand: float
    thigh: float
    shank: float
    foot: float  # heel -> toe
    ankle_height: float
    hip_width: float
    shoulder_width: float


# Segment / height ratios (typical anthropometry for joint centres).
BODY_RATIOS = {
    "head_radius": 0.060,
    "neck": 0.120,
    "torso": 0.290,
    "upper_arm": 0.186,
    "forearm": 0.150,
    "hand": 0.090,
    "thigh": 0.245,
    "shank": 0.246,
    "foot": 0.150,
    "ankle_height": 0.039,
    "hip_width": 0.110,
    "shoulder_width": 0.205,
}


def sample_body(rng: np.random.Generator) -> Body:
    """Random adult proportions: height 1.55-1.95 m, each ratio varied by BODY_SPREAD."""
    height = float(rng.uniform(1.55, 1.95))
    parts = {
        name: height * ratio * float(np.clip(rng.normal(1.0, BODY_SPREAD), 0.88, 1.12))
        for name, ratio in BODY_RATIOS.items()
    }
    return Body(height=height, **parts)


# --------------------------------------------------------------------------------------------------
# Kinematic chains shared by the exercises


def foot_points(
    toe: np.ndarray, forward: np.ndarray, heel_raise: np.ndarray, body: Body
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ankle, heel and toe (T, 3) of a foot pointing ``forward`` with its heel raised about the toe."""
    axis = unit(np.cross(UP, forward))
    heel = -body.foot * forward + 0.02 * UP  # the toe point is on the floor
    ankle = -0.72 * body.foot * forward + body.ankle_height * UP
    toes = np.broadcast_to(toe, np.shape(heel_raise) + (3,))
    return toes + rotate_about_axis(ankle, axis, heel_raise), toes + rotate_about_axis(heel, axis, heel_raise), toes


def leg_from_ankle(
    ankle: np.ndarray, forward: np.ndarray, shank_angle: np.ndarray, thigh_angle: np.ndarray, body: Body
) -> tuple[np.ndarray, np.ndarray]:
    """Knee and hip by forward kinematics up from a planted ankle: the shank leans ``shank_angle``
    forward from vertical, the thigh ``thigh_angle`` backward (hip behind the knee)."""
    knee = ankle + body.shank * direction(shank_angle, forward)
    return knee, knee + body.thigh * direction(-np.asarray(thigh_angle), forward)


def place_hips(knee: np.ndarray, hip: np.ndarray, hip_x: np.ndarray, body: Body) -> tuple[np.ndarray, np.ndarray]:
    """Shift a leg sideways so its hip lies at ``hip_x`` (knee by the shank's share of the leg)."""
    shift = (hip_x - hip[:, 0])[:, None] * LEFT_AXIS
    return knee + shift * body.shank / (body.shank + body.thigh), hip + shift


def trunk(
    hips: np.ndarray,
    lean: np.ndarray,
    rounding: np.ndarray,
    neck_flex: np.ndarray | float,
    tilt: np.ndarray,
    body: Body,
) -> Joints:
    """Shoulders, head frame and chest direction from the hips.

    ``lean``: degrees from vertical towards the front of the lower trunk; ``rounding`` bends the upper
    trunk further; ``neck_flex`` bends the head; ``tilt``: sideways lean (positive lowers the right).
    """
    centre = hips.mean(axis=1)
    upper = lean + rounding
    shoulder_centre = centre + body.torso / 2 * (direction(lean, FORWARD) + direction(upper, FORWARD))
    radians = np.radians(tilt)[:, None]
    across = np.cos(radians) * LEFT_AXIS + np.sin(radians) * UP
    shoulders = shoulder_centre[:, None] + SIDE_SIGN[None, :, None] * across[:, None] * body.shoulder_width / 2
    head_up = direction(upper + neck_flex, FORWARD)
    return {
        "shoulder": shoulders,
        "head": shoulder_centre + body.neck * head_up,
        "head_up": head_up,
        "head_forward": direction(upper + neck_flex + 90.0, FORWARD),
        "front": direction(lean + 90.0, FORWARD),
    }


def arms_forward(shoulders: np.ndarray, flexion: np.ndarray, elbow_flex: float, body: Body) -> Joints:
    """Arms by forward kinematics: raised ``flexion`` degrees forward from hanging, elbows bent."""
    arms: dict[str, list[np.ndarray]] = {"elbow": [], "wrist": [], "finger": [], "thumb": []}
    for side in SIDES:
        upper = unit(direction(180.0 - flexion, FORWARD) + 0.12 * SIDE_SIGN[side] * LEFT_AXIS)
        fore = direction(180.0 - flexion - elbow_flex, FORWARD)
        elbow = shoulders[:, side] + body.upper_arm * upper
        arms["elbow"].append(elbow)
        arms["wrist"].append(elbow + body.forearm * fore)
        arms["finger"].append(fore)
        arms["thumb"].append(unit(np.cross(fore, LEFT_AXIS)))
    return {key: np.stack(values, axis=1) for key, values in arms.items()}


def stack_sides(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """(T, 2, 3) from a left and a right (T, 3)."""
    return np.stack([left, right], axis=1)


def feet(toes: np.ndarray, forwards: Sequence[np.ndarray], heel_raise: Sequence[np.ndarray], body: Body) -> Joints:
    """Ankles, heels and toes of both feet (toes (2, 3) on the floor)."""
    parts = [foot_points(toes[side], forwards[side], heel_raise[side], body) for side in SIDES]
    return {name: stack_sides(parts[0][k], parts[1][k]) for k, name in enumerate(("ankle", "heel", "toe"))}


# --------------------------------------------------------------------------------------------------
# Joints -> BlazePose's 33 landmarks

# Face points 0..10 in head-radius units along (left, up, forward) of the head.
FACE_OFFSETS = np.array(
    [
        [0.0, -0.10, 1.00],  # 0 nose
        [0.15, 0.25, 0.90],  # 1 left eye inner
        [0.30, 0.25, 0.85],  # 2 left eye
        [0.45, 0.25, 0.75],  # 3 left eye outer
        [-0.15, 0.25, 0.90],  # 4 right eye inner
        [-0.30, 0.25, 0.85],  # 5 right eye
        [-0.45, 0.25, 0.75],  # 6 right eye outer
        [0.90, 0.10, 0.00],  # 7 left ear
        [-0.90, 0.10, 0.00],  # 8 right ear
        [0.20, -0.45, 0.85],  # 9 mouth left
        [-0.20, -0.45, 0.85],  # 10 mouth right
    ]
)
# Landmarks 11..32 come in (left, right) pairs in this order; each with its outward normal as
# (sideways, frontal) weights and whether it is a distal point (hidden more on the far side).
BODY_PAIRS = (
    ("shoulder", 1.0, 0.3, False),
    ("elbow", 1.0, 0.0, False),
    ("wrist", 1.0, 0.2, True),
    ("pinky", 1.0, 0.3, True),
    ("index", 1.0, 0.3, True),
    ("thumb_tip", 1.0, 0.3, True),
    ("hip", 1.0, 0.3, False),
    ("knee", 0.8, 0.6, False),
    ("ankle", 1.0, 0.2, True),
    ("heel", 0.7, -0.7, True),
    ("toe", 0.6, 0.8, True),
)
DISTAL = np.array([False] * 11 + [distal for *_, distal in BODY_PAIRS for _ in SIDES])


def hand_points(joints: Joints, body: Body) -> dict[str, np.ndarray]:
    """Pinky, index and thumb tips (T, 2, 3) from the wrist and the hand's directions."""
    wrist, finger, thumb = joints["wrist"], joints["finger"], joints["thumb"]
    return {
        "pinky": wrist + body.hand * (0.85 * finger - 0.35 * thumb),
        "index": wrist + body.hand * (1.00 * finger + 0.15 * thumb),
        "thumb_tip": wrist + body.hand * (0.50 * finger + 0.45 * thumb),
    }


def landmarks_3d(joints: Joints, body: Body) -> tuple[np.ndarray, np.ndarray]:
    """World points (T, 33, 3) in BlazePose order and their unit outward normals (T, 33, 3)."""
    basis = np.stack(
        [
            unit(np.cross(joints["head_up"], joints["head_forward"])),
            joints["head_up"],
            joints["head_forward"],
        ],
        axis=1,
    )
    face = joints["head"][:, None] + body.head_radius * FACE_OFFSETS @ basis
    face_normals = unit(FACE_OFFSETS) @ basis
    parts = {**joints, **hand_points(joints, body)}
    pairs = np.concatenate([parts[name] for name, *_ in BODY_PAIRS], axis=1)
    sideways = np.array([[weight * SIDE_SIGN[s]] for _, weight, _, _ in BODY_PAIRS for s in SIDES])
    frontal = np.array([[weight] for _, _, weight, _ in BODY_PAIRS for _ in SIDES])
    pair_normals = unit(sideways[None] * LEFT_AXIS + frontal[None] * joints["front"][:, None])
    return np.concatenate([face, pairs], axis=1), np.concatenate([face_normals, pair_normals], axis=1)
