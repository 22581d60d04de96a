"""Real labelled data in as it comes (label / group / split columns, any CSV), grouped folds, and the
``cv`` command end to end on real push-up clips (skips where ../shared is absent)."""

import json

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, run_in
from hypothesis import given, settings
from hypothesis import strategies as st

from datamodules.exercise import ExerciseDataModule, SequenceDataset, grouped_folds
from lightning_module.crossval import fold_metrics, midpoint
from preprocessing.dataset import DataValidationError, load_scores

REAL_PUSHUPS = REPO.parent / "shared" / "real_pushups"


@settings(max_examples=60, deadline=None)
@given(
    group_sizes=st.lists(st.integers(1, 6), min_size=5, max_size=25),
    folds=st.integers(2, 5),
    seed=st.integers(0, 1000),
    labelled=st.booleans(),
)
def test_folds_never_share_a_group_and_cover_every_row(group_sizes, folds, seed, labelled):
    groups = np.repeat([f"g{i}" for i in range(len(group_sizes))], group_sizes)
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({"group": groups, "score": rng.uniform(0, 100, len(groups))})
    if labelled:
        table["label"] = np.where(rng.uniform(size=len(groups)) < 0.5, "correct", "incorrect")
    fold_of = grouped_folds(table, folds, seed)
    assert set(fold_of) <= set(range(folds)) and len(fold_of) == len(table)
    assert (table.assign(fold=fold_of).groupby("group")["fold"].nunique() == 1).all(), "a group in two folds"
    assert len(set(fold_of)) == min(folds, len(group_sizes))
    np.testing.assert_array_equal(fold_of, grouped_folds(table, folds, seed))  # reproducible from the seed


def test_too_few_groups_for_the_folds_is_a_clear_error():
    table = pd.DataFrame({"group": ["a", "a", "b"], "score": [1.0, 2.0, 3.0]})
    with pytest.raises(DataValidationError, match="3 folds need at least 3 groups, found 2"):
        grouped_folds(table, 3, 0)


def test_labels_map_to_scores_groups_group_and_split_column_splits(tmp_path, demo_data_dir):
    pose = next((demo_data_dir / "PushUps_train").glob("*.pose.npz"))
    rows = [
        ("x/a.pose.npz", "correct", "r1", "train"),
        ("x/b.pose.npz", "Incorrect", "r1", "train"),
        ("x/c.pose.npz", "1", "r2", "test"),
        ("x/d.pose.npz", "0", "r3", "train"),
    ]
    (tmp_path / "x").mkdir()
    for video, *_ in rows:
        (tmp_path / video).write_bytes(pose.read_bytes())
    csv = tmp_path / "anything.csv"
    pd.DataFrame(rows, columns=["video", "label", "group", "split"]).to_csv(csv, index=False)
    table = load_scores(csv, tmp_path, split_by_folder=False)
    assert table["score"].tolist() == [90.0, 20.0, 90.0, 20.0]
    assert table["group"].tolist() == ["r1", "r1", "r2", "r3"]
    assert table["split"].tolist() == ["train", "train", "test", "train"]
    custom = load_scores(
        csv, tmp_path, split_by_folder=False, label_scores={"correct": 100, "incorrect": 0, "1": 100, "0": 0}
    )
    assert custom["score"].tolist() == [100.0, 0.0, 100.0, 0.0]
    pd.DataFrame([("x/a.pose.npz", "good", "r1")], columns=["video", "label", "group"]).to_csv(csv, index=False)
    with pytest.raises(
        DataValidationError, match=r"anything.csv line 2: label 'good' is not one of correct, incorrect"
    ):
        load_scores(csv, tmp_path, split_by_folder=False)


def test_data_module_reads_any_csv_relative_to_its_folder_and_holds_out_a_fold(tmp_path, demo_data_dir):
    source = sorted((demo_data_dir / "PushUps_train").glob("*.pose.npz"))[:24]
    folder = tmp_path / "elsewhere"
    (folder / "clips").mkdir(parents=True)
    rows = []
    for index, pose in enumerate(source):
        (folder / "clips" / pose.name).write_bytes(pose.read_bytes())
        rows.append(
            {"video": f"clips/{pose.name}", "label": "correct" if index % 2 else "incorrect", "group": f"g{index // 3}"}
        )
    pd.DataFrame(rows).to_csv(folder / "manifest.csv", index=False)
    module = ExerciseDataModule(
        exercise="pushup",
        csv=str(folder / "manifest.csv"),
        folds=4,
        fold=1,
        feature_set="kinematic",
        cache_dir=str(tmp_path / "cache"),
    )
    module.setup("fit")
    module.setup("test")
    tables = module.tables
    assert sum(len(tables[s]) for s in ("train", "val", "test")) == 24
    assert not set(tables["test"]["group"]) & (set(tables["train"]["group"]) | set(tables["val"]["group"]))
    assert not set(tables["train"]["group"]) & set(tables["val"]["group"])
    train = module.datasets["train"]
    assert isinstance(train, SequenceDataset)  # no augmentation: fixed features
    assert train.features.shape[1:] == (16, 36)


