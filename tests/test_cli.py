"""cli.py end to end: every config parses and runs fit / test / predict; real fit beats the mean;
seeding; resume; optimizer options; DDP on 2 CPU processes; predict on real videos (BlazePose runs)."""

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from conftest import CONFIGS, REPO, SQUAT_FIT_EPOCHS, FitRun, RunCli, carphone_video, config_args

from lightning_module.evaluation import PREDICTIONS_CSV, TEST_CSV, TEST_PLOT

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FAST = ("--trainer.fast_dev_run", "2", "--data.batch_size", "4")


@pytest.mark.parametrize("config", CONFIGS, ids=lambda path: path.name)
def test_config_parses_with_print_config(
    config: Path, run_cli: RunCli, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run_cli(["fit", "--config", str(config), "--print_config"], tmp_path)
    assert exit_info.value.code in (0, None)
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["data"]["exercise"] == config.stem
    assert printed["model"]["hidden_size"] == 128
    monitors = {cb["init_args"].get("monitor") for cb in printed["trainer"]["callbacks"]}
    assert "val/mae" in monitors


@pytest.mark.parametrize("config", CONFIGS, ids=lambda path: path.name)
def test_fast_dev_run_fit_test_predict(config: Path, demo_data_dir: Path, run_cli: RunCli, tmp_path: Path) -> None:
    args = config_args(config, demo_data_dir, *FAST)
    fit = run_cli(["fit", *args], tmp_path)
    assert torch.isfinite(fit.trainer.callback_metrics["train/loss_step"])
    assert 0.0 <= float(fit.trainer.callback_metrics["val/mae"]) <= 1.0
    run_cli(["test", *args], tmp_path)
    report = pd.read_csv(tmp_path / TEST_CSV)  # fast_dev_run has no logger: the root dir is the log dir
    assert len(report) == 8 and list(report.columns) == ["video", "true", "predicted", "error"]
    folder = demo_data_dir / Path(pd.read_csv(demo_data_dir / f"{config.stem}_scores.csv").video.iloc[-1]).parent
    run_cli(["predict", *args, "--data.predict_paths", f"[{folder}]"], tmp_path)
    predictions = pd.read_csv(tmp_path / PREDICTIONS_CSV)
    assert len(predictions) == 8 and predictions.score.between(0, 100).all()


@pytest.mark.parametrize("exercise", ["squat", "lunge"])
def test_the_synthetic_only_recipe_layers_on_every_exercise(
    exercise: str, run_cli: RunCli, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit):
        run_cli(
            ["fit", "--config", str(REPO / f"{exercise}.yaml"), "--config", str(REPO / "sim.yaml"), "--print_config"],
            tmp_path,
        )
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["data"]["exercise"] == exercise and printed["data"]["val_fraction"] == 0.0
    assert (printed["model"]["backbone"], printed["data"]["feature_set"]) == ("tcn", "kinematic")
    assert printed["data"]["extra_train_csv"] is None and printed["data"]["coach_points"] is None


def test_real_clip_recipe_layers_on_an_exercise_config(
    demo_data_dir: Path, run_cli: RunCli, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    recipe = ("--config", str(REPO / "real.yaml"))
    with pytest.raises(SystemExit):
        run_cli(["fit", "--config", str(REPO / "pushup.yaml"), *recipe, "--print_config"], tmp_path)
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["data"]["exercise"] == "pushup" and printed["data"]["val_fraction"] == 0.0
    assert (printed["model"]["backbone"], printed["data"]["feature_set"]) == ("tcn", "kinematic")
    assert printed["data"]["augmentation"]["temporal"] and printed["trainer"]["max_epochs"] == 40
    assert (printed["data"]["extra_train_csv"], printed["data"]["extra_train_ratio"]) == ("pushup_scores.csv", 1.0)
    fit = run_cli(["fit", *config_args(REPO / "pushup.yaml", demo_data_dir, *recipe, *FAST)], tmp_path)
    assert fit.model.hparams.input_size == 36 and torch.isfinite(fit.trainer.callback_metrics["train/loss_step"])


@pytest.mark.slow
def test_real_fit_beats_the_mean_baseline(squat_fit: FitRun) -> None:
    assert squat_fit.best_ckpt.is_file() and squat_fit.best_ckpt.name == "best.ckpt"
    assert squat_fit.last_ckpt.is_file()
    assert squat_fit.best_mae_score < 0.6 * squat_fit.baseline_mae_score, (
        f"best val MAE {squat_fit.best_mae_score:.2f} vs predict-the-mean {squat_fit.baseline_mae_score:.2f}"
    )


def test_test_writes_per_video_csv_and_plot(
    squat_fit: FitRun, demo_data_dir: Path, run_cli: RunCli, tmp_path: Path
) -> None:
    args = config_args(REPO / "squat.yaml", demo_data_dir, "--ckpt_path", str(squat_fit.best_ckpt))
    cli = run_cli(["test", *args], tmp_path)
    log_dir = next((tmp_path / "lightning_logs" / "squat").iterdir())
    report = pd.read_csv(log_dir / TEST_CSV)
    scores = pd.read_csv(demo_data_dir / "squat_scores.csv")
    test_rows = scores[scores.video.str.startswith("squats_test/")]
    assert len(report) == len(test_rows)
    assert sorted(Path(v).name for v in report.video) == sorted(Path(v).name for v in test_rows.video)
    pd.testing.assert_series_equal(report.error, report.predicted - report.true, check_names=False, atol=1e-4)
    logged = cli.trainer.callback_metrics["test/mae_score"]
    assert report.error.abs().mean() == pytest.approx(float(logged), abs=1e-3)
    assert (log_dir / TEST_PLOT).read_bytes().startswith(PNG_MAGIC)


def short_fit_args(demo_data_dir: Path, seed: int, *extra: str) -> list[str]:
    return [
        "fit",
        *config_args(REPO / "squat.yaml", demo_data_dir),
        "--seed_everything",
        str(seed),
        "--trainer.max_epochs",
        "2",
        "--trainer.limit_train_batches",
        "3",
        *extra,
    ]


@pytest.mark.slow
def test_same_seed_same_metrics_and_the_seed_moves_the_split(
    demo_data_dir: Path, run_cli: RunCli, tmp_path: Path
) -> None:
    runs = [run_cli(short_fit_args(demo_data_dir, seed), tmp_path / str(i)) for i, seed in enumerate((7, 7, 8))]
    metrics = [{key: float(value) for key, value in run.trainer.callback_metrics.items()} for run in runs]
    assert metrics[0] == metrics[1]
    assert [run.datamodule.hparams.seed for run in runs] == [7, 7, 8]
    val_videos = [set(run.datamodule.tables["val"].video) for run in runs]
    assert val_videos[0] == val_videos[1] and val_videos[0] != val_videos[2]


@pytest.mark.slow
def test_without_a_validation_split_every_train_row_trains_every_epoch_and_the_last_is_exported(
    demo_data_dir: Path, run_cli: RunCli, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from pytorch_lightning.callbacks import EarlyStopping

    cli = run_cli(short_fit_args(demo_data_dir, 7, "--data.val_fraction", "0", "--trainer.max_epochs", "3"), tmp_path)
    assert not any(isinstance(c, EarlyStopping) for c in cli.trainer.callbacks)
    scores = pd.read_csv(demo_data_dir / "squat_scores.csv")
    train_rows = scores.video.str.startswith("squats_train").sum()
    assert len(cli.datamodule.tables["train"]) == train_rows and "val" not in cli.datamodule.tables
    best = torch.load(tmp_path / "checkpoints" / "squat" / "best.ckpt", weights_only=True)
    assert (best["epoch"], best["global_step"]) == (2, 9), "best.ckpt is the last of the 3 epochs (3 batches each)"
    assert "no validation split: trained 3 epochs" in capsys.readouterr().out
    assert (tmp_path / "checkpoints" / "squat_scorer.keras").is_file(), "the last epoch is exported"


@pytest.mark.slow
def test_resume_from_last_checkpoint(demo_data_dir: Path, run_cli: RunCli, tmp_path: Path) -> None:
    csv_logger = ("--trainer.logger", "pytorch_lightning.loggers.CSVLogger", "--trainer.logger.save_dir", "logs")
    run_cli(short_fit_args(demo_data_dir, 7, *csv_logger), tmp_path)
    last = tmp_path / "checkpoints" / "squat" / "last.ckpt"
    first_steps = torch.load(last, weights_only=True)["global_step"]
    assert first_steps == 6, "last.ckpt holds the latest epoch (2 epochs x 3 batches), not the best one"
    resume = ("--trainer.max_epochs", "3", "--ckpt_path", str(last))
    cli = run_cli([*short_fit_args(demo_data_dir, 7, *csv_logger), *resume], tmp_path)
    assert cli.trainer.global_step == first_steps * 3 // 2
    logged = pd.read_csv(tmp_path / "logs" / "squat" / "version_1" / "metrics.csv")
    assert set(logged.epoch.dropna()) == {2}, "the resumed run trains only the remaining epoch"


def test_optimizer_and_scheduler_come_from_the_command_line(
    demo_data_dir: Path, run_cli: RunCli, tmp_path: Path
) -> None:
    args = [
        "fit",
        *config_args(REPO / "squat.yaml", demo_data_dir, *FAST),
        "--optimizer",
        "SGD",
        "--optimizer.lr",
        "0.05",
        "--optimizer.momentum",
        "0.9",
        "--lr_scheduler",
        "StepLR",
        "--lr_scheduler.step_size",
        "1",
    ]
    with pytest.warns(UserWarning, match="configure_optimizers` will be overridden"):
        trainer = run_cli(args, tmp_path).trainer
    (optimizer,) = trainer.optimizers
    assert isinstance(optimizer, torch.optim.SGD) and optimizer.defaults["momentum"] == 0.9
    assert isinstance(trainer.lr_scheduler_configs[0].scheduler, torch.optim.lr_scheduler.StepLR)


def test_predict_scores_a_folder_of_real_videos(
    trained_squat_ckpt: Path, demo_data_dir: Path, run_cli: RunCli, tmp_path: Path
) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ("first.mp4", "second.mp4"):
        shutil.copy(carphone_video(), folder / name)
    args = [
        "predict",
        *config_args(REPO / "squat.yaml", demo_data_dir),
        "--ckpt_path",
        str(trained_squat_ckpt),
        "--data.predict_paths",
        f"[{folder}]",
        "--data.extract_workers",
        "1",
        "--prediction_writer.output_path",
        str(tmp_path / "scores.csv"),
    ]
    run_cli(args, tmp_path / "work")
    predictions = pd.read_csv(tmp_path / "scores.csv")
    assert [Path(video).name for video in predictions.video] == ["first.mp4", "second.mp4"]
    assert predictions.score.between(0, 100).all()
    assert predictions.score.iloc[0] == pytest.approx(predictions.score.iloc[1], abs=1e-6), "same clip, same score"
    assert (
        len(list((tmp_path / "work" / "checkpoints" / "keypoints_cache").glob("*.npz"))) == 1
    )  # same bytes, one entry


def run_ddp(subcommand: str, cwd: Path, *args: str) -> str:
    """``python cli.py <subcommand> squat.yaml ... args`` on 2 CPU processes (gloo); its output."""
    command = [
        sys.executable,
        str(REPO / "cli.py"),
        subcommand,
        "--config",
        str(REPO / "squat.yaml"),
        "--trainer.accelerator",
        "cpu",
        "--trainer.devices",
        "2",
        "--trainer.strategy",
        "ddp",
        *args,
    ]
    process = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        output = process.communicate(timeout=240)[0]
    finally:  # a timeout, or the per-test limit's signal: kill both ranks (a hung collective ignores SIGTERM)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0, output[-3000:]
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in output, "the second process must really run"
    return output


@pytest.mark.ddp
@pytest.mark.timeout(720)  # three 2-process runs, each bounded at 240 s above
def test_two_process_cpu_ddp_fit_test_predict(squat_fit: FitRun, demo_data_dir: Path, tmp_path: Path) -> None:
    """Fit: two gloo processes, each with half of the single-device batch (same epochs, same number of
    optimizer steps) must give about as good a model. Test / predict: every video exactly once in the
    files rank 0 writes (an odd number of videos makes the sampler pad one rank with a repeat)."""
    data = ("--data.data_dir", str(demo_data_dir))
    output = run_ddp("fit", tmp_path, *data, "--data.batch_size", "16", "--trainer.max_epochs", str(SQUAT_FIT_EPOCHS))
    found = re.search(r"best val MAE ([\d.]+) score units; predict-the-mean baseline ([\d.]+)", output)
    assert found is not None, output
    best, baseline = map(float, found.groups())
    assert baseline == pytest.approx(squat_fit.baseline_mae_score, abs=0.01), "same split as the single-device fit"
    assert best < 0.6 * baseline and best < 1.25 * squat_fit.best_mae_score, (best, squat_fit.best_mae_score)
    best_ckpt = tmp_path / "checkpoints" / "squat" / "best.ckpt"

    run_ddp("test", tmp_path, *data, "--ckpt_path", str(best_ckpt), "--trainer.logger", "false")
    report = pd.read_csv(tmp_path / TEST_CSV)
    test_videos = list((demo_data_dir / "squats_test").glob("*.pose.npz"))
    assert sorted(report.video) == sorted(str(path) for path in test_videos)

    videos = sorted(str(path) for path in test_videos)[:5]
    run_ddp(
        "predict",
        tmp_path,
        *data,
        "--ckpt_path",
        str(best_ckpt),
        "--trainer.logger",
        "false",
        "--data.batch_size",
        "2",
        "--data.predict_paths",
        f"[{','.join(videos)}]",
    )
    predictions = pd.read_csv(tmp_path / PREDICTIONS_CSV)
    assert list(predictions.video) == videos and predictions.score.between(0, 100).all()
