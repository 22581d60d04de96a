"""The demo data set: repetitions written as pose files (``preprocessing.cache`` format: raw
BlazePose-like landmarks in image coordinates for the NUM_FRAMES sampled frames, so they are read and
normalised exactly like cached BlazePose output) in the original layout, with each exercise's scores
CSV; and the ``cli.py demo`` command."""

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from jsonargparse.typing import PositiveInt

from demo.camera import Camera, detections, jitter_camera, observe
from demo.exercises import (
    EXERCISE_MODELS,
    Exercise,
    Subject,
    form_score,
    sample_severities,
    sample_subject,
    subject_rng,
)
from demo.skeleton import lerp
from demo.timeline import sample_timeline
from preprocessing.cache import PoseSequence, save_pose
from preprocessing.command import run_function
from preprocessing.constants import DEFAULT_DATA_DIR, POSE_FILE_SUFFIX
from preprocessing.files import atomic_output
from preprocessing.registry import EXERCISES
from preprocessing.registry import Exercise as ExerciseName

# Default size: 48 + 12 subjects x 12 repetitions = 576 train / 144 test repetitions per exercise.
# (Measured: a BiLSTM's error relative to predicting the mean keeps falling well past 360 training
# repetitions, and more subjects with fewer repetitions each generalise better to new people.)
TRAIN_SUBJECTS, TEST_SUBJECTS, REPS_PER_SUBJECT = 48, 12, 12
ALL_EXERCISES = tuple(EXERCISE_MODELS)


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
    severity = exercise.performed(subject, sample_severities(subject.habits, 0.1 * index / max(count - 1, 1), rng))
    seconds = float(
        lerp(subject.comfortable_seconds, exercise.fast_seconds, severity["tempo"]) * rng.uniform(0.93, 1.07)
    )
    timeline = sample_timeline(seconds, severity["tempo"], rng)
    camera = jitter_camera(subject.camera, rng)
    landmarks = observe(exercise.joints(subject, severity, timeline), subject.body, camera, rng)
    detected = detections(subject.miss_rate, rng)
    landmarks[~detected] = 0.0
    sequence = PoseSequence(landmarks, detected, timeline.frame_indices, timeline.total_frames, camera.aspect)
    return Repetition(sequence, form_score(severity, exercise.weights, rng), severity, camera, seconds)


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


def write_rows(path: Path, rows: list[dict[str, str]]) -> None:
    """Write ``rows`` as CSV to ``path`` atomically (``preprocessing.files.atomic_output``)."""
    with atomic_output(path) as temp, open(temp, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def generate_exercise(
    data_dir: Path, exercise: str, seed: int, train_subjects: int, test_subjects: int, reps_per_subject: int
) -> Path:
    """Write one exercise's train/test pose files and its scores CSV; return the CSV path."""
    model = EXERCISE_MODELS[exercise]
    spec = EXERCISES[exercise]
    train_folder, test_folder, csv_name = spec.train_folder, spec.test_folder, spec.scores_csv
    rows: list[dict[str, str]] = []
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
    write_rows(csv_path, rows)
    return csv_path


def generate_demo_data(
    data_dir: Path,
    seed: int = 0,
    exercises: Sequence[str] = ALL_EXERCISES,
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
    lines: list[str] = []
    for split in ("train", "test"):
        chosen = [row for row in rows if row["video"].split("/")[0].endswith(split)]
        scores = np.array([float(row["score"]) for row in chosen])
        subjects = len({row["subject"] for row in chosen})
        lines.append(
            f"  {split:5s}: {len(chosen):4d} repetitions, {subjects:2d} subjects, "
            f"score {scores.mean():5.1f} +- {scores.std():4.1f}"
        )
    return "\n".join(lines)


def write_demo(
    data_dir: Path = Path(DEFAULT_DATA_DIR),
    seed: int = 0,
    exercises: Sequence[ExerciseName] = (),
    train_subjects: PositiveInt = TRAIN_SUBJECTS,
    test_subjects: PositiveInt = TEST_SUBJECTS,
    reps_per_subject: PositiveInt = REPS_PER_SUBJECT,
) -> None:
    """Write the embedded demo data set (pose files + score CSVs) and print what was written.

    Args:
        data_dir: Output folder.
        seed: Random seed; the same seed and sizes give the same files.
        exercises: An exercise to write: squat, pushup or lunge; none given: all three.
        train_subjects: Subjects in each exercise's train folder.
        test_subjects: Subjects in each exercise's test folder (none also in train).
        reps_per_subject: Repetitions per subject.
    """
    written = generate_demo_data(
        data_dir, seed, exercises or ALL_EXERCISES, train_subjects, test_subjects, reps_per_subject
    )
    for exercise, csv_path in written.items():
        print(f"{exercise}: {csv_path}")
        print(summary(csv_path))


def main(argv: list[str] | None = None) -> int:
    """``cli.py demo``: ``write_demo`` with its options from ``argv`` (None: ``sys.argv[1:]``); 0 when done."""
    run_function(write_demo, argv, "cli.py demo")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
