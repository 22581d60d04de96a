"""``ExerciseDataModule``: one exercise's scored videos as cached (NUM_FRAMES, features) sequences.

Data layout (original project): ``<data_dir>/<exercise>_scores.csv`` lists videos (or pre-extracted
``*.pose.npz`` pose files) in ``<train folder>/`` and ``<test folder>/`` (see EXERCISES). Or any CSV
(``csv``, e.g. a data set's manifest) listing videos relative to its own folder, with a ``score`` or a
``label`` and optionally ``split``. A listed 3D skeleton file (preprocessing/skeleton3d.py) is one row per
fixed virtual camera view (``views``), and training can see it through a random camera per sample
(``view_augmentation``). Validation rows are carved from the train rows by a seeded split,
grouped by ``subject`` / ``group`` when the CSV has one; ``fold`` / ``folds`` hold out one grouped
cross-validation fold as the test split. ``extra_train_csv`` adds the train rows of another scored
CSV (e.g. the embedded demo data's labelled form faults) to every training epoch, never to a
validation, test or cross-validation split. Items are dicts ``x`` (NUM_FRAMES, feature_dims) float32,
``y`` score / SCORE_SCALE (not when predicting) and ``index``, the row of ``tables[split]`` (``rows``).
"""

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from pytorch_lightning import LightningDataModule
from pytorch_lightning.trainer.states import TrainerFn
from sklearn.model_selection import StratifiedGroupKFold
from torch.utils.data import DataLoader, Dataset

from preprocessing.augment import AugmentationConfig, augment
from preprocessing.cache import CorruptEntryError, PoseSequence
from preprocessing.constants import (
    DEFAULT_CACHE_DIR,
    NUM_FRAMES,
    POSE_FILE_SUFFIX,
    SCORE_SCALE,
    TRACK_FRAMES,
    VIDEO_EXTENSIONS,
)
from preprocessing.dataset import (
    DEFAULT_LABEL_SCORES,
    DataValidationError,
    Policy,
    check_detections,
    drop_problems,
    layout_exercise,
    load_scores,
)
from preprocessing.extract import extract_to_cache
from preprocessing.features import (
    FeatureSetName,
    feature_dims,
    sequence_features,
    video_pose,
    video_track,
)
from preprocessing.files import files_in, is_input_name, is_skeleton_file, is_video_name
from preprocessing.form import clip_ranges
from preprocessing.pose import PoseSettings
from preprocessing.registry import EXERCISES
from preprocessing.skeleton3d import load_skeleton
from preprocessing.video import VideoError
from preprocessing.virtual_camera import VIEWS, RandomView, ViewAugmentation, expand_views, split_view


class SequenceDataset(Dataset):
    """In-memory features (N, NUM_FRAMES, feature_dims) and optional targets (N,) in 0..1."""

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


class AugmentedDataset(Dataset):
    """Training samples drawn afresh at each access: ``augment`` of a pose track (a ``RandomView`` is
    first rendered through a random camera), then its features.

    Each item's generator is seeded from torch's global generator (seeded by ``seed_everything``, and
    per DataLoader worker), so runs are reproducible and workers do not repeat each other.
    """

    def __init__(
        self,
        tracks: list[PoseSequence | RandomView],
        targets: torch.Tensor,
        feature_set: str,
        config: AugmentationConfig,
    ) -> None:
        self.tracks, self.targets, self.feature_set, self.config = tracks, targets, feature_set, config

    def __len__(self) -> int:
        return len(self.tracks)

    def __getitem__(self, index: int) -> dict[str, Any]:
        rng = np.random.default_rng(int(torch.randint(2**62, (1,))))
        track = self.tracks[index]
        sample = augment(track.draw(rng) if isinstance(track, RandomView) else track, self.config, rng)
        return {
            "x": torch.from_numpy(sequence_features(sample, self.feature_set)),
            "y": self.targets[index],
            "index": index,
        }


