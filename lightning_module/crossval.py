"""Grouped k-fold cross-validation: train one model per fold, score the held-out fold, report.

Each fold trains on the other folds' groups (an inner grouped split picks the best epoch), then
predicts its own held-out clips, so every clip gets one out-of-fold prediction from a model that
never saw its recording. Beside the model, the same folds score two baselines: the majority
answer of the training folds, and a random forest on per-clip summary statistics (min, max, mean,
sd over the frames) of the kinematic features. The figures are the per-fold mean and sd.

With a few dozen groups, which groups share a fold moves the figures as much as any modelling
choice; ``--repeats R`` runs R fold splits (split seeds seed, seed + 1, ...) and reports the mean and
sd over all R x folds held-out folds, and each split's mean. Rows of 3D skeleton files are seen from
several fixed virtual camera views (``view`` column): the figures are then also given per view.
"""

import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from jsonargparse.typing import PositiveInt, restricted_number_type
from matplotlib.figure import Figure
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.cli import LightningCLI
from pytorch_lightning.loggers import TensorBoardLogger
from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import roc_auc_score, roc_curve

from lightning_module.evaluation import write_csv
from preprocessing.cache import PoseSequence
from preprocessing.command import run_function
from preprocessing.constants import SCORE_SCALE
from preprocessing.features import sequence_features
from preprocessing.files import atomic_output

MODELS = ("model", "majority", "random_forest")


@dataclass(frozen=True)
class FoldData:
    """One fold's training and held-out rows (video, score, group, label, ...) with their poses."""

    train: pd.DataFrame
    held_out: pd.DataFrame
    train_sequences: list[PoseSequence]
    held_out_sequences: list[PoseSequence]


def summary_statistics(sequence: PoseSequence) -> np.ndarray:
    """Per-clip min, max, mean and sd over the valid frames of each kinematic feature (the classical
    baseline's input)."""
    features = sequence_features(sequence, "kinematic")
    valid = features[:, -1] > 0
    frames = features[valid] if valid.any() else features
    values = frames[:, :-1]
    return np.concatenate([values.min(0), values.max(0), values.mean(0), values.std(0)])


def baseline_predictions(fold: FoldData, seed: int) -> dict[str, np.ndarray]:
    """Held-out scores of the majority answer (the mean for continuous scores) and of a random forest
    on summary statistics."""
    scores = fold.train["score"].to_numpy()
    if "label" in fold.train.columns:  # the most frequent label's score
        values, counts = np.unique(scores, return_counts=True)
        majority = np.full(len(fold.held_out), values[counts.argmax()])
    else:  # continuous scores: the mean
        majority = np.full(len(fold.held_out), scores.mean())
    forest = RandomForestRegressor(n_estimators=300, min_samples_leaf=2, random_state=seed, n_jobs=1)
    forest.fit(np.stack([summary_statistics(s) for s in fold.train_sequences]), scores)
    predicted = forest.predict(np.stack([summary_statistics(s) for s in fold.held_out_sequences]))
    return {"majority": majority, "random_forest": predicted}


def midpoint(scores: Sequence[float]) -> float | None:
    """The threshold between the two target scores of binary labels, or None for other targets."""
    values = np.unique(np.asarray(scores, dtype=float))
    return float(values.mean()) if len(values) == 2 else None


def fold_metrics(true: np.ndarray, predicted: np.ndarray, threshold: float | None) -> dict[str, float]:
    """MAE (score units), Spearman, and with binary targets ROC AUC and accuracy at ``threshold``."""
    result = {
        "mae": float(np.abs(true - predicted).mean()),
        "spearman": float(pd.Series(true).corr(pd.Series(predicted), method="spearman"))
        if np.ptp(predicted) > 0 and np.ptp(true) > 0
        else float("nan"),
    }
    if threshold is not None:
        positive = true > threshold
        both = positive.any() and not positive.all()
        result["roc_auc"] = float(roc_auc_score(positive, predicted)) if both else float("nan")
        result["accuracy"] = float(((predicted > threshold) == positive).mean())
    return result


