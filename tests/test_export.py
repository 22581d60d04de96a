"""Export: artifacts really load in ONNX Runtime, Keras 3, tf_keras and TensorFlow, and match torch to 1e-5.

Exports are shared module fixtures (TensorFlow import and a SavedModel write cost seconds each).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from checkpoint_files import random_checkpoint

from datamodules.exercise import pose_settings
from export import keras_port, main
from export.callback import ExportCallback
from export.exporter import ExportError, ExportResult, artifact_names, export_checkpoint, load_checkpoint
from export.parity import TOLERANCE, max_differences, parity_inputs, real_sequences, torch_predictor
from lightning_module.backbone import SequenceScorer
from lightning_module.checkpoints import CheckpointError
from preprocessing.constants import FEATURE_DIMS, NUM_FRAMES, SCORE_SCALE
from preprocessing.features import preprocessing_signature
from serving import published
from serving.artifact import artifact_digest, check_artifact, metadata_path, read_metadata
from serving.published import CURRENT, VERSIONS, pointed
from serving.runtime import BACKENDS, load_predictor

REPO = Path(__file__).resolve().parents[1]
EXPECTED_FILES = {
    "model.keras",
    "model.meta.json",
    "score_scale.txt",
    "squat_scorer.keras",
    "squat_scorer.meta.json",
    "squat_scorer.onnx",
    "squat_scorer_savedmodel",
}


def visible(out_dir: Path) -> dict[str, str]:
    """Published name -> digest of what a reader finds there (hidden bookkeeping left out)."""
    return {p.name: artifact_digest(p) for p in out_dir.iterdir() if not p.name.startswith(".")}


def squat_checkpoint(path: Path, data_dir: Path, seed: int) -> Path:
    """A random-init seed network (the ScoreRegressor defaults) saved as a squat fit's Lightning checkpoint."""
    datamodule_hparams = {"exercise": "squat", "data_dir": str(data_dir), "pose_running_mode": "video"}
    return random_checkpoint(path, datamodule_hparams, seed)


def fresh_differences(out_dir: Path, model: SequenceScorer, data_dir: Path) -> dict[str, dict[str, float]]:
    """Max |backend - torch| of the published artifacts, reloaded here, on inputs the export did not see."""
    random = np.random.default_rng(123).uniform(-2, 2, size=(7, NUM_FRAMES, FEATURE_DIMS)).astype(np.float32)
    real = real_sequences(data_dir, count=9)
    inputs = {"real x9": real, "real x1": real[-1:], "random x7": random, "random x1": random[3:4]}
    backends = {backend: load_predictor(out_dir / name) for backend, name in artifact_names("squat").items()}
    return max_differences(torch_predictor(model), backends, inputs)


@pytest.fixture(scope="module")
def random_ckpt(tmp_path_factory: pytest.TempPathFactory, demo_data_dir: Path) -> Path:
    return squat_checkpoint(tmp_path_factory.mktemp("ckpt") / "random.ckpt", demo_data_dir, seed=7)


@pytest.fixture(scope="module")
def random_export(random_ckpt: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ExportResult]:
    """The random-init checkpoint exported; the data dir comes from its datamodule hparams."""
    out_dir = tmp_path_factory.mktemp("random_export")
    return out_dir, export_checkpoint(random_ckpt, out_dir, log=lambda _: None)


