"""Embedded demo data: squat, push-up and lunge repetitions from a kinematic model, scored by their faults.

Each repetition is written as a pose file (``preprocessing.cache`` format: raw BlazePose-like landmarks
in image coordinates for the NUM_FRAMES sampled frames), so it is read and normalised exactly like
cached BlazePose output. The pieces, shared by the three exercises:

- subject: body proportions (``Body``), camera set-up, fault tendencies and style (``Subject``);
- timeline: clip length (rest, descent, bottom hold, ascent, rest; tempo), the NUM_FRAMES frames the
  real pipeline samples (``linspace(0, n - 1, NUM_FRAMES)`` truncated) and the movement depth
  ``m`` in 0..1 (0 = rest, 1 = bottom) at each of them;
- exercise: joint angles / targets as functions of ``m`` and the fault severities -> 3-D joints
  (forward kinematics of chains, two-link inverse kinematics for planted limbs) -> BlazePose's 33
  landmarks with surface normals (face from the head's frame, hands from the wrist, feet from the toe);
- camera: yaw / pitch / roll around the subject, framing (person size and centre in the image),
  perspective projection to x, y in 0..1 (y down), z on x's scale relative to the hip centre,
  visibility (facing away, far-side limbs, out of frame), jitter, missed detections;
- score: ``100 - sum(weight * severity)`` over the exercise's faults (severities 0..1), plus rater
  noise, clipped to 0..100.

World frame: metres; X = the subject's left, Y = up, Z = the way the subject faces (push-up: towards
the head). Angles are in degrees. Everything is drawn from ``numpy.random.default_rng`` seeded with
(seed, exercise, subject[, repetition]), so the data is identical for the same seed and sizes.
"""

import argparse
import csv
import io
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from preprocessing.cache import PoseSequence, save_pose
from preprocessing.constants import LEFT_HIP, NUM_FRAMES, POSE_FILE_SUFFIX, RIGHT_HIP, SCORE_SCALE
from preprocessing.dataset import EXERCISES

UP = np.array([0.0, 1.0, 0.0])
FORWARD = np.array([0.0, 0.0, 1.0])
LEFT_AXIS = np.array([1.0, 0.0, 0.0])
SIDES = (0, 1)  # 0 = left, 1 = right (BlazePose: odd = left, even = right)
SIDE_SIGN = np.array([1.0, -1.0])  # direction of each side along X

# Default size: 48 + 12 subjects x 12 repetitions = 576 train / 144 test repetitions per exercise.
# (Measured: a BiLSTM's error relative to predicting the mean keeps falling well past 360 training
# repetitions, and more subjects with fewer repetitions each generalise better to new people.)
TRAIN_SUBJECTS, TEST_SUBJECTS, REPS_PER_SUBJECT = 48, 12, 12

# Data-set design. The spread of nuisances (camera, proportions, style) is kept moderate so that a
# small model learns the faults rather than who the subject is; see ``sample_*`` below.
RATER_NOISE_SD = 3.5  # score points, as between human raters
REP_SPREAD = 0.45  # per-repetition spread of fault severities around the subject's habit
VIEWS = {"front": (0.0, 12.0), "oblique": (25.0, 45.0), "side": (60.0, 75.0)}  # yaw ranges (degrees)
VIEW_PROBABILITIES = (0.35, 0.40, 0.25)
# The camera stands at the subjects' left (as in one recording room): mirrored set-ups would double
# what a model must learn, since the original normalisation does not undo a mirror image.
YAW_SIGN = 1.0
PITCH_STANDING, PITCH_LYING = (-3.0, 8.0), (5.0, 25.0)  # camera elevation (degrees)
ASPECTS = (16 / 9, 16 / 9, 4 / 3)  # image width / height
STYLE_RANGES = {
    "stance": (1.3, 1.7),
    "toe_out": (8.0, 18.0),
    "arm_reach": (0.3, 0.7),
    "neck_flex": (-5.0, 15.0),
}
BODY_SPREAD = 0.04  # relative spread of each body proportion
FPS_CHOICES = (24, 25, 30, 30, 60)
MISS_RATES = (0.0, 0.02, 0.05, 0.12)  # per-subject chance of a frame without detection
MIN_DETECTED = 8  # a clip keeps at least this many detected frames

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


def rotate(vectors: np.ndarray, axis: np.ndarray, angle: np.ndarray | float) -> np.ndarray:
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


# --------------------------------------------------------------------------------------------------
# Subjects


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