def summarise(per_fold: pd.DataFrame) -> pd.DataFrame:
    """Mean and sd over folds of each model's metrics: rows models, columns ``<metric>_mean/_sd``."""
    grouped = per_fold.groupby("model", sort=False)
    table = pd.concat({"mean": grouped.mean(numeric_only=True), "sd": grouped.std(numeric_only=True, ddof=1)}, axis=1)
    table.columns = [f"{metric}_{stat}" for stat, metric in table.columns]
    return table.drop(columns=[c for c in table.columns if c.startswith("fold_")])


def plot(oof: pd.DataFrame, threshold: float | None, path: Path) -> None:
    """ROC curves of every model's out-of-fold scores (binary targets), else predicted vs true."""
    figure = Figure(figsize=(5, 5))
    axes = figure.add_subplot()
    if threshold is not None:
        positive = oof["score"] > threshold
        for model in ("model", "random_forest"):  # the majority answer is constant: the diagonal
            false_positive, true_positive, _ = roc_curve(positive, oof[model])
            auc = roc_auc_score(positive, oof[model])
            axes.plot(false_positive, true_positive, label=f"{model} (pooled AUC {auc:.2f})")
        axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance (majority answer)")
        axes.set(xlabel="false positive rate", ylabel="true positive rate", title="out-of-fold ROC")
        axes.legend(loc="lower right")
    else:
        axes.scatter(oof["score"], oof["model"], s=12)
        axes.plot([0, SCORE_SCALE], [0, SCORE_SCALE], color="grey", linestyle=":")
        axes.set(xlabel="true score", ylabel="out-of-fold prediction", title="out-of-fold predictions")
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=100)


def predict(cli: LightningCLI, best_path: str) -> np.ndarray:
    """Scores (0..SCORE_SCALE) of the held-out fold by the best checkpoint of this fold's fit."""
    model = type(cli.model).load_from_checkpoint(best_path, map_location="cpu").eval()
    features = cli.datamodule.datasets["test"].features
    with torch.no_grad():
        return model(features).numpy() * SCORE_SCALE


def run_fold(
    make_cli: Callable[[list[str]], LightningCLI], args: list[str], fold: int, folds: int, run: Path
) -> tuple[pd.DataFrame, float | None]:
    """Fit fold ``fold`` (checkpoints and TensorBoard logs under ``run/fold-<k>``), predict its held-out
    rows, score the baselines on the same split: one row per held-out clip (with the split's seed), and
    the label threshold of the whole data set (None without labels; a fold may hold one label only)."""
    cli = make_cli([*args, f"--data.folds={folds}", f"--data.fold={fold}"])
    for callback in cli.trainer.checkpoint_callbacks:
        assert isinstance(callback, ModelCheckpoint)  # the configs' checkpoint callbacks
        callback.dirpath = str(run / f"fold-{fold}" / "checkpoints")
    cli.trainer.logger = TensorBoardLogger(str(run), name=f"fold-{fold}", version="")
    cli.trainer.fit(cli.model, cli.datamodule)
    checkpoint = cli.trainer.checkpoint_callback
    assert isinstance(checkpoint, ModelCheckpoint)  # the configs have one: the best epoch is predicted from
    best = checkpoint.best_model_path
    data = cli.datamodule
    data.setup("test")
    held_out = data.tables["test"]
    fitted = [data.tables[split] for split in ("train", "val") if split in data.tables]  # no val: val_fraction 0
    train = pd.concat(fitted, ignore_index=True)
    fold_data = FoldData(
        train, held_out, [data.sequences[v] for v in train["video"]], [data.sequences[v] for v in held_out["video"]]
    )
    rows = held_out[[c for c in ("video", "view", "group", "label", "score") if c in held_out.columns]].copy()
    rows.insert(0, "fold", fold)
    rows.insert(0, "split_seed", data.hparams.seed)
    rows["model"] = predict(cli, best)
    for name, values in baseline_predictions(fold_data, data.hparams.seed).items():
        rows[name] = values
    everything = data.scores()
    return rows, midpoint(everything["score"]) if "label" in everything.columns else None


