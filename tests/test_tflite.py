"""TFLite artifacts: written by the export, really run in the TFLite interpreter, parity with torch, sizes
in the metadata, built-in ops only, and score_video.py scoring with a .tflite file without torch."""

import json
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
from checkpoint_files import random_checkpoint

from export.exporter import ExportResult, artifact_names, export_checkpoint, load_checkpoint
from export.metadata import artifact_bytes
from export.parity import TOLERANCE, max_differences, real_sequences, torch_predictor
from export.tflite import QUANTIZED_TOLERANCES, write_tflite
from lightning_module.backbone import Architecture, build_scorer
from preprocessing.cache import load_pose
from preprocessing.constants import FEATURE_DIMS, NUM_FRAMES, SCORE_SCALE
from preprocessing.features import sequence_features
from serving.artifact import read_metadata
from serving.runtime import load_predictor, tflite_interpreter

REPO = Path(__file__).resolve().parents[1]
TFLITE_FILES = {"squat_scorer.tflite", "squat_scorer_f16.tflite", "squat_scorer_int8.tflite"}
ONE_WAY_GRU = Architecture("gru", hidden_size=16, bidirectional=False)


def save_checkpoint(architecture: Architecture, path: Path, data_dir: Path, seed: int = 3) -> Path:
    """A random-init ScoreRegressor of ``architecture`` saved as a squat fit's Lightning checkpoint."""
    datamodule_hparams = {"exercise": "squat", "data_dir": str(data_dir)}
    return random_checkpoint(path, datamodule_hparams, seed, **asdict(architecture))


def ops_of(path: Path) -> set[str]:
    return {op["op_name"] for op in tflite_interpreter(path)._get_ops_details()}


@pytest.fixture(scope="module")
def tcn_ckpt(tmp_path_factory: pytest.TempPathFactory, demo_data_dir: Path) -> Path:
    architecture = Architecture("tcn", hidden_size=32, causal=True)
    return save_checkpoint(architecture, tmp_path_factory.mktemp("ckpt") / "tcn.ckpt", demo_data_dir)


@pytest.fixture(scope="module")
def tcn_export(tcn_ckpt: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ExportResult]:
    """The TCN checkpoint exported with the defaults (TFLite on for the on-device backbones)."""
    out_dir = tmp_path_factory.mktemp("tcn_export")
    return out_dir, export_checkpoint(tcn_ckpt, out_dir, log=lambda _: None)


def test_export_writes_tflite_files_with_parity_and_sizes(tcn_export, tcn_ckpt, demo_data_dir) -> None:
    out_dir, result = tcn_export
    assert TFLITE_FILES <= {p.name for p in out_dir.iterdir()}
    for backend, by_input in result.parity.items():
        assert set(by_input) == {"real x64", "real x1", "random x64", "random x1"}
        assert max(by_input.values()) <= QUANTIZED_TOLERANCES.get(backend, TOLERANCE), backend
    metadata = read_metadata(out_dir / "squat_scorer_int8.tflite")
    assert metadata == read_metadata(out_dir / "squat_scorer.onnx")
    assert metadata["model"] == {
        "backbone": "tcn",
        "input_size": FEATURE_DIMS,
        "hidden_size": 32,
        "dropout": 0.3,
        "bidirectional": True,
        "causal": True,
    }
    assert metadata["parity"]["tolerances"] == QUANTIZED_TOLERANCES
    sizes = metadata["artifact_bytes"]
    for name in TFLITE_FILES:
        assert sizes[name] == artifact_bytes(out_dir / name) == (out_dir / name).stat().st_size
        assert ops_of(out_dir / name) >= {"CONV_2D", "FULLY_CONNECTED"}  # convolutions kept as built-in ops
    assert sizes["squat_scorer_int8.tflite"] < 0.35 * sizes["squat_scorer.tflite"]
    assert sizes["squat_scorer_f16.tflite"] < 0.6 * sizes["squat_scorer.tflite"]

    # Reloaded here, on inputs the export did not see, odd batch sizes included.
    random = np.random.default_rng(8).uniform(-2, 2, size=(7, NUM_FRAMES, FEATURE_DIMS)).astype(np.float32)
    real = real_sequences(demo_data_dir, count=9)
    inputs = {"real x9": real, "random x7": random, "random x1": random[2:3]}
    names = artifact_names("squat", tflite=True)
    backends = {backend: load_predictor(out_dir / names[backend]) for backend in QUANTIZED_TOLERANCES | {"tflite": 0}}
    fresh = max_differences(torch_predictor(load_checkpoint(tcn_ckpt).model), backends, inputs)
    assert max(fresh["tflite"].values()) <= TOLERANCE, fresh
    for backend, tolerance in QUANTIZED_TOLERANCES.items():
        assert 0 < max(fresh[backend].values()) <= tolerance, (backend, fresh)  # rounded weights: not bit-equal


