"""Embedded demo data: layout, format, determinism, kinematics, and that the scores are learnable."""

import csv
from pathlib import Path
from typing import TypedDict

import numpy as np
import pytest

from demo.camera import MIN_DETECTED, VIEWS, Camera, project, visibility
from demo.dataset import generate_demo_data
from demo.dataset import main as demo_main
from demo.exercises import (
    EXERCISE_MODELS,
    MIN_LUNGE_DROP,
    Subject,
    pushup_joints,
    sample_severities,
    sample_subject,
    squat_joints,
    subject_rng,
)
from demo.skeleton import FORWARD, landmarks_3d, two_link, unit
from demo.timeline import Timeline
from preprocessing.cache import load_pose
from preprocessing.constants import NUM_FRAMES, NUM_LANDMARKS, POSE_FILE_SUFFIX
from preprocessing.landmarks import HIP, Landmark
from preprocessing.normalize import normalize_sequence
from preprocessing.registry import EXERCISES


class Sizes(TypedDict):
    """generate_demo_data's size arguments."""

    train_subjects: int
    test_subjects: int
    reps_per_subject: int


SMALL: Sizes = {"train_subjects": 4, "test_subjects": 2, "reps_per_subject": 3}
LEARN: Sizes = {"train_subjects": 30, "test_subjects": 10, "reps_per_subject": 10}