class MixedDataset(Dataset):
    """A train split followed by ``extra_count`` items drawn at random (torch's global generator, as in
    ``AugmentedDataset``) from another data set at each access; their ``index`` is -1 (no train row)."""

    def __init__(
        self, train: SequenceDataset | AugmentedDataset, extra: SequenceDataset | AugmentedDataset, extra_count: int
    ) -> None:
        self.train, self.extra, self.extra_count = train, extra, extra_count

    def __len__(self) -> int:
        return len(self.train) + self.extra_count

    def __getitem__(self, index: int) -> dict[str, Any]:
        if index < len(self.train):
            return self.train[index]
        drawn = int(torch.randint(len(self.extra), (1,)))
        return {**self.extra[drawn], "index": -1}


LEGACY_POSE_PREFIX = "pose_"  # older checkpoints: flat pose_model_path, pose_running_mode, ... hparams


def pose_settings(hparams: Mapping[str, Any]) -> PoseSettings:
    """The PoseSettings of a datamodule's hyper-parameters (``datamodule_hyper_parameters`` of a
    checkpoint): its ``pose`` dict, or an older checkpoint's flat ``pose_*`` keys; missing: defaults."""
    if "pose" in hparams:
        return PoseSettings(**hparams["pose"])
    legacy = {field: LEGACY_POSE_PREFIX + field for field in PoseSettings.__dataclass_fields__}
    return PoseSettings(**{field: hparams[key] for field, key in legacy.items() if key in hparams})