@dataclass(frozen=True)
class Camera:
    """Where the camera looks from and how the subject is framed."""

    yaw: float  # degrees around the vertical; 0 = in front of the subject, +90 = at the subject's left
    pitch: float  # degrees of elevation (camera above the subject looks down)
    roll: float  # degrees, a tilted phone
    distance: float  # metres from the subject
    fill: float  # the person's larger extent as a fraction of the image
    centre: tuple[float, float]  # person centre in the image (x, y in 0..1)
    aspect: float  # image width / height


@dataclass(frozen=True)
class Subject:
    """One person: proportions, preferred camera set-up, fault tendencies and style."""

    name: str
    body: Body
    view: str  # "front", "oblique" or "side"
    camera: Camera
    habits: dict[str, float]  # fault -> mean severity (0..1)
    lead_side: int  # 0 = left: lunge front leg, squat weaker leg
    stance: float  # feet / hands apart, as a multiple of the hip / shoulder width
    toe_out: float  # degrees the feet turn out
    arm_reach: float  # squat / lunge: how far the arms swing forward (0..1)
    neck_flex: float  # degrees the head is bent forward
    comfortable_seconds: float  # duration of one repetition at the subject's own pace
    miss_rate: float  # chance of a frame without detection


def sample_camera(rng: np.random.Generator, view: str, lying: bool) -> Camera:
    """A subject's preferred camera: yaw from the view's range, elevation, framing, image shape."""
    low, high = VIEWS[view]
    return Camera(
        yaw=YAW_SIGN * float(rng.uniform(low, high)),
        pitch=float(rng.uniform(*(PITCH_LYING if lying else PITCH_STANDING))),
        roll=float(rng.normal(0.0, 1.5)),
        distance=float(rng.uniform(2.5, 5.0)),
        fill=float(rng.uniform(0.45, 0.9)),
        centre=(float(rng.uniform(0.35, 0.65)), float(rng.uniform(0.4, 0.6))),
        aspect=float(rng.choice(ASPECTS)),
    )


def jitter_camera(camera: Camera, rng: np.random.Generator) -> Camera:
    """The same set-up on another day: small changes of angle, framing and position."""
    return Camera(
        yaw=camera.yaw + float(rng.normal(0.0, 3.0)),
        pitch=camera.pitch + float(rng.normal(0.0, 2.0)),
        roll=camera.roll + float(rng.normal(0.0, 0.5)),
        distance=camera.distance * float(rng.uniform(0.95, 1.05)),
        fill=float(np.clip(camera.fill * rng.uniform(0.92, 1.08), 0.35, 0.95)),
        centre=(
            camera.centre[0] + float(rng.normal(0.0, 0.03)),
            camera.centre[1] + float(rng.normal(0.0, 0.03)),
        ),
        aspect=camera.aspect,
    )


def sample_habits(
    faults: Sequence[str], exclusive: Sequence[tuple[str, str]], rng: np.random.Generator
) -> dict[str, float]:
    """Mean severity per fault: a general skill level shared by all faults plus personal quirks.

    Of each ``exclusive`` pair (e.g. hip sag / pike) a subject has only one tendency.
    """
    skill = float(rng.beta(2.0, 2.0))
    habits = {fault: float(np.clip((1.1 - skill) * rng.beta(1.3, 1.8) * 1.1, 0.0, 1.0)) for fault in faults}
    for pair in exclusive:
        habits[pair[int(rng.integers(2))]] = 0.0
    return habits


def sample_subject(name: str, exercise: "Exercise", rng: np.random.Generator) -> Subject:
    """A random subject for ``exercise``."""
    view = str(rng.choice(tuple(VIEWS), p=VIEW_PROBABILITIES))
    return Subject(
        name=name,
        body=sample_body(rng),
        view=view,
        camera=sample_camera(rng, view, lying=exercise.name == "pushup"),
        habits=sample_habits(exercise.faults, exercise.exclusive, rng),
        lead_side=int(rng.integers(2)),
        **{style: float(rng.uniform(low, high)) for style, (low, high) in STYLE_RANGES.items()},
        comfortable_seconds=float(rng.uniform(*exercise.rep_seconds)),
        miss_rate=float(rng.choice(MISS_RATES)),
    )


def sample_severities(habits: dict[str, float], fatigue: float, rng: np.random.Generator) -> dict[str, float]:
    """Severities of one repetition: the subject's habits, varied per repetition, worse when tired;
    a fault the subject does not have (habit 0) stays 0."""
    noise = rng.normal(0.0, REP_SPREAD, size=len(habits))
    return {
        fault: float(np.clip(habit + fatigue + change, 0.0, 1.0)) if habit > 0 else 0.0
        for (fault, habit), change in zip(habits.items(), noise, strict=True)
    }


# --------------------------------------------------------------------------------------------------
# Timeline: one clip around one repetition, sampled as the real pipeline samples videos


