"""Sim-to-real: models trained on the synthetic demo data alone, scored on real people.

    python benchmarks/sim2real.py [--data_dir data] [--seeds 42 43 44] [--setups seed sim]
                                  [--exercises pushup squat lunge] [--limit N] [--max_epochs E]

For each exercise, setup and training seed: ``fit`` on ``data_dir``'s demo data only (its train folder;
no real row, no ``extra_train_csv``), nothing exported; then the best checkpoint scores real data
through the very features the model was trained on:

- push-ups: the 163 labelled clips of ``../shared/real_pushups`` (BlazePose on the videos);
- squats and lunges: the reps of ``../shared/real_mocap`` through the three fixed virtual cameras
  (front / oblique / side), and for squats the 21 labelled clips of ``../shared/real_footage/squats``
  (too few for a metric: the two mean scores and the ranks of the incorrect clips).
Beside the networks, ``cv``'s two baselines trained on the same demo rows: the majority answer (the
demo scores' mean: every real rep one score) and a random forest on per-clip summary statistics.

Per data set (and view): ROC AUC of correct above incorrect, accuracy at the midpoint (55, between the
label scores 90 and 20) and Spearman, each the mean over the training seeds, for every setup side by
side. Setups: ``seed`` is ``<exercise>.yaml`` alone (the seed's network and training), ``sim`` adds
``sim.yaml``. ``--data_dir`` points at any generated data set (e.g. a generator variant written with
``cli.py demo --data_dir``), which is how each generator change in the README's table was measured.
"""

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from pytorch_lightning.callbacks import ModelCheckpoint  # noqa: E402
from pytorch_lightning.loggers import CSVLogger  # noqa: E402

from export.callback import ExportCallback  # noqa: E402
from lightning_module.crossval import FoldData, baseline_predictions, fold_metrics, make_cli  # noqa: E402
from lightning_module.regressor import ScoreRegressor  # noqa: E402
from preprocessing.constants import DEFAULT_CACHE_DIR, SCORE_SCALE  # noqa: E402
from preprocessing.features import sequence_features, video_pose  # noqa: E402
from preprocessing.pose import PoseSettings  # noqa: E402
from preprocessing.registry import EXERCISES  # noqa: E402
from preprocessing.virtual_camera import VIEWS  # noqa: E402

SHARED = REPO.parent / "shared"
LABEL_SCORE = {"correct": 90.0, "incorrect": 20.0}
THRESHOLD = 55.0
SETUPS = {"seed": [], "sim": ["sim.yaml"]}
BASELINES = ("majority", "random_forest")  # crossval's baselines, fitted on the same demo train rows


@dataclass(frozen=True)
class RealSet:
    """Labelled real inputs of one exercise: paths the pose readers take, their labels, and a view each."""

    name: str
    exercise: str
    videos: list[str]
    labels: list[str]
    views: list[str]


