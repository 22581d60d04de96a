"""``ExerciseDataModule``: one exercise's scored videos as cached (NUM_FRAMES, FEATURE_DIMS) sequences.

Data layout (original project): ``<data_dir>/<exercise>_scores.csv`` lists videos (or pre-extracted
``*.pose.npz`` pose files) in ``<train folder>/`` and ``<test folder>/`` (see EXERCISES). Validation
rows are carved from the train rows by a seeded split, grouped by ``subject`` when the CSV has one.
Items are dicts ``x`` (NUM_FRAMES, FEATURE_DIMS) float32, ``y`` score / SCORE_SCALE (not when
predicting) and ``index``, the row of ``tables[split]`` (columns ``video``, ``score``).
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from pytorch_lightning import LightningDataModule
from pytorch_lightning.trainer.states import TrainerFn
from torch.utils.data import DataLoader, Dataset

from preprocessing.cache import CorruptEntryError, PoseSequence
from preprocessing.constants import DEFAULT_CACHE_DIR, POSE_FILE_SUFFIX, SCORE_SCALE, VIDEO_EXTENSIONS
from preprocessing.dataset import (
    EXERCISES,
    DataValidationError,
    Policy,
    apply_policy,
    check_detections,
    is_video_name,
    load_scores,
)
from preprocessing.extract import extract_to_cache
from preprocessing.features import is_pose_file, sequence_features, video_pose
from preprocessing.pose import PoseSettings
from preprocessing.video import VideoError


class SequenceDataset(Dataset):
    """In-memory features (N, NUM_FRAMES, FEATURE_DIMS) and optional targets (N,) in 0..1."""

    def __init__(self, features: torch.Tensor, targets: torch.Tensor | None) -> None:
        self.features = features
        self.targets = targets

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = {"x": self.features[index], "index": index}
        if self.targets is not None:
            item["y"] = self.targets[index]
        return item


def pose_settings(hparams: Mapping[str, Any]) -> PoseSettings:
    """The PoseSettings of a datamodule's hyper-parameters (also ``datamodule_hyper_parameters`` of a
    checkpoint; missing keys take the defaults)."""
    return PoseSettings(
        model_path=hparams.get("pose_model_path"),
        running_mode=hparams.get("pose_running_mode", "video"),
        min_detection_confidence=hparams.get("pose_min_detection_confidence", 0.5),
        min_tracking_confidence=hparams.get("pose_min_tracking_confidence", 0.5),
    )


def split_train_val(
    table: pd.DataFrame, val_fraction: float, seed: int, source: str | Path = "table"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded split of ``table`` into (train, val) with about ``val_fraction`` of its groups in val.

    Groups are subjects when ``table`` has a ``subject`` column (no subject on both sides), else rows.
    At least one group goes to each side; ``source`` names the data in the error when that is impossible.
    """
    by_subject = "subject" in table.columns
    groups = table["subject"].astype(str) if by_subject else pd.Series(range(len(table)), index=table.index)
    units = np.unique(groups.to_numpy())
    if len(units) < 2:
        unit = "subjects" if by_subject else "rows"
        raise DataValidationError(f"{source}: need at least 2 train {unit} to split off validation, found {len(units)}")
    val_count = min(len(units) - 1, max(1, round(val_fraction * len(units))))
    val_units = np.random.default_rng(seed).permutation(units)[:val_count]
    is_val = groups.isin(val_units).to_numpy()
    return table[~is_val].reset_index(drop=True), table[is_val].reset_index(drop=True)


def list_videos(paths: list[str]) -> list[str]:
    """Absolute paths of the given video / pose files, and of those in the given folders (searched
    recursively, sorted); DataValidationError naming a missing path, a non-video file or an empty folder."""
    videos: list[str] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and is_video_name(p.name))
            if not found:
                kinds = ", ".join((*VIDEO_EXTENSIONS, POSE_FILE_SUFFIX))
                raise DataValidationError(f"{path}: folder has no video files ({kinds})")
            videos += [str(p.absolute()) for p in found]
        elif not path.is_file():
            raise DataValidationError(f"{path}: no such file or folder")
        elif not is_video_name(path.name):
            raise DataValidationError(f"{path}: not a video file (extension {path.suffix or 'none'!r})")
        else:
            videos.append(str(path.absolute()))
    return videos