@dataclass(frozen=True)
class Timeline:
    """The sampled frames of one clip and the movement depth at each of them."""

    frame_indices: np.ndarray  # (NUM_FRAMES,) int64
    total_frames: int
    times: np.ndarray  # (NUM_FRAMES,) seconds
    depth: np.ndarray  # (NUM_FRAMES,) 0 = rest, 1 = bottom of the repetition


def ease(fraction: np.ndarray) -> np.ndarray:
    """Smooth 0 -> 1 over fraction 0..1 (cosine ease-in-out), clipped outside."""
    return (1.0 - np.cos(np.pi * np.clip(fraction, 0.0, 1.0))) / 2.0


def movement_depth(times: np.ndarray, start: float, seconds: float, descent: float, hold: float) -> np.ndarray:
    """Depth at ``times`` of a repetition starting at ``start``: descent, bottom hold, ascent (fractions)."""
    phase = (times - start) / seconds
    going_down = ease(phase / descent)
    coming_up = ease((phase - descent - hold) / (1.0 - descent - hold))
    return np.where(phase < descent + hold, going_down, 1.0 - coming_up)


def sample_timeline(seconds: float, tempo_severity: float, rng: np.random.Generator) -> Timeline:
    """A clip: rest before and after the repetition (the clip starts and ends mid-rest), then sampling."""
    fps = int(rng.choice(FPS_CHOICES))
    before, after = rng.uniform(0.1, 1.0, size=2)
    descent = float(rng.uniform(0.38, 0.52))
    hold = float(rng.uniform(0.0, 0.18) * (1.0 - tempo_severity))
    total_frames = max(int(round((before + seconds + after) * fps)), NUM_FRAMES)
    frame_indices = np.linspace(0, total_frames - 1, NUM_FRAMES).astype(np.int64)
    times = frame_indices / fps
    depth = movement_depth(times, float(before), seconds, descent, hold)
    return Timeline(frame_indices=frame_indices, total_frames=total_frames, times=times, depth=depth)


# --------------------------------------------------------------------------------------------------
# Kinematic chains shared by the exercises


def foot_points(toe: np.ndarray, forward: np.ndarray, heel_raise: np.ndarray, body: Body) -> tuple[np.ndarray, ...]:
    """Ankle, heel and toe (T, 3) of a foot pointing ``forward`` with its heel raised about the toe."""
    axis = unit(np.cross(UP, forward))
    heel = -body.foot * forward + 0.02 * UP  # the toe point is on the floor
    ankle = -0.72 * body.foot * forward + body.ankle_height * UP
    toes = np.broadcast_to(toe, np.shape(heel_raise) + (3,))
    return toes + rotate(ankle, axis, heel_raise), toes + rotate(heel, axis, heel_raise), toes


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
# Exercises: joint angles and targets over a repetition (``m`` = timeline depth), from the severities


def turned_out(side: int, degrees: float) -> np.ndarray:
    """Horizontal unit vector pointing forward, turned outwards on ``side`` by ``degrees``."""
    radians = np.radians(degrees)
    return np.array([SIDE_SIGN[side] * np.sin(radians), 0.0, np.cos(radians)])


def squat_joints(subject: Subject, severity: dict[str, float], timeline: Timeline) -> Joints:
    """Bodyweight squat, feet planted: legs by forward kinematics up from the ankles.

    Faults: depth (thigh angle at the bottom), knee_valgus (knees move in), torso_lean (lean and
    upper-back rounding), heel_lift (heels rise, knees travel forward), asymmetry (the weaker leg
    bends less, the hips shift and tilt onto the stronger one); tempo acts through the timeline.
    """
    body, m = subject.body, timeline.depth
    thigh_bottom = lerp(108.0, 45.0, severity["depth"])  # degrees from vertical; 90 = parallel
    forwards = [turned_out(side, subject.toe_out) for side in SIDES]
    half_stance = subject.stance * body.hip_width / 2
    toes = np.array([SIDE_SIGN[side] * half_stance * LEFT_AXIS + 0.72 * body.foot * forwards[side] for side in SIDES])
    heel_raise = 30.0 * severity["heel_lift"] * m
    joints = feet(toes, forwards, [heel_raise, heel_raise], body)
    weak = subject.lead_side
    shift = -SIDE_SIGN[weak] * 0.08 * severity["asymmetry"] * m
    knees, hips = [], []
    for side in SIDES:
        strength = 1.0 - 0.3 * severity["asymmetry"] * (side == weak)
        thigh = 6.0 + (thigh_bottom * strength - 6.0) * m
        shank = 3.0 + (0.36 * thigh_bottom + 14.0 * severity["heel_lift"]) * strength * m
        knee, hip = leg_from_ankle(joints["ankle"][:, side], forwards[side], shank, thigh, body)
        knee = knee - SIDE_SIGN[side] * LEFT_AXIS * (0.10 * severity["knee_valgus"] * m)[:, None]
        knee, hip = place_hips(knee, hip, shift + SIDE_SIGN[side] * body.hip_width / 2, body)
        knees.append(knee)
        hips.append(hip)
    joints.update(knee=stack_sides(*knees), hip=stack_sides(*hips))
    lean = 2.0 + (12.0 + 0.2 * thigh_bottom + 35.0 * severity["torso_lean"]) * m
    rounding = 25.0 * severity["torso_lean"] * m
    tilt = SIDE_SIGN[weak] * 8.0 * severity["asymmetry"] * m
    joints.update(trunk(joints["hip"], lean, rounding, subject.neck_flex, tilt, body))
    joints.update(arms_forward(joints["shoulder"], lerp(10.0, 20.0 + 70.0 * subject.arm_reach, m), 15.0, body))
    return joints


