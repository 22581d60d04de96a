"""What happens when things go wrong in the Lightning commands: checkpoints refused before any data
is touched, unwritable checkpoint folders caught before training, an earlier run's checkpoints kept,
and one ``error: ...`` block with an exit code per kind instead of a traceback."""

import subprocess
import sys
from pathlib import Path

import pytest
from checkpoint_files import random_checkpoint
from conftest import REPO, RunCli, config_args

from lightning_module.checkpoints import CheckpointError
from preprocessing.extract import main as extract_main
from preprocessing.files import NotWritableError


def squat_checkpoint(path: Path) -> Path:
    """A Lightning checkpoint of a (random-init) ScoreRegressor whose data module was the squat one."""
    return random_checkpoint(path, {"exercise": "squat"})


def run_cli_process(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "cli.py"), *args], cwd=cwd, capture_output=True, text=True, timeout=240
    )


@pytest.mark.parametrize("command", ["test", "validate", "predict"])
def test_a_checkpoint_of_another_exercise_is_refused_before_the_data(command, run_cli: RunCli, tmp_path: Path) -> None:
    """The data folder does not even exist: the checkpoint is refused first."""
    ckpt = squat_checkpoint(tmp_path / "squat.ckpt")
    args = config_args(REPO / "pushup.yaml", tmp_path / "no_data", "--ckpt_path", str(ckpt))
    with pytest.raises(CheckpointError, match=f"{ckpt}: is a squat model, but the data is pushup"):
        run_cli([command, *args], tmp_path)


def test_missing_corrupt_or_folder_checkpoints_are_refused_naming_the_file(run_cli: RunCli, tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.ckpt"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip")
    folder = tmp_path / "folder.ckpt"
    folder.mkdir()
    cases = {
        tmp_path / "missing.ckpt": "no such checkpoint",
        corrupt: "not a readable checkpoint",
        folder: "is a folder, not a checkpoint file",
    }
    for ckpt, problem in cases.items():
        args = config_args(REPO / "squat.yaml", tmp_path / "no_data", "--ckpt_path", str(ckpt))
        with pytest.raises(CheckpointError, match=f"{ckpt}: {problem}"):
            run_cli(["test", *args], tmp_path)


def test_an_unwritable_checkpoint_folder_fails_fit_before_training(run_cli: RunCli, tmp_path: Path) -> None:
    """``checkpoints`` is a file, so ``checkpoints/squat`` cannot be made (root or not); the data folder
    does not exist, so reaching the data would fail differently."""
    (tmp_path / "checkpoints").write_text("in the way")
    args = config_args(REPO / "squat.yaml", tmp_path / "no_data", "--trainer.max_epochs", "1")
    with pytest.raises(NotWritableError, match="checkpoints/squat: checkpoint folder cannot be written"):
        run_cli(["fit", *args], tmp_path)
    assert not (tmp_path / "lightning_logs").exists()


@pytest.mark.slow
def test_a_new_fit_keeps_the_earlier_runs_checkpoints(
    demo_data_dir: Path, run_cli: RunCli, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "checkpoints" / "squat").mkdir(parents=True)
    earlier = squat_checkpoint(tmp_path / "checkpoints" / "squat" / "best.ckpt").read_bytes()
    args = config_args(
        REPO / "squat.yaml",
        demo_data_dir,
        "--trainer.max_epochs",
        "1",
        "--trainer.limit_train_batches",
        "2",
        "--trainer.limit_val_batches",
        "1",
    )
    run_cli(["fit", *args], tmp_path)
    (kept,) = (tmp_path / "checkpoints" / "squat" / "earlier").iterdir()
    assert (kept / "best.ckpt").read_bytes() == earlier
    assert (tmp_path / "checkpoints" / "squat" / "best.ckpt").read_bytes() != earlier  # this run's own
    assert f"held an earlier run's checkpoints; they are kept in {kept}" in capsys.readouterr().out


def test_a_real_process_exits_with_the_code_of_its_error(tmp_path: Path) -> None:
    """The console path end to end (every kind's code and message: tests/test_errors.py, in-process)."""
    gone = run_cli_process("export", "--ckpt_path", str(tmp_path / "gone.ckpt"), cwd=tmp_path)
    assert gone.returncode == 5 and "Traceback" not in gone.stderr
    assert gone.stderr.startswith(f"error: {tmp_path / 'gone.ckpt'}: no such checkpoint\n(exit code 5;")


def test_an_empty_input_folder_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "empty").mkdir()
    assert extract_main([str(tmp_path / "empty"), "--cache_dir", str(tmp_path / "cache")]) == 2
    assert f"error: no video files in {tmp_path / 'empty'}" in capsys.readouterr().out