class ExerciseDataModule(LightningDataModule):
    """Serves one exercise's train / val / test sequences and unscored videos for prediction.

    Args:
        exercise: one of EXERCISES (squat, pushup, lunge).
        data_dir: folder holding ``<exercise>_scores.csv`` and the train / test folders.
        cache_dir: keypoint cache folder (filled by ``prepare_data``).
        batch_size: sequences per batch.
        val_fraction: share of the train subjects (or rows, without a ``subject`` column) held out.
        seed: seed of the train / val split (the CLI links it to ``seed_everything``).
        num_workers: DataLoader worker processes.
        extract_workers: pose extraction processes used by ``prepare_data``.
        pose_model_path: BlazePose ``.task`` / model file; None: the one inside the mediapipe package.
        pose_running_mode: "video" (tracking across the sampled frames) or "image" (each frame alone).
        pose_min_detection_confidence, pose_min_tracking_confidence: BlazePose thresholds.
        bad_video_policy: "fail" stops on the first bad CSV row / video; "skip" drops it with a warning.
        predict_paths: videos, or folders of videos, to score with ``predict``.
    """

    def __init__(
        self,
        exercise: str = "squat",
        data_dir: str = "data",
        cache_dir: str = DEFAULT_CACHE_DIR,
        batch_size: int = 32,
        val_fraction: float = 0.2,
        seed: int = 42,
        num_workers: int = 0,
        extract_workers: int = 2,
        pose_model_path: str | None = None,
        pose_running_mode: Literal["video", "image"] = "video",
        pose_min_detection_confidence: float = 0.5,
        pose_min_tracking_confidence: float = 0.5,
        bad_video_policy: Policy = "fail",
        predict_paths: list[str] | None = None,
    ) -> None:
        super().__init__()
        if exercise not in EXERCISES:
            raise ValueError(f"exercise {exercise!r} is not one of {', '.join(EXERCISES)}")
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"val_fraction must be between 0 and 1 (exclusive), not {val_fraction}")
        self.save_hyperparameters()
        self.pose_settings = pose_settings(self.hparams)
        self.tables: dict[str, pd.DataFrame] = {}
        self.datasets: dict[str, SequenceDataset] = {}

    @property
    def csv_path(self) -> Path:
        return Path(self.hparams.data_dir) / EXERCISES[self.hparams.exercise][2]

    def scores(self) -> pd.DataFrame:
        """The validated rows of the exercise's scores CSV (see ``load_scores``)."""
        return load_scores(self.csv_path, self.hparams.data_dir, self.hparams.bad_video_policy, self.hparams.exercise)

    def prepare_data(self) -> None:
        """Validate the scores CSV and fill the keypoint cache for its videos (or for ``predict_paths``
        when predicting) with ``extract_workers`` processes. Runs on one process per node."""
        if self.trainer is not None and self.trainer.state.fn == TrainerFn.PREDICTING:
            videos = self.predict_videos()
        else:
            videos = list(self.scores()["video"])
        real_videos = [video for video in videos if not is_pose_file(video)]
        if real_videos:
            extract_to_cache(
                real_videos, self.hparams.cache_dir, self.pose_settings,
                num_workers=self.hparams.extract_workers, progress=True,
            )

    def predict_videos(self) -> list[str]:
        if not self.hparams.predict_paths:
            raise DataValidationError("nothing to predict: set data.predict_paths (videos or folders of videos)")
        return list_videos(self.hparams.predict_paths)

    def setup(self, stage: str) -> None:
        """Load the sequences the stage needs into memory (from the cache, or pose files)."""
        if stage == "predict":
            videos = self.predict_videos()
            table = pd.DataFrame({"video": videos, "score": np.nan, "line": range(1, len(videos) + 1)})
            self.set_split("predict", self.usable(table, Path("data.predict_paths"), "predict"), with_targets=False)
            return
        table = self.scores()
        if stage in ("fit", "validate"):
            usable = self.usable(table[table["split"] == "train"], self.csv_path, "train")
            train, val = split_train_val(usable, self.hparams.val_fraction, self.hparams.seed, self.csv_path)
            self.set_split("train", train)
            self.set_split("val", val)
        if stage == "test":
            self.set_split("test", self.usable(table[table["split"] == "test"], self.csv_path, "test"))

    def usable(self, table: pd.DataFrame, source: Path, split: str) -> pd.DataFrame:
        """Rows of ``table`` whose pose could be read and shows a person, with their ``sequence``;
        others fail or are skipped per ``bad_video_policy`` (messages name ``source`` and line).
        Raises DataValidationError when no row is left for ``split``."""
        sequences: dict[str, PoseSequence] = {}
        issues = []
        for line, video in zip(table["line"], table["video"]):
            try:
                sequences[video] = video_pose(video, self.pose_settings, self.hparams.cache_dir)[0]
            except (VideoError, CorruptEntryError) as error:
                issues.append((int(line), str(error)))
        table = table[~table["line"].isin(apply_policy(issues, source, self.hparams.bad_video_policy))]
        detected = {video: bool(sequence.detected.any()) for video, sequence in sequences.items()}
        table = check_detections(table, detected, source, self.hparams.bad_video_policy)
        if table.empty:
            raise DataValidationError(f"{source}: no usable videos for the {split} split")
        return table.assign(sequence=[sequences[video] for video in table["video"]])

    def set_split(self, split: str, table: pd.DataFrame, with_targets: bool = True) -> None:
        features = torch.from_numpy(np.stack([sequence_features(sequence) for sequence in table["sequence"]]))
        targets = torch.tensor(table["score"].to_numpy() / SCORE_SCALE, dtype=torch.float32) if with_targets else None
        self.tables[split] = table.drop(columns="sequence").reset_index(drop=True)
        self.datasets[split] = SequenceDataset(features, targets)

    def dataloader(self, split: str, shuffle: bool = False) -> DataLoader:
        if split not in self.datasets:
            raise RuntimeError(f"the {split} split is not set up; call setup() for its stage first")
        workers = self.hparams.num_workers
        return DataLoader(
            self.datasets[split], batch_size=self.hparams.batch_size, shuffle=shuffle,
            num_workers=workers, persistent_workers=workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self.dataloader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self.dataloader("val")

    def test_dataloader(self) -> DataLoader:
        return self.dataloader("test")

    def predict_dataloader(self) -> DataLoader:
        return self.dataloader("predict")

    def baseline_mae(self) -> float:
        """MAE (score units) on the val split of always predicting the mean train score."""
        mean = self.tables["train"]["score"].mean()
        return float((self.tables["val"]["score"] - mean).abs().mean())