def lunge_stance(subject: Subject, severity: dict[str, float]) -> tuple[np.ndarray, np.ndarray, float]:
    """Pelvis centre (3,) at the bottom of a lunge, toes (2, 3) of both feet, back heel raise (degrees).

    The front leg's angles at the bottom (depth, knee_over_toe) give the pelvis; the back foot is
    placed so that the back knee is at the height the back_knee severity asks for.
    """
    body, front, back = subject.body, subject.lead_side, 1 - subject.lead_side
    half_stance = subject.stance * body.hip_width / 2
    front_ankle = np.array([SIDE_SIGN[front] * half_stance, body.ankle_height, 0.0])
    thigh = np.array([lerp(92.0, 50.0, severity["depth"])])
    shank = np.array([6.0 + 30.0 * severity["knee_over_toe"]])
    _, hip = leg_from_ankle(front_ankle[None], FORWARD, shank, thigh, body)
    pelvis = np.array([0.0, hip[0, 1], hip[0, 2]])
    hip_height, back_raise = pelvis[1], 55.0
    knee_height = max(float(lerp(0.06, 0.34, severity["back_knee"])) * body.height / 1.75, hip_height - body.thigh)
    knee_z = pelvis[2] - np.sqrt(max(body.thigh**2 - (hip_height - knee_height) ** 2, 0.0))
    ankle_from_toe = foot_points(np.zeros(3), FORWARD, np.array([back_raise]), body)[0][0]
    ankle_z = knee_z - np.sqrt(max(body.shank**2 - (knee_height - ankle_from_toe[1]) ** 2, 0.0))
    toes = np.zeros((2, 3))
    toes[front] = front_ankle + np.array([0.0, -body.ankle_height, 0.72 * body.foot])
    toes[back] = [SIDE_SIGN[back] * half_stance, 0.0, ankle_z - ankle_from_toe[2]]
    return pelvis, toes, back_raise


def lunge_joints(subject: Subject, severity: dict[str, float], timeline: Timeline) -> Joints:
    """Stationary lunge (split squat): feet planted, the pelvis goes straight down and up; both legs
    by inverse kinematics.

    Faults: depth (front thigh angle at the bottom), knee_over_toe (front shank angle), torso_lean,
    back_knee (back knee height at the bottom), balance (sideways sway of the pelvis and trunk and a
    wobbling front knee); tempo acts through the timeline.
    """
    body, m = subject.body, timeline.depth
    pelvis_bottom, toes, back_raise = lunge_stance(subject, severity)
    raises = [np.zeros_like(m), np.zeros_like(m)]
    raises[1 - subject.lead_side] = np.full_like(m, back_raise)
    joints = feet(toes, [FORWARD, FORWARD], raises, body)
    ankles = joints["ankle"][0]
    reach = 0.96 * (body.thigh + body.shank)  # at the top, hips as high as nearly straight legs allow
    top = min(
        ankles[side, 1] + np.sqrt(max(reach**2 - (pelvis_bottom[2] - ankles[side, 2]) ** 2, 0.0)) for side in SIDES
    )
    sway = severity["balance"] * np.sin(2 * np.pi * 1.3 * timeline.times + 7.0 * severity["balance"])
    pelvis = lerp(pelvis_bottom + UP * (top - pelvis_bottom[1]), pelvis_bottom, m[:, None])
    pelvis = pelvis + 0.07 * sway[:, None] * LEFT_AXIS
    hips = pelvis[:, None] + SIDE_SIGN[None, :, None] * LEFT_AXIS * body.hip_width / 2
    wobble = -SIDE_SIGN[subject.lead_side] * 0.6 * sway[:, None] * LEFT_AXIS
    bends = [FORWARD + wobble * (side == subject.lead_side) for side in SIDES]
    knees = [two_link(hips[:, side], joints["ankle"][:, side], body.thigh, body.shank, bends[side]) for side in SIDES]
    joints.update(hip=hips, knee=stack_sides(*knees))
    lean = 3.0 + (5.0 + 35.0 * severity["torso_lean"]) * m
    joints.update(trunk(hips, lean, np.zeros_like(m), subject.neck_flex, 10.0 * sway, body))
    joints.update(arms_forward(joints["shoulder"], lerp(5.0, 5.0 + 40.0 * subject.arm_reach, m), 20.0, body))
    return joints