def view_metrics(oof: pd.DataFrame, threshold: float | None) -> pd.DataFrame:
    """Per (split seed, fold, view, model) metrics of the held-out rows seen from each fixed view
    (skeleton data; empty when no row has a view)."""
    if "view" not in oof.columns:
        return pd.DataFrame()
    viewed = oof[oof["view"].fillna("") != ""]
    records = []
    for (seed, fold, view), rows in viewed.groupby(["split_seed", "fold", "view"], sort=False):
        for model in MODELS:
            metrics = fold_metrics(rows["score"].to_numpy(), rows[model].to_numpy(), threshold)
            records.append({"split_seed": seed, "fold": fold, "view": view, "model": model, **metrics})
    return pd.DataFrame(records)


def summarise_views(per_view: pd.DataFrame) -> pd.DataFrame:
    """Mean and sd over folds of each (view, model): rows (view, model), columns ``<metric>_mean/_sd``."""
    grouped = per_view.drop(columns=["split_seed", "fold"]).groupby(["view", "model"], sort=False)
    table = pd.concat({"mean": grouped.mean(), "sd": grouped.std(ddof=1)}, axis=1)
    table.columns = [f"{metric}_{stat}" for stat, metric in table.columns]
    return table


def cross_validate(
    make_cli: Callable[[list[str]], LightningCLI],
    args: list[str],
    folds: int,
    run: Path,
    log: Callable[[str], object] = print,
    repeats: int = 1,
) -> pd.DataFrame:
    """Every fold of ``repeats`` fold splits in turn (see ``run_fold``; split r > 0 is seeded with the
    first split's seed + r, its folds under ``run/seed-<seed>``); writes ``oof_predictions.csv``,
    ``folds.csv``, ``summary.csv`` / ``summary.json`` and ``cv.png`` into ``run`` (with views also
    ``folds_by_view.csv`` and ``summary_by_view.csv``, logged); returns the summary table (mean and sd
    over every held-out fold of every split)."""
    run.mkdir(parents=True, exist_ok=True)
    oof_parts, per_fold = [], []
    first_seed = 0  # the configuration's split seed, read from the first fold
    for repeat in range(repeats):
        split_args = args if repeat == 0 else [*args, f"--seed_everything={first_seed + repeat}"]
        split_run = run if repeat == 0 else run / f"seed-{first_seed + repeat}"
        for fold in range(folds):
            step = f"fold {fold + 1}/{folds}" + (f" of split {repeat + 1}/{repeats}" if repeats > 1 else "")
            log(f"cv: {step}")
            rows, threshold = run_fold(make_cli, split_args, fold, folds, split_run)
            seed = int(rows["split_seed"].iloc[0])
            if repeat == 0:
                first_seed = seed
            shown = []
            for model in MODELS:
                metrics = fold_metrics(rows["score"].to_numpy(), rows[model].to_numpy(), threshold)
                per_fold.append({"split_seed": seed, "fold": fold, "model": model, "clips": len(rows), **metrics})
                shown.append(f"{model} " + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()))
            log(f"cv: {step} done: " + "; ".join(shown))
            oof_parts.append(rows)
    oof = pd.concat(oof_parts, ignore_index=True)
    folds_table = pd.DataFrame(per_fold)
    summary = summarise(folds_table.drop(columns=["clips", "split_seed"]))
    by_split = folds_table.groupby(["split_seed", "model"], sort=False).mean(numeric_only=True)
    details = {
        "folds": folds,
        "repeats": repeats,
        "clips": int(oof["video"].nunique()),
        "groups": int(oof["group"].nunique()) if "group" in oof else None,
        "threshold": threshold,
        "summary": summary.to_dict(orient="index"),
        "by_split": {
            str(seed): by_split.loc[seed].drop(columns=["fold", "clips"]).to_dict(orient="index")
            for seed in by_split.index.get_level_values(0).unique()
        },
    }
    per_view = view_metrics(oof, threshold)
    if not per_view.empty:
        by_view = summarise_views(per_view)
        details["by_view"] = {f"{view}/{model}": values.to_dict() for (view, model), values in by_view.iterrows()}
        write_csv(per_view, run / "folds_by_view.csv")
        with atomic_output(run / "summary_by_view.csv") as temp:
            by_view.to_csv(temp)
        log("cv: per view\n" + by_view.to_string(float_format=lambda v: f"{v:.3f}"))
    write_csv(oof, run / "oof_predictions.csv")
    write_csv(folds_table, run / "folds.csv")
    with atomic_output(run / "summary.csv") as temp:
        summary.to_csv(temp)
    with atomic_output(run / "summary.json") as temp:
        temp.write_text(json.dumps(details, indent=2) + "\n")
    with atomic_output(run / "cv.png") as temp:
        plot(oof, threshold, temp)
    return summary