def balanced(table: pd.DataFrame, limit: int | None) -> pd.DataFrame:
    """``table``, or with ``limit`` its first ``limit // 2`` correct and incorrect rows."""
    if limit is None:
        return table
    return pd.concat([table[table["label"] == label].head(max(limit // 2, 1)) for label in LABEL_SCORE])


def real_sets(exercise: str, limit: int | None) -> list[RealSet]:
    """The real data sets ``exercise`` is measured on (none without ../shared)."""
    sets = []
    if exercise == "pushup" and (SHARED / "real_pushups").is_dir():
        table = balanced(pd.read_csv(SHARED / "real_pushups" / "manifest.csv"), limit)
        videos = [str(SHARED / "real_pushups" / v) for v in table["video"]]
        sets.append(RealSet("real_pushups", exercise, videos, list(table["label"]), ["video"] * len(table)))
    if exercise in ("squat", "lunge") and (SHARED / "real_mocap").is_dir():
        table = pd.read_csv(SHARED / "real_mocap" / "manifest.csv")
        table = balanced(table[table["exercise"] == exercise], limit)
        rows = [
            (f"{SHARED / 'real_mocap' / f}#{view}", label, view)
            for f, label in zip(table["file"], table["label"], strict=True)
            for view in VIEWS
        ]
        sets.append(RealSet("real_mocap", exercise, *map(list, zip(*rows, strict=True))))
    if exercise == "squat" and (SHARED / "real_footage").is_dir():
        table = pd.read_csv(SHARED / "real_footage" / "manifest.csv")
        table = balanced(table[table["exercise"] == "squat"], limit)
        videos = [str(SHARED / "real_footage" / v) for v in table["path"]]
        sets.append(RealSet("real_footage_squats", exercise, videos, list(table["label"]), ["video"] * len(table)))
    return sets


def train(
    exercise: str, setup: str, seed: int, data_dir: Path, run: Path, max_epochs: int | None, more: list[str]
) -> tuple[ScoreRegressor, str]:
    """Fit ``setup`` on the demo data of ``data_dir`` (nothing exported); the best (or last) model and
    its feature set."""
    configs = [f"--config={REPO / f'{exercise}.yaml'}", *(f"--config={REPO / c}" for c in SETUPS[setup])]
    args = [*configs, f"--data.data_dir={data_dir}", f"--data.cache_dir={REPO / DEFAULT_CACHE_DIR}"]
    args += [f"--seed_everything={seed}", "--data.extra_train_csv=null", "--trainer.accelerator=cpu"]
    args += [f"--trainer.max_epochs={max_epochs}"] if max_epochs else []
    args += more if setup == "sim" else []
    cli = make_cli(args)
    kept = [c for c in cli.trainer.callbacks if not isinstance(c, ExportCallback)]  # type: ignore[attr-defined]
    cli.trainer.callbacks = kept  # type: ignore[attr-defined]  # set by Lightning's CallbackConnector, undeclared
    for callback in cli.trainer.checkpoint_callbacks:
        assert isinstance(callback, ModelCheckpoint)
        callback.dirpath = str(run / "checkpoints")
    cli.trainer.logger = CSVLogger(str(run), name="log")
    cli.trainer.fit(cli.model, cli.datamodule)
    best = cli.trainer.checkpoint_callback
    assert isinstance(best, ModelCheckpoint)
    model = ScoreRegressor.load_from_checkpoint(best.best_model_path, map_location="cpu").eval()
    return model, str(cli.datamodule.hparams["feature_set"])


def poses(videos: list[str]) -> list:
    """The NUM_FRAMES pose sequences of ``videos`` (from the keypoint cache, or pose and skeleton files)."""
    settings = PoseSettings()
    return [video_pose(v, settings, REPO / DEFAULT_CACHE_DIR)[0] for v in videos]


def baseline_scores(exercise: str, data_dir: Path, real: RealSet, seed: int) -> dict[str, np.ndarray]:
    """The majority answer (the demo scores' mean) and the random forest on per-clip summary statistics
    of ``cv``, trained on the demo train folder, scoring ``real``."""
    spec = EXERCISES[exercise]
    table = pd.read_csv(data_dir / spec.scores_csv)
    train = table[table["video"].str.startswith(spec.train_folder + "/")]
    videos = [str(data_dir / v) for v in train["video"]]
    fold = FoldData(train, pd.DataFrame({"video": real.videos}), poses(videos), poses(real.videos))
    return baseline_predictions(fold, seed)


def scores(model: ScoreRegressor, feature_set: str, videos: list[str]) -> np.ndarray:
    """Scores 0..100 of real inputs through the model's own feature set (poses from the keypoint cache)."""
    features = [sequence_features(sequence, feature_set) for sequence in poses(videos)]
    with torch.no_grad():
        return model(torch.from_numpy(np.stack(features))).numpy().reshape(-1) * SCORE_SCALE


def measure(real: RealSet, predicted: np.ndarray) -> list[dict]:
    """Rows of figures: per view (and all views) ROC AUC / accuracy / Spearman, or the two means."""
    true = np.array([LABEL_SCORE[label] for label in real.labels])
    rows = []
    for view in sorted(set(real.views)) + (["all"] if len(set(real.views)) > 1 else []):
        chosen = np.array([view in ("all", v) for v in real.views])
        figures = fold_metrics(true[chosen], predicted[chosen], THRESHOLD)
        row = {"data": real.name, "view": view, "n": int(chosen.sum())}
        if real.name == "real_footage_squats":
            order = np.argsort(-predicted)
            ranks = sorted(int(np.where(order == i)[0][0]) + 1 for i in np.where(true < THRESHOLD)[0])
            row["incorrect_ranks"] = " ".join(map(str, ranks))
        else:
            row |= {k: figures[k] for k in ("roc_auc", "accuracy", "spearman")}
        row |= {  # calibration: where the two labels' scores lie against the midpoint
            "mean_correct": float(predicted[chosen & (true > THRESHOLD)].mean()),
            "mean_incorrect": float(predicted[chosen & (true < THRESHOLD)].mean()),
        }
        rows.append(row)
    return rows


def run_all(args: argparse.Namespace) -> pd.DataFrame:
    records = []
    with tempfile.TemporaryDirectory(prefix="sim2real-") as root:
        for exercise in args.exercises:
            sets = real_sets(exercise, args.limit)
            if not sets:
                print(f"{exercise}: no real data under {SHARED}: skipped")
                continue
            data_dir = Path(args.data_dir).resolve()
            for seed in args.seeds if args.baselines else []:
                for real in sets:
                    for name, predicted in baseline_scores(exercise, data_dir, real, seed).items():
                        for row in measure(real, predicted):
                            records.append({"exercise": exercise, "setup": name, "seed": seed, **row})
            for setup in args.setups:
                for seed in args.seeds:
                    run = Path(root) / f"{exercise}-{setup}-{seed}"
                    model, feature_set = train(exercise, setup, seed, data_dir, run, args.max_epochs, args.fit)
                    for real in sets:
                        for row in measure(real, scores(model, feature_set, real.videos)):
                            records.append({"exercise": exercise, "setup": setup, "seed": seed, **row})
                    print(pd.DataFrame(records).tail(len(sets) * 4).to_string(index=False), flush=True)
    return pd.DataFrame(records)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_dir", default=str(REPO / "data"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    parser.add_argument("--setups", nargs="*", default=list(SETUPS), choices=list(SETUPS))
    parser.add_argument(
        "--baselines", action=argparse.BooleanOptionalAction, default=True, help="the majority answer and the forest"
    )
    parser.add_argument("--exercises", nargs="+", default=["pushup", "squat", "lunge"])
    parser.add_argument("--limit", type=int, default=None, help="at most this many real rows per data set")
    parser.add_argument("--max_epochs", type=int, default=None, help="override the configs' epochs (tests)")
    parser.add_argument("--out", default=None, help="also write every row as CSV here")
    parser.add_argument("--fit", nargs="*", default=[], help="more fit options for the sim setup (a variant)")
    args = parser.parse_args(argv)
    table = run_all(args)
    if table.empty:
        return 0
    if args.out:
        table.to_csv(args.out, index=False)
    keys = ["exercise", "data", "view", "setup"]
    means = table.drop(columns=["seed", "incorrect_ranks"], errors="ignore").groupby(keys, sort=False).mean()
    print("\nmean over training seeds", args.seeds)
    print(means.to_string(float_format=lambda v: f"{v:.3f}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