def test_an_int8_file_past_its_tolerance_is_left_out_with_its_earlier_copy(
    tcn_export, tcn_ckpt, tmp_path, monkeypatch
) -> None:
    """The int8 file held to an impossible tolerance: the rest is published, the int8 file (and the
    earlier export's copy) is not, and the log and the metadata say so."""
    out_dir = tmp_path / "checkpoints"
    shutil.copytree(tcn_export[0], out_dir)
    monkeypatch.setitem(QUANTIZED_TOLERANCES, "tflite_int8", 1e-12)
    lines: list[str] = []
    result = export_checkpoint(tcn_ckpt, out_dir, log=lines.append)
    names = {p.name for p in out_dir.iterdir()}
    assert "squat_scorer_int8.tflite" not in names | set(result.artifacts)
    assert TFLITE_FILES - {"squat_scorer_int8.tflite"} <= names and not any(n.startswith(".export-") for n in names)
    metadata = read_metadata(out_dir / "squat_scorer.tflite")
    assert metadata["parity"]["left_out"] == ["squat_scorer_int8.tflite"]
    assert "squat_scorer_int8.tflite" not in metadata["artifacts"]
    assert any(line.startswith("export: squat_scorer_int8.tflite left out") for line in lines)


def test_rnns_convert_with_builtin_ops_only(tmp_path: Path) -> None:
    """The GRU is unrolled into plain ops (no WHILE loop, no Flex/Select TF op) and matches torch."""
    torch.manual_seed(4)
    model = build_scorer(ONE_WAY_GRU).eval()
    path = tmp_path / "gru.tflite"
    write_tflite(model, path)
    ops = ops_of(path)
    assert "WHILE" not in ops and not any(op.startswith("Flex") for op in ops), ops
    x = np.random.default_rng(0).normal(size=(5, NUM_FRAMES, FEATURE_DIMS)).astype(np.float32)
    assert np.abs(load_predictor(path)(x) - torch_predictor(model)(x)).max() <= TOLERANCE


@pytest.mark.slow
def test_bilstm_converts_to_the_fused_lstm_op(tmp_path: Path) -> None:
    """The BiLSTM needs no Select TF ops either: each direction is TFLite's fused LSTM (slow: ~30 s CPU)."""
    torch.manual_seed(5)
    model = build_scorer(Architecture(hidden_size=16)).eval()
    path = tmp_path / "bilstm.tflite"
    write_tflite(model, path)
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in ops_of(path)
    x = np.random.default_rng(1).normal(size=(3, NUM_FRAMES, FEATURE_DIMS)).astype(np.float32)
    assert np.abs(load_predictor(path)(x) - torch_predictor(model)(x)).max() <= TOLERANCE


def test_score_video_scores_with_tflite_without_torch(tcn_export, tcn_ckpt, demo_data_dir) -> None:
    out_dir, _ = tcn_export
    poses = sorted((demo_data_dir / "squats_test").glob("*.pose.npz"))[:3]
    runner = (
        "import runpy, sys\nsys.argv = sys.argv[1:]\ncode = 0\n"
        "try:\n    runpy.run_path(sys.argv[0], run_name='__main__')\nexcept SystemExit as done:\n    code = done.code\n"
        "print('LOADED=' + ','.join(m for m in ('torch', 'tensorflow') if m in sys.modules), file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    process = subprocess.run(
        [
            sys.executable,
            "-c",
            runner,
            "scripts/score_video.py",
            *map(str, poses),
            "--model",
            str(out_dir / "squat_scorer.tflite"),
            "--json",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={"TF_CPP_MIN_LOG_LEVEL": "2", "PATH": "/usr/bin:/bin"},
    )
    assert process.returncode == 0, process.stderr[-2000:]
    assert process.stderr.rsplit("LOADED=", 1)[1].split()[0] == "tensorflow"  # and not torch
    document = json.loads(process.stdout)
    assert document["backend"] == "tflite"
    features = np.stack([sequence_features(load_pose(p)) for p in poses])
    reference = torch_predictor(load_checkpoint(tcn_ckpt).model)(features)[:, 0] * SCORE_SCALE
    scores = [result["score"] for result in document["results"]]
    assert np.abs(np.asarray(scores) - reference).max() <= 1e-3
