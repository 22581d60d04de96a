"""Parity, the export contract: every back-end gives torch's output to within TOLERANCE on 0..1.

Inputs: real pose sequences (the demo data's ``*.pose.npz`` files under the data folder and the
keypoint cache's entries, through the same feature code as training) and random ones, each as a
batch of up to PARITY_BATCH and of 1. Real sequences are used only when the feature code's width is
the model's (a model trained on another feature set gets random inputs only; the report's columns show it).
Quantised artifacts (TFLite float16 / int8) are held to their own, looser tolerances.
"""

from collections.abc import Collection, Mapping
from pathlib import Path

import numpy as np
import torch

from lightning_module.backbone import SequenceScorer
from preprocessing.cache import CorruptEntryError, load_pose
from preprocessing.constants import FEATURE_DIMS, NUM_FRAMES, POSE_FILE_SUFFIX
from preprocessing.errors import ArtifactFailure
from preprocessing.features import feature_dims, sequence_features
from serving.runtime import Predictor

TOLERANCE = 1e-5
PARITY_BATCH = 64


class ParityError(ArtifactFailure, RuntimeError):
    """An exported back-end whose output differs from torch's by more than TOLERANCE."""


def pose_files(data_dir: str | Path | None, cache_dir: str | Path | None) -> list[Path]:
    """Pre-extracted pose files under ``data_dir`` (the demo data) and the keypoint cache's entries."""
    files = sorted(Path(data_dir).rglob(f"*{POSE_FILE_SUFFIX}")) if data_dir else []
    return files + (sorted(Path(cache_dir).glob("*.npz")) if cache_dir else [])


def real_sequences(
    data_dir: str | Path | None,
    cache_dir: str | Path | None = None,
    count: int = PARITY_BATCH,
    feature_set: str = "original",
) -> np.ndarray:
    """``feature_set`` features of up to ``count`` readable NUM_FRAMES pose files (see ``pose_files``;
    denser tracks are left out), spread evenly over them."""
    files = pose_files(data_dir, cache_dir)
    features = []
    for index in np.unique(np.linspace(0, len(files) - 1, count).astype(int)) if files else []:
        try:
            sequence = load_pose(files[index])
        except CorruptEntryError:
            continue  # training rebuilds such an entry; parity simply uses the others
        if len(sequence.detected) == NUM_FRAMES:
            features.append(sequence_features(sequence, feature_set))
    width = feature_dims(feature_set)
    return np.stack(features).astype(np.float32) if features else np.zeros((0, NUM_FRAMES, width), np.float32)


def parity_inputs(
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    seed: int = 0,
    width: int = FEATURE_DIMS,
    feature_set: str = "original",
) -> dict[str, np.ndarray]:
    """Named batches of (NUM_FRAMES, width) sequences: ``real xN`` / ``real x1`` when pose files are found
    (see ``pose_files``) and their features are ``width`` wide, and ``random x64`` / ``random x1``."""
    random = np.random.default_rng(seed).normal(size=(PARITY_BATCH, NUM_FRAMES, width)).astype(np.float32)
    inputs = {f"random x{PARITY_BATCH}": random, "random x1": random[:1]}
    real = real_sequences(data_dir, cache_dir, feature_set=feature_set)
    if len(real) and real.shape[-1] == width:
        inputs = {f"real x{len(real)}": real, "real x1": real[:1], **inputs}
    return inputs


def torch_predictor(model: SequenceScorer) -> Predictor:
    """``model`` in eval mode as a numpy -> numpy callable (the reference)."""
    model.eval()

    def predict(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(np.asarray(x, dtype=np.float32))).numpy()

    return predict


def max_abs_difference(actual: np.ndarray, expected: np.ndarray) -> float:
    """max |actual - expected|; infinity for a shape mismatch or a non-finite value (never passes)."""
    actual = np.asarray(actual, dtype=np.float64)
    if actual.shape != expected.shape or not np.isfinite(actual).all():
        return float("inf")
    return float(np.max(np.abs(actual - expected)))


def max_differences(
    reference: Predictor, backends: Mapping[str, Predictor], inputs: Mapping[str, np.ndarray]
) -> dict[str, dict[str, float]]:
    """Back-end -> input name -> max |backend - reference| over the batch."""
    expected = {name: reference(x) for name, x in inputs.items()}
    return {
        backend: {name: max_abs_difference(predict(x), expected[name]) for name, x in inputs.items()}
        for backend, predict in backends.items()
    }


def format_report(
    differences: Mapping[str, Mapping[str, float]], tolerance: float = TOLERANCE, tolerances: Mapping[str, float] = {}
) -> str:
    """A table of the differences, one line per back-end, with its maximum and pass/FAIL (against
    ``tolerances[backend]`` where given, else ``tolerance``)."""
    names = list(next(iter(differences.values())))
    lines = [f"parity: max |backend - torch| on the 0..1 output (tolerance {tolerance:.0e} unless stated)"]
    lines.append(f"  {'backend':<12}" + "".join(f"{name:>13}" for name in names) + f"{'max':>13}")
    for backend, by_input in differences.items():
        worst, allowed = max(by_input.values()), tolerances.get(backend, tolerance)
        cells = "".join(f"{by_input[name]:>13.2e}" for name in names)
        verdict = "ok" if worst <= allowed else "FAIL"
        lines.append(
            f"  {backend:<12}{cells}{worst:>13.2e}  {verdict}"
            + (f" (tolerance {allowed:.0e})" if backend in tolerances else "")
        )
    return "\n".join(lines)


def check_parity(
    model: SequenceScorer,
    backends: Mapping[str, Predictor],
    inputs: Mapping[str, np.ndarray],
    tolerance: float = TOLERANCE,
    tolerances: Mapping[str, float] = {},
    optional: Collection[str] = (),
) -> tuple[dict[str, dict[str, float]], str, list[str]]:
    """Differences, their report, and the ``optional`` back-ends that exceed their tolerance
    (``tolerances[backend]`` where given, else ``tolerance``); raises ParityError (with the report) when
    any other back-end does."""
    differences = max_differences(torch_predictor(model), backends, inputs)
    report = format_report(differences, tolerance, tolerances)
    failed = sorted(b for b, by_input in differences.items() if max(by_input.values()) > tolerances.get(b, tolerance))
    required = [backend for backend in failed if backend not in optional]
    if required:
        allowed = ", ".join(f"{backend} (tolerance {tolerances.get(backend, tolerance):.0e})" for backend in required)
        raise ParityError(f"{allowed} differ(s) from torch by more than the tolerance\n{report}")
    return differences, report, [backend for backend in failed if backend in optional]