def read_rows(csv_path: Path) -> list[dict[str, str]]:
    with open(csv_path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    data_dir = tmp_path_factory.mktemp("demo_small")
    return data_dir, generate_demo_data(data_dir, seed=0, **SMALL)


@pytest.fixture(scope="module")
def learn(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    data_dir = tmp_path_factory.mktemp("demo_learn")
    return data_dir, generate_demo_data(data_dir, seed=0, **LEARN)


def test_layout_and_manifest(small: tuple[Path, dict[str, Path]]) -> None:
    data_dir, written = small
    assert list(written) == ["squat", "pushup", "lunge"]
    for exercise, spec in EXERCISES.items():
        train_folder, test_folder, csv_name = spec.train_folder, spec.test_folder, spec.scores_csv
        assert written[exercise] == data_dir / csv_name
        rows = read_rows(data_dir / csv_name)
        faults = list(EXERCISE_MODELS[exercise].faults)
        assert list(rows[0]) == ["video", "score", "subject", "view", "yaw", "seconds", *faults]
        assert len(rows) == (SMALL["train_subjects"] + SMALL["test_subjects"]) * SMALL["reps_per_subject"]
        for row in rows:
            folder, name = row["video"].split("/")
            assert folder in (train_folder, test_folder)
            assert name.startswith(f"{row['subject']}_rep") and name.endswith(POSE_FILE_SUFFIX)
            assert (data_dir / row["video"]).is_file()
            assert row["view"] in VIEWS
        files = {p.relative_to(data_dir).as_posix() for p in data_dir.glob(f"*/*{POSE_FILE_SUFFIX}")}
        assert {row["video"] for row in rows} <= files
    assert not list(data_dir.glob(".*.tmp*")), "temp files of atomic writes left behind"


def test_subjects_disjoint_between_train_and_test(small: tuple[Path, dict[str, Path]]) -> None:
    data_dir, written = small
    for exercise, csv_path in written.items():
        rows = read_rows(csv_path)
        train = {row["subject"] for row in rows if row["video"].startswith(EXERCISES[exercise].train_folder)}
        test = {row["subject"] for row in rows if row["video"].startswith(EXERCISES[exercise].test_folder)}
        assert len(train) == SMALL["train_subjects"] and len(test) == SMALL["test_subjects"]
        assert not train & test


def test_pose_files_look_like_blazepose_output(small: tuple[Path, dict[str, Path]]) -> None:
    data_dir, written = small
    detected_landmarks, missed, frames = [], 0, 0
    for csv_path in written.values():
        for row in read_rows(csv_path):
            sequence = load_pose(data_dir / row["video"])
            assert sequence.landmarks.shape == (NUM_FRAMES, NUM_LANDMARKS, 4)
            assert sequence.landmarks.dtype == np.float32 and sequence.detected.dtype == bool
            expected = np.linspace(0, sequence.total_frames - 1, NUM_FRAMES).astype(np.int64)
            np.testing.assert_array_equal(sequence.frame_indices, expected)
            assert not sequence.landmarks[~sequence.detected].any(), "missed frames must be all zeros"
            assert sequence.detected.sum() >= MIN_DETECTED
            detected_landmarks.append(sequence.landmarks[sequence.detected])
            missed += int((~sequence.detected).sum())
            frames += NUM_FRAMES
    points = np.concatenate(detected_landmarks)
    xy, z, confidence = points[..., :2], points[..., 2], points[..., 3]
    assert np.mean((xy >= 0) & (xy <= 1)) > 0.98
    assert confidence.min() >= 0 and confidence.max() <= 1
    assert 0.05 < np.mean(confidence < 0.5) < 0.4, "some (far-side, occluded) points are poorly visible"
    hip_z = z[:, list(HIP)].mean(axis=1)
    assert np.abs(hip_z).mean() < 0.05 < np.abs(z).max(), "z is relative to the hip centre"
    assert 0.005 < missed / frames < 0.15, "some missed detections, not too many"


def test_same_seed_same_data_other_seed_other_data(tmp_path: Path, small: tuple[Path, dict[str, Path]]) -> None:
    data_dir, written = small
    again = generate_demo_data(tmp_path / "again", seed=0, exercises=["lunge"], **SMALL)["lunge"]
    other = generate_demo_data(tmp_path / "other", seed=1, exercises=["lunge"], **SMALL)["lunge"]
    assert again.read_bytes() == written["lunge"].read_bytes()
    assert other.read_bytes() != written["lunge"].read_bytes()
    for row in read_rows(written["lunge"]):
        first, second = load_pose(data_dir / row["video"]), load_pose(again.parent / row["video"])
        np.testing.assert_array_equal(first.landmarks, second.landmarks)
        np.testing.assert_array_equal(first.detected, second.detected)
        assert first.total_frames == second.total_frames
        assert not np.array_equal(first.landmarks, load_pose(other.parent / row["video"]).landmarks)


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="deadlift"):
        generate_demo_data(tmp_path, exercises=["squat", "deadlift"])
    with pytest.raises(ValueError, match="at least 1"):
        generate_demo_data(tmp_path, test_subjects=0)
    assert not list(tmp_path.iterdir()), "nothing written for bad arguments"


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--exercises", "deadlift"], "invalid choice: 'deadlift'"), (["--test_subjects", "0"], "test_subjects")],
)
def test_command_refuses_bad_arguments_with_its_usage(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        demo_main(["--data_dir", str(tmp_path / "out"), *argv])
    assert exited.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_main_writes_and_summarises(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--data_dir", str(tmp_path), "--exercises", "pushup", "--train_subjects", "2"]
    assert demo_main([*argv, "--test_subjects", "1", "--reps_per_subject", "2"]) == 0
    output = capsys.readouterr().out
    assert "pushup" in output and "4 repetitions,  2 subjects" in output and "2 repetitions,  1 subjects" in output
    assert len(read_rows(tmp_path / "pushup_scores.csv")) == 6


# --- kinematics and camera ---------------------------------------------------------------------


def timeline(depth: np.ndarray) -> Timeline:
    indices = np.arange(len(depth), dtype=np.int64)
    return Timeline(frame_indices=indices, total_frames=len(depth), times=indices / 30.0, depth=depth)


def subject(exercise: str, seed: int = 3) -> Subject:
    return sample_subject("s01", EXERCISE_MODELS[exercise], np.random.default_rng(seed))


def severities(exercise: str, **faults: float) -> dict[str, float]:
    return {fault: faults.get(fault, 0.0) for fault in EXERCISE_MODELS[exercise].faults}


def test_two_link_keeps_segment_lengths() -> None:
    rng = np.random.default_rng(0)
    root, end = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    end = root + unit(end - root) * rng.uniform(0.2, 0.75, size=(50, 1))
    middle = two_link(root, end, 0.45, 0.4, FORWARD)
    np.testing.assert_allclose(np.linalg.norm(middle - root, axis=1), 0.45, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(end - middle, axis=1), 0.4, atol=1e-9)


@pytest.mark.parametrize("exercise", ["squat", "lunge"])
def test_depth_fault_decides_hip_height_at_the_bottom(exercise: str) -> None:
    person, bottom = subject(exercise), timeline(np.array([0.0, 1.0]))
    model = EXERCISE_MODELS[exercise]
    good = model.joints(person, severities(exercise), bottom)
    shallow = model.joints(person, severities(exercise, depth=1.0), bottom)
    front = person.lead_side if exercise == "lunge" else 0
    below_knee = good["knee"][1, front, 1] - good["hip"][1, front, 1]
    assert below_knee > -0.03, "thigh at or below parallel without the depth fault"
    assert shallow["hip"][1, front, 1] - shallow["knee"][1, front, 1] > 0.2
    assert good["hip"][0, front, 1] - good["hip"][1, front, 1] > 0.25, "the hips go down"


def test_pushup_depth_and_lockout_set_the_elbow_angle() -> None:
    person, rep = subject("pushup"), timeline(np.array([0.0, 1.0]))

    def elbow_angles(**faults: float) -> np.ndarray:
        joints = pushup_joints(person, severities("pushup", **faults), rep)
        upper, fore = (
            joints["shoulder"][:, 0] - joints["elbow"][:, 0],
            joints["wrist"][:, 0] - joints["elbow"][:, 0],
        )
        cosine = np.sum(unit(upper) * unit(fore), axis=1)
        return np.degrees(np.arccos(np.clip(cosine, -1, 1)))

    top, bottom = elbow_angles()
    assert top > 160 and bottom < 100
    assert elbow_angles(depth=1.0)[1] > 135
    assert elbow_angles(lockout=1.0)[0] < 150


def test_front_view_projects_like_blazepose() -> None:
    person = subject("squat")
    joints = squat_joints(person, severities("squat"), timeline(np.zeros(4)))
    points, normals = landmarks_3d(joints, person.body)
    camera = Camera(yaw=0.0, pitch=0.0, roll=0.0, distance=3.5, fill=0.7, centre=(0.5, 0.5), aspect=16 / 9)
    xy, z = project(points, camera)
    assert np.all(xy[:, Landmark.LEFT_SHOULDER, 0] > xy[:, Landmark.RIGHT_SHOULDER, 0]), (
        "subject's left is on the image right"
    )
    assert np.all(xy[:, Landmark.NOSE, 1] < xy[:, Landmark.LEFT_ANKLE, 1]), "y grows downwards: nose above ankles"
    np.testing.assert_allclose(xy[..., 1].max() - xy[..., 1].min(), 0.7, atol=1e-6)  # framed to fill
    np.testing.assert_allclose(z[:, list(HIP)].mean(axis=1), 0.0, atol=1e-3)
    assert np.all(z[:, 0] < 0), "the nose is closer to the camera than the hips"
    side = Camera(yaw=70.0, pitch=0.0, roll=0.0, distance=3.5, fill=0.7, centre=(0.5, 0.5), aspect=16 / 9)
    visible = visibility(points, normals, side, project(points, side)[0], np.random.default_rng(0))
    assert visible[:, 11::2].mean() > visible[:, 12::2].mean() + 0.2, "far (right) side less visible"


# --- scores ------------------------------------------------------------------------------------


def test_score_is_the_known_function_of_the_faults(learn: tuple[Path, dict[str, Path]]) -> None:
    _, written = learn
    for exercise, csv_path in written.items():
        rows = read_rows(csv_path)
        weights = EXERCISE_MODELS[exercise].weights
        scores = np.array([float(row["score"]) for row in rows])
        true = np.clip(100 - np.array([sum(w * float(row[f]) for f, w in weights.items()) for row in rows]), 0, 100)
        assert scores.min() >= 0 and scores.max() <= 100
        assert scores.std() > 12 and scores.min() < 25 and scores.max() > 90, "spread over 0..100"
        residual = scores - true
        assert abs(residual.mean()) < 1.0 and 2.5 < residual.std() < 5.5, "rater noise of about 4 points"


POINTS = [0, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32]
ANGLES = [
    (11, 13, 15),
    (12, 14, 16),
    (11, 23, 25),
    (12, 24, 26),
    (23, 25, 27),
    (24, 26, 28),
    (11, 23, 27),
    (12, 24, 28),
]


def hand_features(features: np.ndarray) -> np.ndarray:
    """Rotation-invariant summary of normalised (16, 133) features: pairwise 2-D distances of key points
    and joint angles (cos, sin), each as min / max / mean over time."""
    xy = features[:, : NUM_LANDMARKS * 4].reshape(NUM_FRAMES, NUM_LANDMARKS, 4)[..., :2]
    first, second = np.triu_indices(len(POINTS), 1)
    columns = [np.linalg.norm(xy[:, POINTS][:, first] - xy[:, POINTS][:, second], axis=-1)]
    for a, b, c in ANGLES:
        u, v = xy[:, a] - xy[:, b], xy[:, c] - xy[:, b]
        angle = np.arctan2(u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0], np.sum(u * v, axis=1))
        columns.append(np.stack([np.cos(angle), np.sin(angle)], axis=1))
    per_frame = np.concatenate(columns, axis=1)
    return np.concatenate([per_frame.min(axis=0), per_frame.max(axis=0), per_frame.mean(axis=0)])


def ridge_mae(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray) -> float:
    """Test MAE of ridge regression (standardised features, alpha 30) fit on the training set."""
    mean, std = train_x.mean(axis=0), train_x.std(axis=0) + 1e-6
    design = np.c_[(train_x - mean) / std, np.ones(len(train_x))]
    penalty = 30.0 * np.eye(design.shape[1])
    penalty[-1, -1] = 0.0
    weights = np.linalg.solve(design.T @ design + penalty, design.T @ train_y)
    return float(np.abs(np.c_[(test_x - mean) / std, np.ones(len(test_x))] @ weights - test_y).mean())


@pytest.mark.parametrize("exercise", ["squat", "pushup", "lunge"])
def test_scores_are_learnable_from_normalised_poses(learn: tuple[Path, dict[str, Path]], exercise: str) -> None:
    data_dir, written = learn
    rows = read_rows(written[exercise])
    features = []
    for row in rows:
        sequence = load_pose(data_dir / row["video"])
        features.append(hand_features(normalize_sequence(sequence.landmarks, sequence.detected)))
    x, y = np.array(features), np.array([float(row["score"]) for row in rows])
    train = np.array([row["video"].startswith(EXERCISES[exercise].train_folder) for row in rows])
    baseline = float(np.abs(y[~train] - y[train].mean()).mean())
    model = ridge_mae(x[train], y[train], x[~train], y[~train])
    shuffled = ridge_mae(x[train], np.random.default_rng(0).permutation(y[train]), x[~train], y[~train])
    assert model / baseline < 0.7, f"{exercise}: MAE {model:.1f} vs predict-the-mean {baseline:.1f}"
    assert shuffled / baseline > 0.9, f"{exercise}: shuffled labels must not be learnable ({shuffled:.1f})"


def test_the_lunge_pelvis_falls_in_every_generated_rep() -> None:
    """A deep front leg with a high back knee once put the back foot so far behind that the pelvis rose
    in about a sixth of the lunges; the back knee is now eased until the pelvis goes down."""
    model, drops, eased = EXERCISE_MODELS["lunge"], [], 0
    for number in range(1, 61):
        person = sample_subject(f"s{number:02d}", model, subject_rng(0, "lunge", number))
        for index in range(12):
            wanted = sample_severities(person.habits, 0.1 * index / 11, subject_rng(0, "lunge", number, index))
            performed = model.performed(person, wanted)
            eased += performed != wanted
            assert performed["back_knee"] <= wanted["back_knee"] and performed["depth"] == wanted["depth"]
            hips = model.joints(person, performed, timeline(np.array([0.0, 1.0])))["hip"].mean(axis=1)
            drops.append((hips[0, 1] - hips[1, 1]) / (person.body.thigh + person.body.shank))
    assert min(drops) >= MIN_LUNGE_DROP - 1e-6, "the hips go down from the top to the bottom"
    assert 0.1 < eased / 720 < 0.4  # the reps that needed it, and only those