def split_train_val(
    table: pd.DataFrame, val_fraction: float, seed: int, source: str | Path = "table"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded split of ``table`` into (train, val) with about ``val_fraction`` of its groups in val.

    Groups are the ``group`` column (subjects, recordings) when ``table`` has one (no group on both
    sides), else rows.
    At least one group goes to each side; ``source`` names the data in the error when that is impossible.
    """
    by_group = "group" in table.columns
    groups = table["group"].astype(str) if by_group else pd.Series(range(len(table)), index=table.index)
    units = np.unique(groups.to_numpy())
    if len(units) < 2:
        unit = "groups" if by_group else "rows"
        raise DataValidationError(f"{source}: need at least 2 train {unit} to split off validation, found {len(units)}")
    val_count = min(len(units) - 1, max(1, round(val_fraction * len(units))))
    val_units = np.random.default_rng(seed).permutation(units)[:val_count]
    is_val = groups.isin(val_units).to_numpy()
    return table[~is_val].reset_index(drop=True), table[is_val].reset_index(drop=True)


def grouped_folds(table: pd.DataFrame, folds: int, seed: int, source: str | Path = "table") -> np.ndarray:
    """(N,) fold number 0..folds-1 of each row: no group in two folds, classes (``label``, else score
    quartiles; none when a class has fewer rows than folds) balanced across folds as far as the groups
    allow; seeded. DataValidationError when
    there are fewer groups than folds."""
    groups = table["group"].astype(str).to_numpy() if "group" in table.columns else np.arange(len(table))
    if len(np.unique(groups)) < folds or folds < 2:
        raise DataValidationError(
            f"{source}: {folds} folds need at least {max(folds, 2)} groups, found {len(np.unique(groups))}"
        )
    if "label" in table.columns:
        strata = table["label"].astype(str).to_numpy()
    else:
        strata = pd.qcut(table["score"].rank(method="first"), min(4, len(table)), labels=False).to_numpy()
    if pd.Series(strata).value_counts().min() < folds:  # too few of a class to spread it: groups only
        strata = np.zeros(len(table), dtype=np.int64)
    splitter = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
    fold_of = np.empty(len(table), dtype=np.int64)
    for fold, (_, held_out) in enumerate(splitter.split(np.zeros(len(table)), strata, groups)):
        fold_of[held_out] = fold
    return fold_of


def list_videos(paths: list[str]) -> list[str]:
    """Absolute paths of the given video / pose files, and of those in the given folders (searched
    recursively, sorted); DataValidationError naming a missing path, a non-video file or an empty folder."""
    videos: list[str] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = files_in(path)
            if not found:
                kinds = ", ".join((*VIDEO_EXTENSIONS, POSE_FILE_SUFFIX))
                raise DataValidationError(f"{path}: folder has no video files ({kinds})")
            videos += [str(p.absolute()) for p in found]
        elif not path.is_file():
            raise DataValidationError(f"{path}: no such file or folder")
        elif not is_input_name(path.name):
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
        val_fraction: share of the train subjects (or rows, without a ``subject`` column) held out for
            validation (early stopping, the best checkpoint); 0: no validation split, every train row
            trains (the CLI then trains ``max_epochs`` and keeps the last epoch, see ``FormscoreCLI``).
        seed: seed of the train / val split (the CLI links it to ``seed_everything``).
        num_workers: DataLoader worker processes.
        extract_workers: pose extraction processes used by ``prepare_data``.
        pose: BlazePose settings (preprocessing/pose.py): ``model_path`` (a ``.task`` bundle; None: the
            model inside the mediapipe package), ``running_mode`` "video" (tracking across the sampled
            frames) or "image" (each frame alone), ``min_detection_confidence``, ``min_tracking_confidence``.
        bad_video_policy: "fail" stops on the first bad CSV row / video; "skip" drops it with a warning.
        predict_paths: videos, or folders of videos, to score with ``predict``.
        csv: a scores CSV anywhere (e.g. a data set's ``manifest.csv``) instead of
            ``<data_dir>/<exercise>_scores.csv``; its videos are relative to its own folder, and its
            ``split`` column (train / test) decides the split, or every row is train.
        label_scores: label -> score for a CSV with ``label`` instead of ``score`` (lower-case keys;
            default correct / 1 -> 90, incorrect / 0 -> 20).
        feature_set: "original" (the seed's (16, 133) normalised landmarks) or "kinematic" (view-robust
            angles, bone directions and velocities; see preprocessing/kinematics.py), "combined" (both,
            one validity flag), or "kinematic_no_arms" (``kinematic`` without its arm columns).
        augmentation: training-split augmentation of the raw poses (None: off, the seed's behaviour).
        folds, fold: grouped cross-validation; with ``fold`` set, the train rows of that fold are the
            other folds' rows and the test split is fold ``fold`` (see ``grouped_folds``).
        extra_train_csv: another scores CSV (a relative path is taken from ``data_dir``) whose train rows
            (a data layout's ``<exercise>_scores.csv``: its train folder; any other CSV: its ``split``
            column, else every row) join each training epoch, with the same features and augmentation;
            never validated, tested or cross-validated; rows the main CSV also lists are left out.
        extra_train_ratio: extra samples per train row and epoch, drawn at random from those rows.
        views: the fixed virtual camera views (preprocessing/virtual_camera.py: front, oblique, side) a
            3D skeleton file listed in the CSV is seen from: one row per view (``<file>#<view>``) in
            every split; None: all of them.
        view_augmentation: training samples of skeleton files seen through a random camera each
            (``yaw_deg`` > 0; None: off, the rows' fixed views).
        coach_points: score points of faults at which a coach calls a rep incorrect: a scores CSV's
            scores (not its labels) are stretched so that ``100 - coach_points`` lands on the midpoint
            of the label scores (55) and 100 stays 100, clipped to 0..100 (None: scores as they are).
            The demo data's scores count weighted fault points; labelled real clips call a rep with
            one clear fault incorrect (sim.yaml, README "Sim-to-real").
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
        pose: PoseSettings = PoseSettings(),
        bad_video_policy: Policy = "fail",
        predict_paths: list[str] | None = None,
        csv: str | None = None,
        label_scores: dict[str, float] | None = None,
        feature_set: FeatureSetName = "original",
        augmentation: AugmentationConfig | None = None,
        folds: int = 5,
        fold: int | None = None,
        extra_train_csv: str | None = None,
        extra_train_ratio: float = 1.0,
        views: list[str] | None = None,
        view_augmentation: ViewAugmentation | None = None,
        coach_points: float | None = None,
    ) -> None:
        super().__init__()
        if exercise not in EXERCISES:
            raise ValueError(f"exercise {exercise!r} is not one of {', '.join(EXERCISES)}")
        if not 0.0 <= val_fraction < 1.0:
            raise ValueError(f"val_fraction must be at least 0 and below 1, not {val_fraction}")
        if fold is not None and not 0 <= fold < folds:
            raise ValueError(f"fold must be in 0..{folds - 1}, not {fold}")
        if extra_train_ratio < 0:
            raise ValueError(f"extra_train_ratio must be at least 0, not {extra_train_ratio}")
        if coach_points is not None and not 0 < coach_points <= SCORE_SCALE:
            raise ValueError(f"coach_points must be above 0 and at most {SCORE_SCALE:g}, not {coach_points}")
        feature_dims(feature_set)  # an unknown name fails here
        self.save_hyperparameters(ignore=["augmentation", "pose", "view_augmentation"])
        self.augmentation = augmentation or AugmentationConfig()
        self.view_augmentation = view_augmentation or ViewAugmentation()
        self.hparams["view_augmentation"] = dataclasses.asdict(self.view_augmentation)
        self.pose_settings = pose
        # plain values: checkpoints load safely (weights_only)
        self.hparams["augmentation"] = dataclasses.asdict(self.augmentation)
        self.hparams["pose"] = dataclasses.asdict(pose)
        self.tables: dict[str, pd.DataFrame] = {}
        self.datasets: dict[str, SequenceDataset | AugmentedDataset | MixedDataset] = {}
        self.sequences: dict[str, PoseSequence] = {}  # video -> its NUM_FRAMES pose sequence, once read
        self._scores: pd.DataFrame | None = None
        self._extra_scores: pd.DataFrame | None = None
        self.form_ranges: dict | None = None  # learned from the train split's good reps (preprocessing.form)

    @property
    def csv_path(self) -> Path:
        if self.hparams["csv"]:
            return Path(self.hparams["csv"])
        return Path(self.hparams["data_dir"]) / EXERCISES[self.hparams["exercise"]].scores_csv

    def scores(self) -> pd.DataFrame:
        """The validated rows of the scores CSV (see ``load_scores``), validated once per process (so
        ``prepare_data`` and ``setup`` do not both open every video and warn twice)."""
        if self._scores is None:
            base = self.csv_path.parent if self.hparams["csv"] else self.hparams["data_dir"]
            self._scores = self.read_scores(self.csv_path, base, split_by_folder=not self.hparams["csv"])
        return self._scores

    def read_scores(self, path: Path, base: str | Path, split_by_folder: bool) -> pd.DataFrame:
        """``load_scores`` of a CSV with this module's exercise, label scores and bad-video policy; a
        skeleton file's row once per view (``expand_views``)."""
        rows = load_scores(
            path,
            base,
            self.hparams["bad_video_policy"],
            self.hparams["exercise"],
            self.hparams["label_scores"],
            split_by_folder=split_by_folder,
        )
        return expand_views(self.coached(rows), self.hparams.get("views") or list(VIEWS))

    def coached(self, rows: pd.DataFrame) -> pd.DataFrame:
        """``rows`` with their CSV scores stretched by ``coach_points`` (rows scored by label unchanged)."""
        points = self.hparams.get("coach_points")
        if points is None or "label" in rows.columns:
            return rows
        midpoint = float(np.unique(list((self.hparams["label_scores"] or DEFAULT_LABEL_SCORES).values())).mean())
        stretched = SCORE_SCALE - (SCORE_SCALE - rows["score"]) * (SCORE_SCALE - midpoint) / points
        return rows.assign(score=stretched.clip(0.0, SCORE_SCALE))

    @property
    def extra_csv_path(self) -> Path | None:
        """``extra_train_csv``, a relative path taken from ``data_dir``."""
        extra = self.hparams["extra_train_csv"]
        return None if extra is None else Path(self.hparams["data_dir"]) / extra

    def extra_scores(self) -> pd.DataFrame:
        """The validated train rows of ``extra_train_csv`` that the main CSV does not list (empty
        without one), validated once per process."""
        path = self.extra_csv_path
        if path is None:
            return pd.DataFrame({"video": []})
        if self._extra_scores is None:
            layout = layout_exercise(path)  # a data layout's <exercise>_scores.csv, or None
            exercise = self.hparams["exercise"]
            if layout not in (None, exercise):
                raise DataValidationError(f"{path}: extra train data of the {layout} exercise, not {exercise}")
            rows = self.read_scores(path, path.parent, split_by_folder=layout is not None)
            keep = (rows["split"] == "train") & ~rows["video"].isin(self.scores()["video"])
            self._extra_scores = rows[keep].reset_index(drop=True)
        return self._extra_scores

    def prepare_data(self) -> None:
        """Validate the scores CSV and fill the keypoint cache for its videos (or for ``predict_paths``
        when predicting) with ``extract_workers`` processes. Runs on one process per node."""
        if self.trainer is not None and self.trainer.state.fn == TrainerFn.PREDICTING:
            videos = self.predict_videos()
        else:
            videos = [*self.scores()["video"], *self.extra_scores()["video"]]
        real_videos = [video for video in videos if is_video_name(video)]
        if real_videos:
            extract_to_cache(
                [Path(video) for video in real_videos],
                self.hparams["cache_dir"],
                self.pose_settings,
                num_workers=self.hparams["extract_workers"],
                progress=True,
            )

    def predict_videos(self) -> list[str]:
        if not self.hparams["predict_paths"]:
            raise DataValidationError("nothing to predict: set data.predict_paths (videos or folders of videos)")
        return list_videos(self.hparams["predict_paths"])

    def setup(self, stage: str) -> None:
        """Load the sequences the stage needs into memory (from the cache, or pose files)."""
        if stage == "predict":
            videos = self.predict_videos()
            table = pd.DataFrame({"video": videos, "score": np.nan})
            self.set_split("predict", self.usable(table, None, "predict"), with_targets=False)
            return
        table = self.scores()
        if self.hparams["fold"] is not None:
            table = table[table["split"] == "train"].reset_index(drop=True)
            held_out = (
                grouped_folds(table, self.hparams["folds"], self.hparams["seed"], self.csv_path) == self.hparams["fold"]
            )
            table = table.assign(split=np.where(held_out, "test", "train"))
        if stage in ("fit", "validate"):
            usable = self.usable(table[table["split"] == "train"], self.csv_path, "train")
            clips = zip(usable["video"], usable["sequence"], usable["score"], strict=True)  # validation rows too
            self.form_ranges = clip_ranges(self.hparams["exercise"], clips, f"train rows of {self.csv_path}")
            if self.validates:
                train, val = split_train_val(usable, self.hparams["val_fraction"], self.hparams["seed"], self.csv_path)
                self.set_split("val", val)
            else:
                train = usable.reset_index(drop=True)
            self.set_split("train", train, augment=self.augmentation.active or self.view_augmentation.active)
        if stage == "test":
            self.set_split("test", self.usable(table[table["split"] == "test"], self.csv_path, "test"))

    def usable(self, table: pd.DataFrame, source: Path | None, split: str) -> pd.DataFrame:
        """Rows of ``table`` whose pose could be read and shows a person, with their ``sequence``;
        others fail or are skipped per ``bad_video_policy`` (messages name the file, and the line of
        ``source``, the CSV the rows come from; None: files given directly, ``predict_paths``).
        Raises DataValidationError when no row is left for ``split``."""
        problems: dict[str, str] = {}
        for video in table["video"]:
            try:
                if video not in self.sequences:  # each pose is read once per data module
                    self.sequences[video] = video_pose(video, self.pose_settings, self.hparams["cache_dir"])[0]
            except (VideoError, CorruptEntryError, DataValidationError) as error:
                problems[video] = str(error)
        table = drop_problems(table, problems, source, self.hparams["bad_video_policy"])
        detected = {video: bool(self.sequences[video].detected.any()) for video in table["video"]}
        table = check_detections(table, detected, source, self.hparams["bad_video_policy"])
        if table.empty:
            raise DataValidationError(f"{source or 'data.predict_paths'}: no usable videos for the {split} split")
        return table.assign(sequence=[self.sequences[video] for video in table["video"]])

    def set_split(self, split: str, table: pd.DataFrame, with_targets: bool = True, augment: bool = False) -> None:
        """Keep ``table`` (without its sequences) and its dataset (see ``dataset``; the train split's
        with the extra train rows, see ``with_extra``)."""
        self.tables[split] = table.drop(columns="sequence").reset_index(drop=True)
        dataset = self.dataset(table, with_targets, augment)
        self.datasets[split] = self.with_extra(dataset, augment) if split == "train" else dataset

    def with_extra(
        self, train: SequenceDataset | AugmentedDataset, augment: bool
    ) -> SequenceDataset | AugmentedDataset | MixedDataset:
        """``train`` followed by ``extra_train_ratio`` x its length samples of ``extra_scores`` per
        epoch (the train table keeps only the main CSV's rows), or ``train`` alone without any."""
        extra = self.extra_scores()
        count = round(self.hparams["extra_train_ratio"] * len(train))
        if extra.empty or count == 0:
            return train
        usable = self.usable(extra, self.extra_csv_path, "extra train")
        return MixedDataset(train, self.dataset(usable, augment=augment), count)

    def dataset(
        self, table: pd.DataFrame, with_targets: bool = True, augment: bool = False
    ) -> SequenceDataset | AugmentedDataset:
        """The rows' fixed features, or for augmented training the pose tracks to draw samples from
        (denser tracks with temporal augmentation)."""
        targets = torch.tensor(table["score"].to_numpy() / SCORE_SCALE, dtype=torch.float32) if with_targets else None
        if augment and targets is not None:
            pairs = zip(table["video"], table["sequence"], strict=True)
            tracks = [self.track(video, sequence) for video, sequence in pairs]
            return AugmentedDataset(tracks, targets, self.hparams["feature_set"], self.augmentation)
        name = self.hparams["feature_set"]
        features = torch.from_numpy(np.stack([sequence_features(sequence, name) for sequence in table["sequence"]]))
        return SequenceDataset(features, targets)

    def rows(self, split: str, index: np.ndarray) -> pd.DataFrame:
        """Rows ``index`` (the items' ``index``) of the split's table: ``video``, ``score``, ..."""
        return self.tables[split].iloc[index]

    def track(self, video: str, sequence: PoseSequence) -> PoseSequence | RandomView:
        """What a training sample of a row is drawn from: a skeleton file behind a random camera (view
        augmentation), else the denser cached pose track (temporal augmentation, extracted on first
        use), else the row's ``sequence``."""
        num = TRACK_FRAMES if self.augmentation.temporal else NUM_FRAMES
        if self.view_augmentation.active and is_skeleton_file(video):
            return RandomView(load_skeleton(split_view(video)[0]), self.view_augmentation, num)
        if self.augmentation.temporal:
            return video_track(video, self.pose_settings, self.hparams["cache_dir"])[0]
        return sequence

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint keeps of the data: the form reference ranges (plain values), for the export."""
        return {} if self.form_ranges is None else {"form_ranges": self.form_ranges}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.form_ranges = state_dict.get("form_ranges", self.form_ranges)

    def dataloader(self, split: str, shuffle: bool = False) -> DataLoader:
        if split not in self.datasets:
            raise RuntimeError(f"the {split} split is not set up; call setup() for its stage first")
        workers = self.hparams["num_workers"]
        return DataLoader(
            self.datasets[split],
            batch_size=self.hparams["batch_size"],
            shuffle=shuffle,
            num_workers=workers,
            persistent_workers=workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self.dataloader("train", shuffle=True)

    @property
    def validates(self) -> bool:
        """Whether a validation split is held out of the train rows (``val_fraction`` > 0)."""
        return self.hparams["val_fraction"] > 0

    def val_dataloader(self) -> DataLoader | list:
        """The val split's loader; no loader (Lightning then skips validation) without a val split."""
        return self.dataloader("val") if self.validates else []

    def test_dataloader(self) -> DataLoader:
        return self.dataloader("test")

    def predict_dataloader(self) -> DataLoader:
        return self.dataloader("predict")

    def baseline_mae(self) -> float:
        """MAE (score units) on the val split of always predicting the mean train score (NaN without one)."""
        if not self.validates:
            return float("nan")
        mean = self.tables["train"]["score"].mean()
        return float((self.tables["val"]["score"] - mean).abs().mean())
