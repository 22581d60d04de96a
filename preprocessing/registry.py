"""The exercises: one frozen record each, holding every fact the pipeline keys by exercise.

``EXERCISES`` maps a name to its ``ExerciseSpec``; ``Exercise`` is the same names as a type (the
command lines' choices), checked against the registry at import.
"""

import typing
from dataclasses import dataclass
from typing import Literal

from preprocessing.landmarks import HIP, KNEE, SHOULDER, Landmark


@dataclass(frozen=True)
class RepSignal:
    """Which landmarks move in a repetition, and how deep (body sizes) a repetition must go."""

    points: tuple[Landmark, ...]  # landmarks whose mean image height is the signal
    min_depth: float

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


Exercise = Literal["squat", "pushup", "lunge"]
EXERCISES: dict[str, ExerciseSpec] = {
    spec.name: spec
    for spec in (
        ExerciseSpec("squat", "squats_train", "squats_test", "squat_scores.csv", RepSignal(HIP, 0.12)),
        ExerciseSpec("pushup", "PushUps_train", "PushUps_test", "pushup_scores.csv", RepSignal(SHOULDER, 0.12)),
        ExerciseSpec("lunge", "lunges_train", "lunges_test", "lunge_scores.csv", RepSignal((*HIP, *KNEE), 0.12)),
    )
}
if set(typing.get_args(Exercise)) != set(EXERCISES):
    raise AssertionError(f"Exercise {typing.get_args(Exercise)} differs from the registry's {tuple(EXERCISES)}")
