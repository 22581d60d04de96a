"""The exercises: one frozen record each, holding every fact the pipeline keys by exercise.

``EXERCISES`` maps a name to its ``ExerciseSpec``; ``Exercise`` is the same names as a type (the
command lines' choices), checked against the registry at import.
"""

import typing
from dataclasses import dataclass
from typing import Literal

from preprocessing.landmarks import HIP, KNEE, SHOULDER, Landmark

FALLBACK_DEPTH = 0.1  # shank lengths: a squat's knees drop about 0.2 of one at moderate depth, a push-up's too


Posture = Literal["plank", "upright"]  # the body posture a repetition needs (serving.reps checks it)
BodySize = Literal["torso", "shank"]  # what a signal's heights are measured in (serving.reps)


@dataclass(frozen=True)
class RepSignal:
    """Which landmarks move in a repetition, how deep (in ``size`` units) a repetition must go, the
    posture it needs, and the signal to follow when these landmarks leave the frame."""

    points: tuple[Landmark, ...]  # landmarks whose mean image height is the signal
    min_depth: float
    name: str  # as the output reports it
    posture: Posture
    size: BodySize = "torso"
    fallback: "RepSignal | None" = None

    @property
    def enter(self) -> float:
        """Hysteresis: body sizes below the top that start a descent (and end a settle)."""
        return self.min_depth / 2


@dataclass(frozen=True)
class ExerciseSpec:
    """One exercise: its data layout (folders and scores CSV under the data folder) and its rep signal."""

    name: str
    train_folder: str
    test_folder: str
    scores_csv: str
    signal: RepSignal

    @property
    def folders(self) -> tuple[str, str]:
        """(train folder, test folder)."""
        return self.train_folder, self.test_folder


KNEES = RepSignal(KNEE, FALLBACK_DEPTH, "knees", "upright", size="shank")
SQUAT_SIGNAL = RepSignal(HIP, 0.12, "hip centre", "upright", fallback=KNEES)
PUSHUP_SIGNAL = RepSignal(
    SHOULDER, 0.12, "shoulder centre", "plank", fallback=RepSignal(KNEE, FALLBACK_DEPTH, "knees", "plank", "shank")
)
LUNGE_SIGNAL = RepSignal((*HIP, *KNEE), 0.12, "hips and knees", "upright", fallback=KNEES)
Exercise = Literal["squat", "pushup", "lunge"]
EXERCISES: dict[str, ExerciseSpec] = {
    spec.name: spec
    for spec in (
        ExerciseSpec("squat", "squats_train", "squats_test", "squat_scores.csv", SQUAT_SIGNAL),
        ExerciseSpec("pushup", "PushUps_train", "PushUps_test", "pushup_scores.csv", PUSHUP_SIGNAL),
        ExerciseSpec("lunge", "lunges_train", "lunges_test", "lunge_scores.csv", LUNGE_SIGNAL),
    )
}
if set(typing.get_args(Exercise)) != set(EXERCISES):
    raise AssertionError(f"Exercise {typing.get_args(Exercise)} differs from the registry's {tuple(EXERCISES)}")