def make_cli(args: list[str]) -> LightningCLI:
    """The fit configuration of ``args`` instantiated (model, data module, trainer), not run."""
    from datamodules.exercise import ExerciseDataModule
    from lightning_module.cli import DEFAULT_SEED, DESCRIPTION, FormscoreCLI
    from lightning_module.regressor import ScoreRegressor

    return FormscoreCLI(
        ScoreRegressor,
        ExerciseDataModule,
        seed_everything_default=DEFAULT_SEED,
        run=False,
        save_config_callback=None,
        parser_kwargs={"description": DESCRIPTION},
        args=args,
    )


FoldCount = restricted_number_type("FoldCount", int, (">=", 2))


@dataclass(frozen=True)
class CvOptions:
    """Grouped k-fold cross-validation of a fit configuration: one model per fold, out-of-fold
    predictions, per-fold and mean +- sd metrics beside the majority answer and a random forest on
    per-clip summary statistics. Nothing is exported. Every other option goes to fit.

    Args:
        folds: number of grouped folds
        repeats: fold splits to run, seeded seed, seed + 1, ...
        run_dir: output folder (default lightning_logs/cv/<time>)
    """

    folds: FoldCount = 5  # type: ignore[valid-type]
    repeats: PositiveInt = 1
    run_dir: str | None = None


def own_options(argv: list[str], options: type) -> tuple[list[str], list[str]]:
    """``argv`` split into the ``--name value`` / ``--name=value`` options that are fields of
    ``options`` and the rest, in order (``--help`` goes with the former)."""
    names = {f"--{spec.name}" for spec in fields(options)}
    own: list[str] = []
    rest: list[str] = []
    arguments = iter(argv)
    for argument in arguments:
        name = argument.split("=", 1)[0]
        if argument in ("-h", "--help") or name in names:
            own.append(argument)
            if name == argument and name in names:
                own.append(next(arguments, ""))
        else:
            rest.append(argument)
    return own, rest


def main(argv: list[str] | None = None) -> int:
    """``python cli.py cv [--folds K] [--repeats R] [--run_dir DIR] <fit options, e.g. --config pushup.yaml>``;
    bad cv options exit with status 2."""
    own, fit_args = own_options(sys.argv[1:] if argv is None else argv, CvOptions)
    options = run_function(CvOptions, own, "cli.py cv")
    run = Path(options.run_dir or f"lightning_logs/cv/{time.strftime('%Y%m%d-%H%M%S')}")
    summary = cross_validate(make_cli, fit_args, options.folds, run, repeats=options.repeats)
    print(summary.to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"cv: out-of-fold predictions, per-fold metrics, summary and cv.png in {run}")
    return 0
