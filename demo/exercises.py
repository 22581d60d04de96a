"""The exercises: squat, push-up and lunge as joint angles / targets over a repetition (``m`` = the
timeline's depth) that depend on the form faults' severities (0..1); the subjects who perform them
(proportions, camera set-up, fault tendencies, style); and the score, ``100 - sum(weight * severity)``
over the exercise's faults plus rater noise, clipped to 0..100.

Everything is drawn from ``numpy.random.default_rng`` seeded with (seed, exercise, subject[, repetition])
(``subject_rng``), so the data is identical for the same seed and sizes.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from demo.camera import MISS_RATES, VIEW_PROBABILITIES, VIEWS, Camera, sample_camera
from demo.skeleton import (
    FORWARD,
    LEFT_AXIS,
    SIDE_SIGN,
    SIDES,
    UP,
    Body,
    Joints,
    arms_forward,
    feet,
    foot_points,
    leg_from_ankle,
    lerp,
    place_hips,
    sample_body,
    stack_sides,
    trunk,
    turned_out,
    two_link,
    unit,
)
from demo.timeline import Timeline
from preprocessing.constants import SCORE_SCALE

# Data-set design: the spread of style is kept moderate so that a small model learns the faults
# rather than who the subject is.
RATER_NOISE_SD = 3.5  # score points, as between human raters
REP_SPREAD = 0.45  # per-repetition spread of fault severities around the subject's habit
MIN_LUNGE_DROP = 0.05  # leg lengths the pelvis goes down in every lunge (see feasible_lunge)
STYLE_RANGES = {
    "stance": (1.3, 1.7),
    "toe_out": (8.0, 18.0),
    "arm_reach": (0.3, 0.7),
    "neck_flex": (-5.0, 15.0),
}


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


# --------------------------------------------------------------------------------------------------
# Exercises: joint angles and targets over a repetition (``m`` = timeline depth), from the severities


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


def lunge_top(subject: Subject, pelvis_bottom: np.ndarray, toes: np.ndarray, back_raise: float) -> float:
    """Pelvis height at the top of a lunge: as high as both nearly straight legs reach from the feet."""
    body = subject.body
    raises = [np.zeros(1), np.zeros(1)]
    raises[1 - subject.lead_side] = np.full(1, back_raise)
    ankles = feet(toes, [FORWARD, FORWARD], raises, body)["ankle"][0]
    reach = 0.96 * (body.thigh + body.shank)  # at the top, hips as high as nearly straight legs allow
    return min(
        ankles[side, 1] + np.sqrt(max(reach**2 - (pelvis_bottom[2] - ankles[side, 2]) ** 2, 0.0)) for side in SIDES
    )


def lunge_drop(subject: Subject, severity: dict[str, float]) -> float:
    """How far the pelvis goes down in a lunge with these severities, in leg lengths (< 0: it rises)."""
    pelvis, toes, back_raise = lunge_stance(subject, severity)
    return (lunge_top(subject, pelvis, toes, back_raise) - pelvis[1]) / (subject.body.thigh + subject.body.shank)


def feasible_lunge(subject: Subject, severity: dict[str, float]) -> dict[str, float]:
    """``severity`` with the back knee eased (lowered) until the pelvis goes down by at least
    MIN_LUNGE_DROP: a deep front leg with a high back knee puts the back foot so far behind that the
    legs cannot stand up from it, and the pelvis would rise in the repetition instead of falling.
    The score is then computed from the eased severities, which are the ones the body performs."""
    if lunge_drop(subject, severity) >= MIN_LUNGE_DROP:
        return severity
    low, high = 0.0, severity["back_knee"]  # bisection: the drop grows as the back knee goes lower
    for _ in range(20):
        middle = (low + high) / 2
        if lunge_drop(subject, {**severity, "back_knee": middle}) >= MIN_LUNGE_DROP:
            low = middle
        else:
            high = middle
    return {**severity, "back_knee": round(low, 6)}


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
    top = lunge_top(subject, pelvis_bottom, toes, back_raise)
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
    top_height, bottom_height = (
        wrist_height + np.sqrt(max(arm_span(body, angle) ** 2 - sideways**2, 0.01))
        for angle in (elbow_top, elbow_bottom)
    )
    elevation = np.arcsin(np.clip((lerp(top_height, bottom_height, m) - ankle[:, 1]) / length, -1.0, 1.0))
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
    feasible: Callable[[Subject, dict[str, float]], dict[str, float]] | None = None  # severities the body can do

    def performed(self, subject: Subject, severity: dict[str, float]) -> dict[str, float]:
        """The severities a repetition really has: ``severity`` made feasible for the body (``feasible``)."""
        return severity if self.feasible is None else self.feasible(subject, severity)

    @property
    def faults(self) -> tuple[str, ...]:
        """The fault names, in the scores CSV's column order."""
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
        feasible=feasible_lunge,
    ),
}


# --------------------------------------------------------------------------------------------------
# Subjects, repetitions' severities, scores


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


def sample_subject(name: str, exercise: Exercise, rng: np.random.Generator) -> Subject:
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


def form_score(severity: dict[str, float], weights: dict[str, float], rng: np.random.Generator) -> float:
    """``100 - sum(weight * severity)`` plus rater noise, clipped to 0..SCORE_SCALE, 0.1 resolution."""
    true_score = SCORE_SCALE - sum(weights[fault] * severity[fault] for fault in weights)
    return round(float(np.clip(true_score + rng.normal(0.0, RATER_NOISE_SD), 0.0, SCORE_SCALE)), 1)


def subject_rng(seed: int, exercise: str, subject: int, *more: int) -> np.random.Generator:
    """Independent, reproducible random stream per (seed, exercise, subject[, repetition])."""
    return np.random.default_rng([seed, list(EXERCISE_MODELS).index(exercise), subject, *more])
