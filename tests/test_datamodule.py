"""ExerciseDataModule on the demo data: tensors, seeded grouped split, workers, predict, bad videos."""

import logging
import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from conftest import carphone_video

from datamodules.exercise import (
    ExerciseDataModule,
    MixedDataset,
    SequenceDataset,
    list_videos,
    pose_settings,
    split_train_val,
)
from preprocessing.cache import PoseSequence, load_pose, save_pose
from preprocessing.constants import FEATURE_DIMS, LANDMARK_DIMS, NUM_FRAMES, NUM_LANDMARKS
from preprocessing.dataset import DataValidationError, load_scores
from preprocessing.pose import PoseSettings


def fit_module(data_dir: Path, **kwargs) -> ExerciseDataModule:
    module = ExerciseDataModule(data_dir=str(data_dir), **kwargs)
    module.setup("fit")
    return module


def copy_rows(demo_data_dir: Path, target: Path, per_subject: int, keep_subject: bool = True) -> pd.DataFrame:
    """A data dir with ``per_subject`` rows of each of the first two train and test subjects of the
    demo squat CSV (files copied)."""
    rows = pd.read_csv(demo_data_dir / "squat_scores.csv")
    chosen = []
    for folder in ("squats_train", "squats_test"):
        in_folder = rows[rows.video.str.startswith(folder)]
        for subject in in_folder.subject.unique()[:2]:
            chosen.append(in_folder[in_folder.subject == subject].head(per_subject))
    rows = pd.concat(chosen)
    for video in rows.video:
        (target / video).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(demo_data_dir / video, target / video)
    rows = rows[["video", "score", "subject"] if keep_subject else ["video", "score"]]
    rows.to_csv(target / "squat_scores.csv", index=False)
    return rows


def test_batches_are_float_sequences_with_scaled_targets(demo_data_dir: Path) -> None:
    module = fit_module(demo_data_dir, batch_size=8)
    batch = next(iter(module.train_dataloader()))
    assert batch["x"].shape == (8, NUM_FRAMES, FEATURE_DIMS) and batch["x"].dtype == torch.float32
    assert batch["y"].dtype == torch.float32 and batch["index"].dtype == torch.int64
    scores = module.tables["train"]["score"].to_numpy()[batch["index"].numpy()]
    np.testing.assert_allclose(batch["y"].numpy(), scores / 100.0, rtol=1e-6)
    assert 0.0 <= float(batch["y"].min()) and float(batch["y"].max()) <= 1.0
    assert torch.isfinite(batch["x"]).all()


def test_val_split_is_grouped_by_subject_and_seeded(demo_data_dir: Path) -> None:
    table = load_scores(demo_data_dir / "squat_scores.csv", demo_data_dir)
    train_rows = table[table.split == "train"]
    train, val = split_train_val(train_rows, 0.2, seed=3)
    subjects = train_rows.group.unique()
    assert not set(train.group) & set(val.group)
    assert val.group.nunique() == round(0.2 * len(subjects))
    assert len(train) + len(val) == len(train_rows)
    again_train, again_val = split_train_val(train_rows, 0.2, seed=3)
    assert list(again_val.video) == list(val.video)
    other = {frozenset(split_train_val(train_rows, 0.2, seed)[1].group) for seed in range(4, 9)}
    assert len(other | {frozenset(val.group)}) > 1, "the seed must change which subjects are held out"


def test_split_without_subject_column_is_by_row(demo_data_dir: Path, tmp_path: Path) -> None:
    copy_rows(demo_data_dir, tmp_path, per_subject=10, keep_subject=False)
    module = fit_module(tmp_path, val_fraction=0.25)
    assert (len(module.tables["train"]), len(module.tables["val"])) == (15, 5)
    assert "group" not in module.tables["val"].columns


def test_no_validation_split_trains_on_every_train_row(demo_data_dir: Path, tmp_path: Path) -> None:
    copy_rows(demo_data_dir, tmp_path, per_subject=10)
    module = fit_module(tmp_path, val_fraction=0.0)
    assert len(module.tables["train"]) == 20 and "val" not in module.tables
    assert module.val_dataloader() == [] and np.isnan(module.baseline_mae())