def arm_span(body: Body, elbow_angle: float) -> float:
    """Shoulder-to-wrist distance at an elbow angle (degrees; 180 = straight arm)."""
    upper, fore = body.upper_arm, body.forearm
    return float(np.sqrt(upper**2 + fore**2 - 2 * upper * fore * np.cos(np.radians(elbow_angle))))


def pushup_joints(subject: Subject, severity: dict[str, float], timeline: Timeline) -> Joints:
    """Push-up: toes and hands planted; the body pivots about the ankles as the elbows bend, arms by
    inverse kinematics.

    Faults: depth (elbow angle at the bottom), hip_sag / hip_pike (hips below / above the
    ankle-shoulder line), elbow_flare (elbows out instead of back), lockout (elbows still bent at the
    top); tempo acts through the timeline.
    """
    body, m = subject.body, timeline.depth
    toes = np.array([SIDE_SIGN[side] * 0.55 * body.hip_width * LEFT_AXIS for side in SIDES])
    joints = feet(toes, [FORWARD, FORWARD], [np.full_like(m, 75.0)] * 2, body)
    ankle = joints["ankle"].mean(axis=1)
    leg, length = body.thigh + body.shank, body.thigh + body.shank + body.torso
    # Shoulder height from the elbow angle: arms about vertical, hands wider than the shoulders.
    hand_half, wrist_height = subject.stance * body.shoulder_width / 2, 0.04
    sideways = hand_half - body.shoulder_width / 2
    elbow_top = 178.0 - 40.0 * severity["lockout"]
    elbow_bottom = min(float(lerp(70.0, 150.0, severity["depth"])), elbow_top - 8.0)
    heights = [
        wrist_height + np.sqrt(max(arm_span(body, angle) ** 2 - sideways**2, 0.01))
        for angle in (elbow_top, elbow_bottom)
    ]
    elevation = np.arcsin(np.clip((lerp(*heights, m) - ankle[:, 1]) / length, -1.0, 1.0))
    along = np.stack([np.zeros_like(m), np.sin(elevation), np.cos(elevation)], axis=1)
    normal = np.stack([np.zeros_like(m), np.cos(elevation), -np.sin(elevation)], axis=1)
    offset = (0.20 * severity["hip_pike"] - 0.16 * severity["hip_sag"]) * lerp(0.6, 1.0, m)
    hip_centre = ankle + leg * along + offset[:, None] * normal
    hips = hip_centre[:, None] + SIDE_SIGN[None, :, None] * LEFT_AXIS * body.hip_width / 2
    knees = joints["ankle"] + body.shank / leg * (hips - joints["ankle"]) + 0.01 * normal[:, None]
    joints.update(hip=hips, knee=knees)
    to_shoulders = ankle + length * along - hip_centre
    lean = np.degrees(np.arctan2(to_shoulders[:, 2], to_shoulders[:, 1]))
    joints.update(trunk(hips, lean, np.zeros_like(m), subject.neck_flex, np.zeros_like(m), body))
    # Hands under the shoulders at the top; elbows bend backwards, flaring out with the fault.
    top_z = float(joints["shoulder"][int(np.argmin(m)), 0, 2])
    flare = np.radians(float(lerp(25.0, 80.0, severity["elbow_flare"])))
    arms: dict[str, list[np.ndarray]] = {"elbow": [], "wrist": [], "finger": [], "thumb": []}
    for side in SIDES:
        wrist = np.broadcast_to([SIDE_SIGN[side] * hand_half, wrist_height, top_z], (len(m), 3))
        bend = -np.cos(flare) * FORWARD + np.sin(flare) * SIDE_SIGN[side] * LEFT_AXIS + 0.3 * UP
        arms["elbow"].append(two_link(joints["shoulder"][:, side], wrist, body.upper_arm, body.forearm, bend))
        arms["wrist"].append(wrist)
        arms["finger"].append(np.broadcast_to(unit(FORWARD + 0.2 * SIDE_SIGN[side] * LEFT_AXIS), (len(m), 3)))
        arms["thumb"].append(np.broadcast_to(-SIDE_SIGN[side] * LEFT_AXIS, (len(m), 3)))
    joints.update({key: np.stack(values, axis=1) for key, values in arms.items()})
    return joints


