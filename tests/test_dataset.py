"""Score CSV validation: every bad input gets an error naming the file and the line; skip drops exactly those."""

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from preprocessing.cache import PoseSequence, save_pose
from preprocessing.dataset import DataValidationError, check_detections, load_scores

HEADER = "video,score,subject\n"
GOOD_ROWS = "squats_train/a.mp4,80,s1\nsquats_train/b.pose.npz,55.5,s2\nsquats_test/c.mp4,10,s3\n"


def write_video(path: Path, frames: int = 4) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 10, (32, 24))
    for index in range(frames):
        writer.write(np.full((24, 32, 3), 40 * index, np.uint8))
    writer.release()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """The original layout with two real videos, a pose file and a few bad files."""
    data = tmp_path / "data"
    for folder in ("squats_train", "squats_test", "elsewhere"):
        (data / folder).mkdir(parents=True)
    write_video(data / "squats_train" / "a.mp4")
    write_video(data / "squats_test" / "c.mp4")
    write_video(data / "elsewhere" / "d.mp4")
    rng = np.random.default_rng(0)
    for name in ("b", "p0", "p1", "p2", "p3", "p4"):
        save_pose(
            data / "squats_train" / f"{name}.pose.npz",
            PoseSequence(rng.uniform(0, 1, (16, 33, 4)).astype(np.float32), np.ones(16, bool), np.arange(16), 16),
        )
    (data / "squats_train" / "notes.txt").write_text("not a video")
    (data / "squats_train" / "broken.mp4").write_bytes(b"\x00garbage" * 50)
    (data / "squats_train" / "broken.pose.npz").write_bytes(b"PK\x03\x04 truncated")
    return data


def write_csv(data_dir: Path, text: str, name: str = "squat_scores.csv") -> Path:
    path = data_dir / name
    path.write_text(text)
    return path


def test_good_csv_loads_with_absolute_paths_splits_and_subjects(data_dir):
    csv = write_csv(data_dir, HEADER + GOOD_ROWS)
    rows = load_scores(csv, data_dir)
    assert rows["video"].tolist() == [
        str(data_dir / "squats_train" / "a.mp4"),
        str(data_dir / "squats_train" / "b.pose.npz"),
        str(data_dir / "squats_test" / "c.mp4"),
    ]
    assert rows["score"].tolist() == [80.0, 55.5, 10.0]
    assert rows["split"].tolist() == ["train", "train", "test"]
    assert rows["group"].tolist() == ["s1", "s2", "s3"]  # subject (or group) column: the grouping
    assert rows["line"].tolist() == [2, 3, 4]


def test_absolute_paths_and_csv_without_subject(data_dir):
    video = data_dir / "squats_test" / "c.mp4"
    rows = load_scores(write_csv(data_dir, f"video,score\n{video},0\nsquats_train/a.mp4,100\n"), data_dir)
    assert rows["video"].tolist() == [str(video), str(data_dir / "squats_train" / "a.mp4")]
    assert "subject" not in rows.columns and rows["score"].tolist() == [0.0, 100.0]


def test_blank_lines_are_ignored_but_counted(data_dir):
    csv = write_csv(data_dir, HEADER + "squats_train/a.mp4,80,s1\n\n , ,\nsquats_test/c.mp4,101,s3\n\n")
    with pytest.raises(DataValidationError) as raised:
        load_scores(csv, data_dir)
    assert "1 problem(s)" in str(raised.value) and f"{csv} line 5: score 101 is outside" in str(raised.value)


def test_exercise_comes_from_csv_name_or_argument(data_dir):
    csv = write_csv(data_dir, HEADER + GOOD_ROWS, name="my_scores.csv")
    with pytest.raises(DataValidationError, match="my_scores.csv: unknown scores CSV name"):
        load_scores(csv, data_dir)
    assert len(load_scores(csv, data_dir, exercise="squat")) == 3
    with pytest.raises(DataValidationError, match="not inside PushUps_train/ or PushUps_test/"):
        load_scores(csv, data_dir, exercise="pushup")


@pytest.mark.parametrize(
    "content, problem",
    [
        (None, "scores CSV not found"),
        (b"", "not a readable CSV"),
        (b"\xff\xfe\x00\x81binary\x00\xc3(" * 20, "not a readable CSV"),
        (b'video,score\n"unclosed,1\n', "not a readable CSV"),
        (b"path,rating\nsquats_train/a.mp4,80\n", "missing column(s) video, score or label (found: path, rating)"),
        (b"video,rating\nsquats_train/a.mp4,80\n", "missing column(s) score"),
    ],
    ids=["missing", "empty", "binary", "bad-quoting", "no-columns", "no-score"],
)
def test_bad_csv_file_raises_naming_it(data_dir, content, problem):
    csv = data_dir / "squat_scores.csv"
    if content is not None:
        csv.write_bytes(content)
    for policy in ("fail", "skip"):  # a bad file cannot be skipped row by row
        with pytest.raises(DataValidationError) as raised:
            load_scores(csv, data_dir, policy=policy)
        assert str(raised.value).startswith(str(csv)) and problem in str(raised.value)