def test_test_split_is_the_test_folder(demo_data_dir: Path) -> None:
    module = ExerciseDataModule(exercise="lunge", data_dir=str(demo_data_dir))
    module.setup("test")
    expected = load_scores(demo_data_dir / "lunge_scores.csv", demo_data_dir)
    expected = expected[expected.split == "test"]
    assert list(module.tables["test"]["video"]) == list(expected["video"])
    assert all("lunges_test" in video for video in module.tables["test"]["video"])
    dataset = module.test_dataloader().dataset
    assert isinstance(dataset, SequenceDataset)
    assert len(dataset) == len(expected)


def test_worker_processes_serve_the_same_batches(demo_data_dir: Path) -> None:
    serial = fit_module(demo_data_dir, exercise="pushup", batch_size=16)
    parallel = fit_module(demo_data_dir, exercise="pushup", batch_size=16, num_workers=2)
    loader = parallel.dataloader("val")
    assert loader.num_workers == 2 and loader.persistent_workers
    for expected, got in zip(serial.val_dataloader(), loader, strict=True):
        assert torch.equal(expected["x"], got["x"]) and torch.equal(expected["y"], got["y"])


def test_predict_serves_every_video_of_a_folder_without_targets(demo_data_dir: Path) -> None:
    folder = demo_data_dir / "squats_test"
    module = ExerciseDataModule(data_dir=str(demo_data_dir), predict_paths=[str(folder)], batch_size=4)
    module.setup("predict")
    assert list(module.tables["predict"]["video"]) == list_videos([str(folder)])
    assert len(module.tables["predict"]) == len(list(folder.glob("*.pose.npz")))
    batch = next(iter(module.predict_dataloader()))
    assert "y" not in batch and batch["x"].shape == (4, NUM_FRAMES, FEATURE_DIMS)


def test_predict_paths_errors_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match="missing.mp4: no such file"):
        list_videos([str(tmp_path / "missing.mp4")])
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DataValidationError, match="notes.txt: not a video file"):
        list_videos([str(tmp_path / "notes.txt")])
    with pytest.raises(DataValidationError, match="folder has no video files"):
        list_videos([str(tmp_path)])
    with pytest.raises(DataValidationError, match="predict_paths"):
        ExerciseDataModule(data_dir=str(tmp_path)).setup("predict")


def write_bad_videos(data_dir: Path) -> tuple[Path, Path]:
    """Add a corrupt pose file and one with no person in any frame to the train rows."""
    corrupt, empty = data_dir / "squats_train" / "corrupt.pose.npz", data_dir / "squats_train" / "empty.pose.npz"
    template = load_pose(next((data_dir / "squats_train").glob("*.pose.npz")))
    save_pose(
        empty,
        PoseSequence(
            np.zeros((NUM_FRAMES, NUM_LANDMARKS, LANDMARK_DIMS), np.float32),
            np.zeros(NUM_FRAMES, bool),
            template.frame_indices,
            template.total_frames,
        ),
    )
    corrupt.write_bytes(b"not an npz file")
    rows = pd.read_csv(data_dir / "squat_scores.csv")
    videos = ["squats_train/corrupt.pose.npz", "squats_train/empty.pose.npz"]
    extra = pd.DataFrame({"video": videos, "score": [50, 50], "subject": ["x", "x"]})
    pd.concat([rows, extra]).to_csv(data_dir / "squat_scores.csv", index=False)
    return corrupt, empty


def test_bad_videos_fail_by_default_naming_the_file(demo_data_dir: Path, tmp_path: Path) -> None:
    copy_rows(demo_data_dir, tmp_path, per_subject=6)
    corrupt, empty = write_bad_videos(tmp_path)
    with pytest.raises(DataValidationError, match="corrupt.pose.npz"):
        fit_module(tmp_path)
    corrupt.unlink()
    rows = pd.read_csv(tmp_path / "squat_scores.csv")
    rows[~rows.video.str.contains("corrupt")].to_csv(tmp_path / "squat_scores.csv", index=False)
    with pytest.raises(DataValidationError, match=r"empty.pose.npz: no person detected"):
        fit_module(tmp_path)