@dataclass(frozen=True)
class Exercise:
    """An exercise: its faults with their penalty weights and its kinematics."""

    name: str
    weights: dict[str, float]  # fault -> score points lost at severity 1
    joints: Callable[[Subject, dict[str, float], Timeline], Joints]
    rep_seconds: tuple[float, float]  # range of comfortable repetition durations
    fast_seconds: float  # duration of a repetition at tempo severity 1
    exclusive: tuple[tuple[str, str], ...] = ()  # fault pairs a subject has only one of

    @property
    def faults(self) -> tuple[str, ...]:
        return tuple(self.weights)


EXERCISE_MODELS: dict[str, Exercise] = {
    "squat": Exercise(
        name="squat",
        weights={
            "depth": 40.0,
            "knee_valgus": 18.0,
            "torso_lean": 22.0,
            "heel_lift": 14.0,
            "tempo": 6.0,
            "asymmetry": 12.0,
        },
        joints=squat_joints,
        rep_seconds=(2.2, 3.4),
        fast_seconds=0.9,
    ),
    "pushup": Exercise(
        name="pushup",
        weights={
            "depth": 40.0,
            "hip_sag": 24.0,
            "hip_pike": 20.0,
            "elbow_flare": 16.0,
            "lockout": 16.0,
            "tempo": 6.0,
        },
        joints=pushup_joints,
        rep_seconds=(1.8, 3.0),
        fast_seconds=0.8,
        exclusive=(("hip_sag", "hip_pike"),),
    ),
    "lunge": Exercise(
        name="lunge",
        weights={
            "depth": 40.0,
            "knee_over_toe": 18.0,
            "torso_lean": 20.0,
            "back_knee": 20.0,
            "balance": 12.0,
            "tempo": 6.0,
        },
        joints=lunge_joints,
        rep_seconds=(2.4, 3.6),
        fast_seconds=1.0,
    ),
}


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


# --------------------------------------------------------------------------------------------------
# Camera: projection, visibility, noise, missed detections


