"""What each backbone costs on device: parameters, file size and batch-1 latency per back-end.

    python benchmarks/backbones.py [--models bilstm gru tcn] [--threads 1]

Per model (the seed's BiLSTM; a one-way GRU and a TCN sized for phones, see MODELS) the checkpoint is
exported with ``export_checkpoint(..., tflite=True)`` (so every artifact passed the parity check) and
each back-end runs through ``serving.runtime.load_predictor`` as ``score_video.py`` does: torch eager,
ONNX Runtime, TFLite float32 / float16 / int8. Latency: one sequence (16 x 133) per call, the median of
CALLS calls, best of ROUNDS interleaved rounds. Baseline: torch eager on the BiLSTM, always measured in
the same run; ``x bilstm`` is its latency over the row's. Speed does not depend on the weights, so the
networks are random-init. Accuracy is not measured here: ``python cli.py cv`` per backbone gives it.
"""

import argparse
import functools
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from export.exporter import artifact_names, export_checkpoint  # noqa: E402
from export.parity import torch_predictor  # noqa: E402
from lightning_module.backbone import Architecture  # noqa: E402
from lightning_module.checkpoints import save_checkpoint  # noqa: E402
from lightning_module.regressor import ScoreRegressor  # noqa: E402
from preprocessing.constants import FEATURE_DIMS, NUM_FRAMES  # noqa: E402
from serving.runtime import Predictor, load_predictor  # noqa: E402

MODELS = {
    "bilstm": Architecture(),  # the seed's: 128 per direction
    "gru": Architecture("gru", hidden_size=64, bidirectional=False),
    "tcn": Architecture("tcn", hidden_size=64),
}
BACKENDS = ("torch", "onnxruntime", "tflite", "tflite_f16", "tflite_int8")
CALLS = 300
ROUNDS = 5


def median_seconds(call: Callable[[], object], calls: int = CALLS, warmup: int = 20) -> float:
    for _ in range(warmup):
        call()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def random_model(architecture: Architecture) -> ScoreRegressor:
    """A random-init ScoreRegressor of ``architecture`` (the rest of its hparams: the defaults)."""
    torch.manual_seed(0)
    return ScoreRegressor(**asdict(architecture)).eval()


def export_model(name: str, model: ScoreRegressor, folder: Path) -> tuple[dict[str, Path], dict[str, float]]:
    """Export ``model`` with TFLite; back-end -> artifact path, and back-end -> worst parity difference."""
    ckpt = save_checkpoint(model, folder / f"{name}.ckpt", {"exercise": "squat"})
    out_dir = folder / name
    start = time.perf_counter()
    result = export_checkpoint(ckpt, out_dir, tflite=True, log=lambda _: None)
    print(f"  exported {name} in {time.perf_counter() - start:.0f} s (parity checked)", flush=True)
    names = artifact_names("squat", tflite=True)
    paths = {backend: out_dir / names[backend] for backend in BACKENDS if backend in names}
    return paths, {backend: max(by_input.values()) for backend, by_input in result.parity.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime and TFLite threads (default 1)")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(args.threads, 1))
    print(
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), ONNX Runtime and TFLite "
        f"{args.threads} thread(s); {os.cpu_count()} CPUs; best of {ROUNDS} interleaved rounds of {CALLS} calls"
    )
    x = np.random.default_rng(0).normal(size=(1, NUM_FRAMES, FEATURE_DIMS)).astype(np.float32)
    rows: dict[tuple[str, str], dict] = {}
    predictors: dict[tuple[str, str], Predictor] = {}
    with tempfile.TemporaryDirectory() as folder:
        for name in dict.fromkeys(["bilstm", *args.models]):  # the baseline's model always
            model = random_model(MODELS[name])
            params = sum(p.numel() for p in model.model.parameters())
            predictors[name, "torch"] = torch_predictor(model.model)
            rows[name, "torch"] = {"params": params, "bytes": 4 * params, "parity": 0.0}
            if name not in args.models:
                continue
            paths, parity = export_model(name, model, Path(folder))
            for backend, path in paths.items():
                predictors[name, backend] = load_predictor(path, args.threads)
                rows[name, backend] = {"params": params, "bytes": path.stat().st_size, "parity": parity[backend]}
        latency: dict[tuple[str, str], list[float]] = {key: [] for key in predictors}
        for _ in range(ROUNDS):
            for key, predict in predictors.items():
                latency[key].append(median_seconds(functools.partial(predict, x)))
    baseline = min(latency["bilstm", "torch"])
    print("\n| model | back-end | parameters | file (kB) | batch 1 (ms) | x bilstm torch | max diff vs torch |")
    print("|---|---|---|---|---|---|---|")
    for (name, backend), row in rows.items():
        best = min(latency[name, backend])
        size = f"{row['bytes'] / 1e3:.0f}" + (" (fp32 weights)" if backend == "torch" else "")
        print(
            f"| {name} | {backend} | {row['params']:,} | {size} | {best * 1e3:.3f} | {baseline / best:.1f}x "
            f"| {row['parity']:.1e} |"
        )


if __name__ == "__main__":
    main()