def test_skip_policy_drops_bad_videos(demo_data_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    copy_rows(demo_data_dir, tmp_path, per_subject=6)
    write_bad_videos(tmp_path)
    module = fit_module(tmp_path, bad_video_policy="skip")
    kept = set(module.tables["train"].video) | set(module.tables["val"].video)
    assert len(kept) == 12 and not any("corrupt" in v or "empty" in v for v in kept)
    assert "corrupt.pose.npz" in caplog.text and "empty.pose.npz: no person detected" in caplog.text


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="squat, pushup, lunge"):
        ExerciseDataModule(exercise="deadlift")
    with pytest.raises(ValueError, match="val_fraction"):
        ExerciseDataModule(val_fraction=1.0)
    with pytest.raises(ValueError, match="val_fraction"):
        ExerciseDataModule(val_fraction=-0.1)
    with pytest.raises(DataValidationError, match="squat_scores.csv: scores CSV not found"):
        fit_module(tmp_path)


def test_pose_settings_come_from_the_hyper_parameters() -> None:
    module = ExerciseDataModule(pose=PoseSettings(running_mode="image", min_detection_confidence=0.3))
    settings = pose_settings(dict(module.hparams))
    assert (settings.running_mode, settings.min_detection_confidence, settings.model_path) == ("image", 0.3, None)
    assert module.pose_settings == settings
    legacy = {"pose_running_mode": "image", "pose_min_detection_confidence": 0.3}  # an older checkpoint's
    assert pose_settings(legacy) == settings


def test_predict_problems_name_the_file_without_a_line(demo_data_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "corrupt.pose.npz").write_bytes(b"not an npz file")
    module = ExerciseDataModule(data_dir=str(demo_data_dir), predict_paths=[str(tmp_path)])
    with pytest.raises(DataValidationError, match="corrupt.pose.npz") as raised:
        module.setup("predict")
    assert " line " not in str(raised.value)