@pytest.fixture(scope="module")
def trained_export(trained_squat_ckpt: Path, demo_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The short real squat fit's best checkpoint exported through the command line."""
    out_dir = tmp_path_factory.mktemp("trained_export")
    argv = ["--ckpt_path", str(trained_squat_ckpt), "--out_dir", str(out_dir), "--data_dir", str(demo_data_dir)]
    assert main(argv) == 0
    return out_dir


def test_random_init_export_writes_every_artifact_with_parity(random_export, random_ckpt, demo_data_dir) -> None:
    out_dir, result = random_export
    assert set(visible(out_dir)) == EXPECTED_FILES
    (version,) = (out_dir / VERSIONS).iterdir()  # no staging folder or dead version left behind
    assert pointed(out_dir, CURRENT) == version and {p.name for p in version.iterdir()} == EXPECTED_FILES
    assert set(result.parity) == set(BACKENDS)
    for by_input in result.parity.values():
        assert set(by_input) == {"real x64", "real x1", "random x64", "random x1"}
        assert max(by_input.values()) <= TOLERANCE
    fresh = fresh_differences(out_dir, load_checkpoint(random_ckpt).model, demo_data_dir)
    assert all(max(by_input.values()) <= TOLERANCE for by_input in fresh.values()), fresh
    assert (out_dir / "score_scale.txt").read_text().strip() == str(SCORE_SCALE)
    assert artifact_digest(out_dir / "model.keras") == artifact_digest(out_dir / "squat_scorer.keras")


@pytest.mark.slow
def test_trained_export_parity_and_metadata(trained_export, trained_squat_ckpt, demo_data_dir) -> None:
    trained = load_checkpoint(trained_squat_ckpt)
    fresh = fresh_differences(trained_export, trained.model, demo_data_dir)
    assert all(max(by_input.values()) <= TOLERANCE for by_input in fresh.values()), fresh
    outputs = load_predictor(trained_export / "squat_scorer.onnx")(real_sequences(demo_data_dir))
    assert outputs.shape == (64, 1) and 0 <= outputs.min() and outputs.max() <= 1
    assert outputs.std() > 0.02  # a trained model tells sequences apart: parity is not tested on a constant

    metadata = read_metadata(trained_export / "squat_scorer.onnx")
    assert metadata == read_metadata(trained_export / "model.keras")
    assert (
        metadata["exercise"] == "squat"
        and metadata["num_frames"] == NUM_FRAMES
        and metadata["feature_dims"] == FEATURE_DIMS
    )
    assert metadata["preprocessing"] == preprocessing_signature(pose_settings(trained.datamodule_hparams))
    assert metadata["source_checkpoint"]["path"] == str(trained_squat_ckpt.resolve())
    assert metadata["versions"]["torch"].startswith("2.13") and metadata["versions"]["onnxruntime"]
    assert max(metadata["parity"]["max_abs_diff"]["keras"].values()) <= TOLERANCE
    for name, digest in metadata["artifacts"].items():
        assert artifact_digest(trained_export / name) == digest


def test_keras_and_savedmodel_load_in_a_process_without_project_code(random_export, random_ckpt, tmp_path) -> None:
    out_dir, _ = random_export
    x = np.random.default_rng(5).normal(size=(3, NUM_FRAMES, FEATURE_DIMS)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    script = tmp_path / "load.py"
    script.write_text(
        "import json, sys\n"
        "import numpy as np\n"
        "import keras\n"
        "import tensorflow as tf\n"
        "x = np.load(sys.argv[3])\n"
        "keras_out = np.asarray(keras.models.load_model(sys.argv[1], compile=False)(x, training=False))\n"
        "serve = tf.saved_model.load(sys.argv[2]).signatures['serving_default']\n"
        "saved_out = serve(pose_features=tf.constant(x))['score'].numpy()\n"
        "roots = {'export', 'preprocessing', 'lightning_module', 'datamodules', 'cli', 'torch'}\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in roots)\n"
        "print(json.dumps({'keras': keras_out.tolist(), 'savedmodel': saved_out.tolist(), 'loaded': loaded}))\n"
    )
    artifacts = [str(out_dir / "squat_scorer.keras"), str(out_dir / "squat_scorer_savedmodel")]
    process = subprocess.run(
        [sys.executable, "-I", str(script), *artifacts, str(tmp_path / "x.npy")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"TF_CPP_MIN_LOG_LEVEL": "2", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        timeout=120,
    )
    assert process.returncode == 0, process.stderr[-2000:]
    result = json.loads(process.stdout.strip().splitlines()[-1])
    assert result["loaded"] == []
    expected = torch_predictor(load_checkpoint(random_ckpt).model)(x)
    for backend in ("keras", "savedmodel"):
        assert np.asarray(result[backend]).shape == (3, 1)
        assert np.abs(np.asarray(result[backend]) - expected).max() <= TOLERANCE


def test_savedmodel_loaders(random_export, random_ckpt) -> None:
    """tf_keras (Keras 2) and Keras 3's TFSMLayer load the SavedModel; Keras 3 load_model refuses folders."""
    import keras
    import tf_keras

    folder = str(random_export[0] / "squat_scorer_savedmodel")
    x = parity_inputs(seed=3)["random x64"][:5]
    expected = torch_predictor(load_checkpoint(random_ckpt).model)(x)
    assert np.abs(tf_keras.models.load_model(folder)(x, training=False).numpy() - expected).max() <= TOLERANCE
    layer_out = keras.layers.TFSMLayer(folder, call_endpoint="serving_default")(x)["score"]
    assert np.abs(np.asarray(layer_out) - expected).max() <= TOLERANCE
    with pytest.raises(ValueError, match="File format not supported"):
        keras.models.load_model(folder)


def test_parity_failure_fails_export_and_keeps_previous_artifacts(
    random_export, random_ckpt, tmp_path, monkeypatch, capsys
) -> None:
    """One corrupted ported weight (the output bias, +1e-3) must fail the export; out_dir stays as it was."""
    out_dir = tmp_path / "checkpoints"
    shutil.copytree(random_export[0], out_dir)
    before = visible(out_dir)
    real_weights = keras_port.keras_layer_weights

    def corrupted(model: SequenceScorer) -> dict[str, list[np.ndarray]]:
        weights = real_weights(model)
        weights[keras_port.OUTPUT_NAME][1] = weights[keras_port.OUTPUT_NAME][1] + np.float32(1e-3)
        return weights

    monkeypatch.setattr(keras_port, "keras_layer_weights", corrupted)
    with pytest.raises(ExportError) as failure:
        main(["--ckpt_path", str(random_ckpt), "--out_dir", str(out_dir)])
    error = str(failure.value)
    assert "keras (tolerance 1e-05), savedmodel (tolerance 1e-05) differ(s) from torch" in error
    assert "onnxruntime" in error and "FAIL" in error and "left unchanged" in error
    assert visible(out_dir) == before


def test_bad_checkpoints_fail_with_a_clear_message(tmp_path) -> None:
    missing = tmp_path / "missing.ckpt"
    with pytest.raises(CheckpointError, match=f"{missing}: no such checkpoint"):
        main(["--ckpt_path", str(missing), "--out_dir", str(tmp_path / "out")])
    other = tmp_path / "other.ckpt"
    torch.save({"state_dict": {"encoder.weight": torch.zeros(3)}}, other)
    with pytest.raises(CheckpointError, match=f"{other}: not a ScoreRegressor checkpoint"):
        main(["--ckpt_path", str(other), "--out_dir", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_an_interrupted_publication_leaves_the_previous_set(
    random_export, demo_data_dir, tmp_path, monkeypatch
) -> None:
    """Ctrl-C at the switch of the pointer: the set is exactly the previous one, the scorer still
    accepts it, and the dead version is removed by the next export (which publishes its own)."""
    out_dir = tmp_path / "checkpoints"
    shutil.copytree(random_export[0], out_dir, symlinks=True)
    before = visible(out_dir)
    other_ckpt = squat_checkpoint(tmp_path / "other.ckpt", demo_data_dir, seed=11)
    real_point = published._point

    def interrupted(link: Path, target: str) -> None:
        if link.name == CURRENT:
            raise KeyboardInterrupt
        real_point(link, target)

    monkeypatch.setattr(published, "_point", interrupted)
    with pytest.raises(KeyboardInterrupt):
        main(["--ckpt_path", str(other_ckpt), "--out_dir", str(out_dir)])
    assert visible(out_dir) == before
    for artifact in ("squat_scorer.onnx", "squat_scorer.keras", "squat_scorer_savedmodel", "model.keras"):
        check_artifact(out_dir / artifact)
    monkeypatch.setattr(published, "_point", real_point)
    assert main(["--ckpt_path", str(other_ckpt), "--out_dir", str(out_dir)]) == 0
    assert visible(out_dir)["squat_scorer.onnx"] != before["squat_scorer.onnx"]
    assert len(list((out_dir / VERSIONS).iterdir())) == 2  # the new set and the one before it


def test_cli_dispatches_export(capsys) -> None:
    from cli import cli_main

    with pytest.raises(SystemExit) as exit_info:
        cli_main(["export", "--help"])
    assert exit_info.value.code == 0
    assert "--ckpt_path" in capsys.readouterr().out


def test_export_callback_skips_under_fast_dev_run(run_cli, demo_data_dir, tmp_path) -> None:
    args = [
        "fit",
        "--config",
        str(REPO / "squat.yaml"),
        "--data.data_dir",
        str(demo_data_dir),
        "--trainer.accelerator",
        "cpu",
        "--trainer.fast_dev_run",
        "true",
    ]
    cli = run_cli(args, tmp_path / "work")
    assert any(isinstance(callback, ExportCallback) for callback in cli.trainer.callbacks)  # from the config
    assert not (tmp_path / "work" / "checkpoints").exists()


@pytest.mark.slow
def test_configs_chain_export_after_fit(squat_fit) -> None:
    """squat.yaml's ExportCallback exported the best checkpoint of the fit into checkpoints/."""
    out_dir = squat_fit.workdir / "checkpoints"
    assert EXPECTED_FILES <= {p.name for p in out_dir.iterdir()}
    metadata = read_metadata(out_dir / "squat_scorer.onnx")
    assert metadata["source_checkpoint"]["sha256"] == artifact_digest(squat_fit.best_ckpt)
    assert metadata_path(out_dir / "squat_scorer_savedmodel") == out_dir / "squat_scorer.meta.json"


def test_a_relative_output_folder_publishes_whatever_mkdtemp_returns(tmp_path, monkeypatch) -> None:
    """Python 3.12's mkdtemp returns an absolute path even for a relative folder (3.11's stays relative):
    the version being published must still count as the live one, not as a dead run's to remove."""
    real_mkdtemp = tempfile.mkdtemp
    monkeypatch.setattr(tempfile, "mkdtemp", lambda **kwargs: os.path.abspath(real_mkdtemp(**kwargs)))
    monkeypatch.chdir(tmp_path)
    for text in ("first", "second"):
        with published.new_version("out") as stage:
            (stage / "score_scale.txt").write_text(text)
            published.publish(Path("out"), stage)
        assert (tmp_path / "out" / "score_scale.txt").read_text() == text
    assert len(list((tmp_path / "out" / VERSIONS).iterdir())) == 2, "the live set and the previous one"