def test_fold_metrics_score_the_threshold_between_label_scores():
    true = np.array([90.0, 90, 20, 20])
    assert midpoint(list(true)) == 55.0 and midpoint([10.0, 20, 30]) is None
    metrics = fold_metrics(true, np.array([80.0, 50, 40, 10]), 55.0)
    assert metrics["roc_auc"] == 1.0 and metrics["accuracy"] == 0.75
    assert metrics["mae"] == pytest.approx((10 + 40 + 20 + 10) / 4)


def test_cv_refuses_fewer_than_one_repeat(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_in(["cv", "--repeats", "0", "--config", str(REPO / "pushup.yaml")], tmp_path)
    error = capsys.readouterr().err
    assert (
        exit_info.value.code == 2
        and 'Parser key "repeats"' in error
        and "0 does not conform to restriction v>0" in error
    )


@pytest.mark.slow
def test_cv_repeats_run_one_grouped_split_per_seed(tmp_path, demo_data_dir):
    """``--repeats 2`` on demo scores (no ../shared): split seeds 5 and 6, each a grouped split of every row."""
    scores = pd.read_csv(demo_data_dir / "pushup_scores.csv")
    rows = scores[scores["video"].str.startswith("PushUps_train")].groupby("subject").head(3).head(24)
    rows = rows.assign(video=[str(demo_data_dir / video) for video in rows["video"]])
    rows[["video", "score", "subject"]].to_csv(tmp_path / "subset.csv", index=False)
    run = tmp_path / "run"
    args = ["cv", "--config", str(REPO / "pushup.yaml"), "--data.csv", str(tmp_path / "subset.csv")]
    args += ["--folds", "2", "--repeats", "2", "--seed_everything", "5", "--data.val_fraction", "0"]
    args += ["--trainer.max_epochs", "1", "--trainer.accelerator", "cpu", "--run_dir", str(run)]
    assert run_in(args, tmp_path) == 0
    oof = pd.read_csv(run / "oof_predictions.csv")
    assert sorted(set(oof["split_seed"])) == [5, 6]
    folds_by_split = []
    for _, split in oof.groupby("split_seed"):
        assert sorted(split["video"]) == sorted(rows["video"]), "each split scores every row once"
        assert (split.groupby("group")["fold"].nunique() == 1).all(), "subjects are the groups"
        folds_by_split.append(split.set_index("video")["fold"].sort_index())
    assert not folds_by_split[0].equals(folds_by_split[1]), "the second split is another fold split"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["repeats"] == 2 and set(summary["by_split"]) == {"5", "6"} and summary["threshold"] is None
    assert len(pd.read_csv(run / "folds.csv")) == 2 * 2 * 3
    assert (run / "seed-6" / "fold-0" / "checkpoints" / "best.ckpt").is_file()


@pytest.mark.slow
def test_cv_runs_end_to_end_on_real_pushup_clips(tmp_path, demo_data_dir):
    """The real-clip recipe (real.yaml: kinematic features, augmentation, TCN, no validation split, the
    demo data's push-ups mixed into training) on two fold splits of six real clips."""
    manifest = REAL_PUSHUPS / "manifest.csv"
    if not manifest.is_file():
        pytest.skip(f"{REAL_PUSHUPS} is absent (team material, not part of the project)")
    rows = pd.read_csv(manifest)
    rows = rows[rows["frames"] <= 90]
    chosen = pd.concat(
        [rows[rows["label"] == label].drop_duplicates("group").head(3) for label in ("correct", "incorrect")]
    )
    chosen = chosen.assign(video=[str(REAL_PUSHUPS / video) for video in chosen["video"]])
    chosen[["video", "label", "group"]].to_csv(tmp_path / "subset.csv", index=False)
    run = tmp_path / "run"
    args = [
        "cv",
        "--config",
        str(REPO / "pushup.yaml"),
        "--config",
        str(REPO / "real.yaml"),
        "--data.csv",
        str(tmp_path / "subset.csv"),
        "--data.cache_dir",
        str(tmp_path / "cache"),
        "--data.data_dir",
        str(demo_data_dir),
        "--folds",
        "2",
        "--repeats",
        "2",
        "--trainer.max_epochs",
        "2",
        "--trainer.accelerator",
        "cpu",
        "--run_dir",
        str(run),
    ]
    assert run_in(args, tmp_path) == 0
    oof = pd.read_csv(run / "oof_predictions.csv")
    assert set(oof["split_seed"]) == {42, 43}, "split 2 is seeded with the first split's seed + 1"
    for _, split in oof.groupby("split_seed"):
        assert sorted(split["video"]) == sorted(chosen["video"]) and split["fold"].nunique() == 2
        assert (split.groupby("group")["fold"].nunique() == 1).all()
    assert oof[["model", "majority", "random_forest"]].apply(lambda c: c.between(0, 100)).all().all()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["threshold"] == 55.0 and summary["clips"] == 6 and summary["repeats"] == 2
    assert set(summary["summary"]) == {"model", "majority", "random_forest"}
    assert set(summary["by_split"]) == {"42", "43"}
    folds = pd.read_csv(run / "folds.csv")
    assert len(folds) == 12 and set(folds.columns) >= {"split_seed", "fold", "model", "mae", "roc_auc", "accuracy"}
    assert (run / "seed-43" / "fold-1" / "checkpoints" / "best.ckpt").is_file()
    assert (run / "cv.png").stat().st_size > 1000