def write_blank_video(path: Path, frames: int = 20) -> None:
    """A short black clip: OpenCV decodes it, BlazePose finds nobody in it."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 10.0, (160, 120))
    for _ in range(frames):
        writer.write(np.zeros((120, 160, 3), np.uint8))
    writer.release()


def test_prepare_data_extracts_real_videos_then_setup_reads_the_cache(tmp_path: Path) -> None:
    carphone = carphone_video()
    for folder in ("squats_train", "squats_test"):
        (tmp_path / folder).mkdir()
    rows = []
    for name, subject in (("a", "s1"), ("b", "s2"), ("c", "s3")):
        shutil.copy(carphone, tmp_path / "squats_train" / f"{name}.mp4")
        rows.append({"video": f"squats_train/{name}.mp4", "score": 60, "subject": subject})
    write_blank_video(tmp_path / "squats_train" / "nobody.mp4")
    rows.append({"video": "squats_train/nobody.mp4", "score": 60, "subject": "s4"})
    pd.DataFrame(rows).to_csv(tmp_path / "squat_scores.csv", index=False)
    module = ExerciseDataModule(data_dir=str(tmp_path), cache_dir=str(tmp_path / "cache"), extract_workers=1)
    module.prepare_data()
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 2  # three copies of one clip share one entry
    with pytest.raises(DataValidationError, match=r"nobody.mp4: no person detected"):
        module.setup("fit")
    skipping = ExerciseDataModule(data_dir=str(tmp_path), cache_dir=str(tmp_path / "cache"), bad_video_policy="skip")
    skipping.setup("fit")
    kept = pd.concat([skipping.tables["train"], skipping.tables["val"]])
    assert sorted(Path(video).name for video in kept.video) == ["a.mp4", "b.mp4", "c.mp4"]
    train, val = skipping.datasets["train"], skipping.datasets["val"]
    assert isinstance(train, SequenceDataset) and isinstance(val, SequenceDataset)  # no augmentation: fixed features
    features = torch.cat([train.features, val.features])
    assert bool((features[:, :, -1] == 1).all()), "the person is found in every sampled frame"
    assert torch.allclose(features[0], features[1]), "same clip, same cached pose"


def test_skipped_row_is_reported_once_for_prepare_data_and_setup(demo_data_dir: Path, tmp_path: Path, caplog) -> None:
    rows = copy_rows(demo_data_dir, tmp_path, per_subject=3)
    missing = pd.DataFrame({"video": ["squats_train/gone.pose.npz"], "score": [50], "subject": ["s9"]})
    pd.concat([rows, missing]).to_csv(tmp_path / "squat_scores.csv", index=False)
    module = ExerciseDataModule(data_dir=str(tmp_path), cache_dir=str(tmp_path / "cache"), bad_video_policy="skip")
    with caplog.at_level(logging.WARNING):
        module.prepare_data()
        module.setup("fit")
    assert [r.getMessage() for r in caplog.records if "gone.pose.npz" in r.getMessage()] == [
        f"{tmp_path / 'squat_scores.csv'} line {len(rows) + 2}: "
        f"{tmp_path / 'squats_train' / 'gone.pose.npz'}: file not found; row skipped"
    ]


def test_extra_train_rows_join_training_epochs_only(demo_data_dir: Path, tmp_path: Path) -> None:
    copy_rows(demo_data_dir, tmp_path, per_subject=10)
    extra_csv = demo_data_dir / "squat_scores.csv"
    module = fit_module(tmp_path, val_fraction=0.25, extra_train_csv=str(extra_csv), extra_train_ratio=2.0)
    demo = load_scores(extra_csv, demo_data_dir)
    extra = module.extra_scores()
    assert sorted(extra["video"]) == sorted(demo[demo.split == "train"]["video"]), "the demo's train folder only"
    main_rows = [*module.tables["train"]["video"], *module.tables["val"]["video"]]
    assert len(main_rows) == 20 and not set(main_rows) & set(extra["video"])
    train, rows = module.datasets["train"], len(module.tables["train"])
    assert isinstance(train, MixedDataset) and len(train) == 3 * rows == 30
    torch.manual_seed(0)
    drawn = [train[i] for i in range(rows, 3 * rows)]
    assert all(item["index"] == -1 and item["x"].shape == (NUM_FRAMES, FEATURE_DIMS) for item in drawn)
    extra_targets = set(np.round(extra["score"].to_numpy() / 100, 5))
    assert {round(float(item["y"]), 5) for item in drawn} <= extra_targets
    assert len({round(float(item["y"]), 5) for item in drawn}) > 5, "extra items are drawn afresh at random"
    assert [train[i]["index"] for i in range(rows)] == list(range(rows))
    module.setup("test")
    assert not set(module.tables["test"]["video"]) & set(extra["video"])


def test_extra_train_rows_the_main_csv_lists_are_left_out(demo_data_dir: Path) -> None:
    module = fit_module(demo_data_dir, exercise="pushup", extra_train_csv="pushup_scores.csv")  # in data_dir
    assert module.extra_scores().empty and isinstance(module.datasets["train"], SequenceDataset)


def test_extra_train_csv_problems_name_the_file(demo_data_dir: Path, tmp_path: Path) -> None:
    copy_rows(demo_data_dir, tmp_path, per_subject=4)
    other = tmp_path / "other"
    other.mkdir()
    pd.DataFrame({"video": ["missing.pose.npz"], "label": ["correct"]}).to_csv(other / "extra.csv", index=False)
    with pytest.raises(DataValidationError, match=r"extra\.csv.*missing\.pose\.npz"):
        fit_module(tmp_path, extra_train_csv=str(other / "extra.csv"))
    with pytest.raises(DataValidationError, match="pushup_scores.csv: extra train data of the pushup exercise"):
        fit_module(tmp_path, extra_train_csv=str(demo_data_dir / "pushup_scores.csv"))
    with pytest.raises(ValueError, match="extra_train_ratio"):
        ExerciseDataModule(extra_train_ratio=-1.0)


def test_coach_points_stretch_csv_scores_onto_the_label_midpoint(demo_data_dir: Path) -> None:
    plain = ExerciseDataModule(data_dir=str(demo_data_dir)).scores().set_index("video")["score"]
    coached = ExerciseDataModule(data_dir=str(demo_data_dir), coach_points=20.0).scores().set_index("video")["score"]
    expected = (100.0 - (100.0 - plain) * 45.0 / 20.0).clip(0.0, 100.0)  # 80 -> 55 (the midpoint of 90 / 20)
    np.testing.assert_allclose(coached.loc[plain.index], expected)
    assert (coached <= plain).all() and coached.min() == 0.0 and plain.max() == coached.max()
    with pytest.raises(ValueError, match="coach_points must be above 0"):
        ExerciseDataModule(coach_points=0.0)