def camera_axes(camera: Camera, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Camera position (3,) and rotation (3, 3) whose rows are image right, image down, viewing direction."""
    yaw, pitch = np.radians(camera.yaw), np.radians(camera.pitch)
    offset = np.array([np.sin(yaw) * np.cos(pitch), np.sin(pitch), np.cos(yaw) * np.cos(pitch)])
    view = -offset
    right = unit(np.cross(view, UP))
    return target + camera.distance * offset, np.stack([right, np.cross(view, right), view])


def project(points: np.ndarray, camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    """Image x, y (T, 33, 2) in 0..1 (y down) and BlazePose-like z (T, 33) of world points.

    The whole clip is framed so the person's larger extent is ``camera.fill`` of the image, centred
    at ``camera.centre`` (kept inside the image up to a small margin). z is the depth relative to the
    hip centre, on x's scale (smaller = closer to the camera).
    """
    position, rotation = camera_axes(camera, points.reshape(-1, 3).mean(axis=0))
    local = (points - position) @ rotation.T
    plane = local[..., :2] / local[..., 2:]
    roll = np.radians(camera.roll)
    plane = plane @ np.array([[np.cos(roll), np.sin(roll)], [-np.sin(roll), np.cos(roll)]])
    low, high = plane.reshape(-1, 2).min(axis=0), plane.reshape(-1, 2).max(axis=0)
    span = (high - low) * np.array([1.0 / camera.aspect, 1.0])
    focal = camera.fill / span.max()
    scale = np.array([focal / camera.aspect, focal])
    size = span * focal
    centre = np.clip(camera.centre, size / 2 - 0.03, 1.0 - size / 2 + 0.03)
    xy = (plane - (low + high) / 2) * scale + centre
    hip_depth = local[:, [LEFT_HIP, RIGHT_HIP], 2].mean(axis=1, keepdims=True)
    z = (local[..., 2] - hip_depth) * scale[0] / hip_depth
    return xy, z


def visibility(
    points: np.ndarray, normals: np.ndarray, camera: Camera, xy: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """(T, 33) BlazePose-like visibility: high facing the camera, lower turned away (more so for
    far-side hands and feet), low outside the image; per-clip and per-point noise."""
    position, _ = camera_axes(camera, points.reshape(-1, 3).mean(axis=0))
    facing = np.sum(normals * unit(position - points), axis=-1)
    logit = 3.0 + 2.5 * facing + 1.5 * DISTAL * np.minimum(facing, 0.0)
    outside = np.any((xy < 0.0) | (xy > 1.0), axis=-1)
    steady = rng.normal(0.0, 0.5, size=logit.shape[1:])  # a point's confidence is stable over the clip
    logit = logit - 5.0 * outside + rng.normal(0.0, 0.4) + steady + rng.normal(0.0, 0.25, size=logit.shape)
    return 1.0 / (1.0 + np.exp(-logit))


def add_jitter(
    xy: np.ndarray, z: np.ndarray, visible: np.ndarray, camera: Camera, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Detector noise: a per-frame shift of the whole figure plus per-point jitter, larger for
    poorly visible points; z noisier than x, y."""
    sd = 0.004 * camera.fill * (1.0 + 2.0 * (1.0 - visible))
    common = rng.normal(0.0, 0.003 * camera.fill, size=(len(xy), 1, 2))
    xy = xy + common + rng.normal(size=xy.shape) * sd[..., None]
    return xy, z + rng.normal(size=z.shape) * 3.0 * sd


def detections(miss_rate: float, rng: np.random.Generator) -> np.ndarray:
    """(NUM_FRAMES,) bool: frames where the detector found the person (scattered misses, sometimes a
    run of several); at least MIN_DETECTED frames are kept."""
    detected = rng.random(NUM_FRAMES) >= miss_rate * rng.uniform(0.0, 2.0)
    if rng.random() < miss_rate * 2:
        start = int(rng.integers(NUM_FRAMES - 4))
        detected[start : start + int(rng.integers(2, 5))] = False
    if detected.sum() < MIN_DETECTED:
        detected[rng.permutation(np.flatnonzero(~detected))[: MIN_DETECTED - detected.sum()]] = True
    return detected


def render_pose(
    joints: Joints, subject: Subject, camera: Camera, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Joints -> (NUM_FRAMES, 33, 4) float32 landmarks as BlazePose returns them, and detected flags."""
    points, normals = landmarks_3d(joints, subject.body)
    xy, z = project(points, camera)
    visible = visibility(points, normals, camera, xy, rng)
    xy, z = add_jitter(xy, z, visible, camera, rng)
    detected = detections(subject.miss_rate, rng)
    landmarks = np.concatenate([xy, z[..., None], visible[..., None]], axis=-1).astype(np.float32)
    landmarks[~detected] = 0.0
    return landmarks, detected


# --------------------------------------------------------------------------------------------------
# Scores and repetitions


def form_score(severity: dict[str, float], weights: dict[str, float], rng: np.random.Generator) -> float:
    """``100 - sum(weight * severity)`` plus rater noise, clipped to 0..SCORE_SCALE, 0.1 resolution."""
    true_score = SCORE_SCALE - sum(weights[fault] * severity[fault] for fault in weights)
    return round(float(np.clip(true_score + rng.normal(0.0, RATER_NOISE_SD), 0.0, SCORE_SCALE)), 1)


@dataclass(frozen=True)
class Repetition:
    """One generated repetition: its pose sequence and its manifest row."""

    sequence: PoseSequence
    score: float
    severity: dict[str, float]
    camera: Camera
    seconds: float


def make_repetition(
    exercise: Exercise, subject: Subject, index: int, count: int, rng: np.random.Generator
) -> Repetition:
    """Repetition ``index`` of ``count`` by ``subject`` (later repetitions a little more tired)."""
    severity = sample_severities(subject.habits, 0.1 * index / max(count - 1, 1), rng)
    seconds = float(
        lerp(subject.comfortable_seconds, exercise.fast_seconds, severity["tempo"]) * rng.uniform(0.93, 1.07)
    )
    timeline = sample_timeline(seconds, severity["tempo"], rng)
    camera = jitter_camera(subject.camera, rng)
    landmarks, detected = render_pose(exercise.joints(subject, severity, timeline), subject, camera, rng)
    sequence = PoseSequence(landmarks, detected, timeline.frame_indices, timeline.total_frames, camera.aspect)
    return Repetition(sequence, form_score(severity, exercise.weights, rng), severity, camera, seconds)


def subject_rng(seed: int, exercise: str, subject: int, *more: int) -> np.random.Generator:
    """Independent, reproducible random stream per (seed, exercise, subject[, repetition])."""
    return np.random.default_rng([seed, list(EXERCISE_MODELS).index(exercise), subject, *more])


def manifest_row(video: str, subject: Subject, rep: Repetition, faults: Sequence[str]) -> dict[str, str]:
    """CSV row: video path, score, subject, view, camera yaw, repetition seconds, fault severities."""
    row = {
        "video": video,
        "score": f"{rep.score:.1f}",
        "subject": subject.name,
        "view": subject.view,
        "yaw": f"{rep.camera.yaw:.1f}",
        "seconds": f"{rep.seconds:.2f}",
    }
    return row | {fault: f"{rep.severity[fault]:.3f}" for fault in faults}


def write_csv_atomic(path: Path, rows: list[dict[str, str]]) -> None:
    """Write ``rows`` as CSV to ``path`` via a temp file in the same folder and ``os.replace``."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    descriptor, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            handle.write(buffer.getvalue())
        os.chmod(temp_name, 0o644)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def generate_exercise(
    data_dir: Path, exercise: str, seed: int, train_subjects: int, test_subjects: int, reps_per_subject: int
) -> Path:
    """Write one exercise's train/test pose files and its scores CSV; return the CSV path."""
    model = EXERCISE_MODELS[exercise]
    train_folder, test_folder, csv_name = EXERCISES[exercise]
    rows = []
    for number in range(1, train_subjects + test_subjects + 1):
        subject = sample_subject(f"s{number:02d}", model, subject_rng(seed, exercise, number))
        folder = train_folder if number <= train_subjects else test_folder
        (data_dir / folder).mkdir(parents=True, exist_ok=True)
        for index in range(reps_per_subject):
            rep = make_repetition(model, subject, index, reps_per_subject, subject_rng(seed, exercise, number, index))
            video = f"{folder}/{subject.name}_rep{index + 1:03d}{POSE_FILE_SUFFIX}"
            save_pose(data_dir / video, rep.sequence)
            rows.append(manifest_row(video, subject, rep, model.faults))
    csv_path = data_dir / csv_name
    write_csv_atomic(csv_path, rows)
    return csv_path


def generate_demo_data(
    data_dir: Path,
    seed: int = 0,
    exercises: Sequence[str] = ("squat", "pushup", "lunge"),
    train_subjects: int = TRAIN_SUBJECTS,
    test_subjects: int = TEST_SUBJECTS,
    reps_per_subject: int = REPS_PER_SUBJECT,
) -> dict[str, Path]:
    """Write the demo data set under ``data_dir`` in the original layout; return exercise -> CSV path.

    Subjects ``s01..`` up to ``train_subjects`` go to the train folder, the next ``test_subjects`` to
    the test folder (no person in both). Files of the same names are replaced, other files are left
    alone: the CSV lists exactly this run's repetitions.
    """
    unknown = [name for name in exercises if name not in EXERCISE_MODELS]
    if unknown:
        raise ValueError(f"unknown exercise(s) {unknown}; choose from {list(EXERCISE_MODELS)}")
    if min(train_subjects, test_subjects, reps_per_subject) < 1:
        raise ValueError("train_subjects, test_subjects and reps_per_subject must be at least 1")
    data_dir = Path(data_dir)
    return {
        name: generate_exercise(data_dir, name, seed, train_subjects, test_subjects, reps_per_subject)
        for name in exercises
    }


def summary(csv_path: Path) -> str:
    """One line per split: repetitions, subjects, score mean and standard deviation."""
    with open(csv_path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    lines = []
    for split in ("train", "test"):
        chosen = [row for row in rows if row["video"].split("/")[0].endswith(split)]
        scores = np.array([float(row["score"]) for row in chosen])
        subjects = len({row["subject"] for row in chosen})
        lines.append(
            f"  {split:5s}: {len(chosen):4d} repetitions, {subjects:2d} subjects, "
            f"score {scores.mean():5.1f} +- {scores.std():4.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: write the demo data set and print what was written."""
    parser = argparse.ArgumentParser(description="Write the embedded demo data set (pose files + score CSVs).")
    parser.add_argument("--data_dir", type=Path, default=Path("data"), help="output folder (default: data)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--exercises", nargs="+", choices=list(EXERCISE_MODELS), default=list(EXERCISE_MODELS))
    parser.add_argument("--train_subjects", type=int, default=TRAIN_SUBJECTS)
    parser.add_argument("--test_subjects", type=int, default=TEST_SUBJECTS)
    parser.add_argument("--reps_per_subject", type=int, default=REPS_PER_SUBJECT)
    args = parser.parse_args(argv)
    written = generate_demo_data(
        args.data_dir,
        args.seed,
        args.exercises,
        args.train_subjects,
        args.test_subjects,
        args.reps_per_subject,
    )
    for exercise, csv_path in written.items():
        print(f"{exercise}: {csv_path}")
        print(summary(csv_path))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