BAD_ROWS = {
    "missing-video": ("squats_train/absent.mp4,50,s4", "absent.mp4: file not found"),
    "duplicate": ("squats_train/a.mp4,70,s1", "a.mp4: duplicate of line 2"),
    "duplicate-spelled-differently": ("squats_train/../squats_train/a.mp4,70,s1", "duplicate of line 2"),
    "nan-score": ("squats_train/p0.pose.npz,nan,s4", "score is NaN"),
    "empty-score": ("squats_train/p1.pose.npz,,s4", "score '' is missing or not a number"),
    "text-score": ("squats_train/p2.pose.npz,good,s4", "score 'good' is missing or not a number"),
    "score-above": ("squats_train/p3.pose.npz,120,s4", "score 120 is outside 0..100"),
    "score-below": ("squats_train/p4.pose.npz,-0.5,s4", "score -0.5 is outside 0..100"),
    "not-video": ("squats_train/notes.txt,50,s4", "notes.txt: not a video file (extension '.txt')"),
    "unreadable-video": ("squats_train/broken.mp4,50,s4", "broken.mp4: not a readable video"),
    "corrupt-pose-file": ("squats_train/broken.pose.npz,50,s4", "broken.pose.npz: unreadable"),
    "outside-folders": ("elsewhere/d.mp4,50,s4", "d.mp4: not inside squats_train/ or squats_test/"),
    "empty-path": (",50,s4", "empty video path"),
}


@pytest.mark.parametrize("row, problem", BAD_ROWS.values(), ids=BAD_ROWS.keys())
def test_each_bad_row_fails_naming_file_line_and_problem(data_dir, row, problem):
    csv = write_csv(data_dir, HEADER + GOOD_ROWS + row + "\n")  # the bad row is line 5
    with pytest.raises(DataValidationError) as raised:
        load_scores(csv, data_dir)
    message = str(raised.value)
    assert f"1 problem(s) in {csv}" in message
    assert f"{csv} line 5: " in message and problem in message
    assert "Traceback" not in message and "cv2.error" not in message
    if "duplicate" not in problem:  # the same row alone in its own CSV is caught too
        lone = write_csv(data_dir, HEADER + row + "\n")
        with pytest.raises(DataValidationError) as raised:
            load_scores(lone, data_dir)
        assert f"{lone} line 2: " in str(raised.value) and problem in str(raised.value)


def test_all_problems_are_listed_at_once(data_dir):
    rows = "\n".join(row for row, _ in BAD_ROWS.values())
    csv = write_csv(data_dir, HEADER + GOOD_ROWS + rows + "\n")
    with pytest.raises(DataValidationError) as raised:
        load_scores(csv, data_dir)
    message = str(raised.value)
    assert f"{len(BAD_ROWS)} problem(s)" in message
    for line, (_, problem) in enumerate(BAD_ROWS.values(), start=5):
        assert f"line {line}: " in message and problem in message


def test_skip_drops_exactly_the_bad_rows_with_a_warning_each(data_dir, caplog):
    rows = "\n".join(row for row, _ in BAD_ROWS.values())
    csv = write_csv(data_dir, HEADER + "squats_train/a.mp4,80,s1\n" + rows + "\nsquats_test/c.mp4,10,s3\n")
    with caplog.at_level(logging.WARNING, logger="preprocessing.dataset"):
        kept = load_scores(csv, data_dir, policy="skip")
    assert kept["line"].tolist() == [2, 3 + len(BAD_ROWS)]
    assert kept["video"].str.endswith(("a.mp4", "c.mp4")).all() and kept["score"].tolist() == [80.0, 10.0]
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == len(BAD_ROWS)
    for line, (message, (_, problem)) in enumerate(zip(warnings, BAD_ROWS.values(), strict=False), start=3):
        assert message.startswith(f"{csv} line {line}: ") and problem in message and "skipped" in message


def test_unknown_policy_is_rejected(data_dir):
    with pytest.raises(ValueError, match="policy"):
        load_scores(write_csv(data_dir, HEADER + GOOD_ROWS), data_dir, policy="ignore")  # type: ignore[arg-type]  # an invalid policy on purpose


def test_videos_without_a_person_fail_or_are_skipped(data_dir, caplog):
    csv = write_csv(data_dir, HEADER + GOOD_ROWS)
    rows = load_scores(csv, data_dir)
    detected_any = dict(zip(rows["video"], [True, False, True], strict=False))
    with pytest.raises(DataValidationError) as raised:
        check_detections(rows, detected_any, csv)
    assert f"{csv} line 3: {rows['video'][1]}: no person detected in any sampled frame" in str(raised.value)
    with caplog.at_level(logging.WARNING, logger="preprocessing.dataset"):
        kept = check_detections(rows, detected_any, csv, policy="skip")
    assert kept["line"].tolist() == [2, 4]
    assert len(caplog.records) == 1 and "line 3" in caplog.records[0].getMessage()
    assert check_detections(rows, dict.fromkeys(rows["video"], True), csv).equals(rows)
