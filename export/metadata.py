"""Artifact metadata, write side: the document ``serving.artifact`` reads and checks.

``build_metadata`` records the exercise, the input layout, the preprocessing signature, the source
checkpoint, creation time, package versions, the parity figures and a sha256 per artifact.
"""

import importlib.metadata
import json
import platform
from datetime import UTC, datetime
from pathlib import Path

from preprocessing.constants import FEATURE_DIMS, NUM_FRAMES, SCORE_SCALE
from serving.artifact import FORMAT_VERSION, INPUT_NAME, OUTPUT_NAME, ArtifactError, artifact_digest

# Distributions whose versions shape an export (read from package metadata: nothing is imported).
VERSIONED_PACKAGES = (
    "torch",
    "pytorch-lightning",
    "onnx",
    "onnxruntime",
    "tensorflow",
    "keras",
    "tf-keras",
    "numpy",
    "mediapipe",
)


def artifact_bytes(path: str | Path) -> int:
    """Size on disk of a file, or of a folder's files together."""
    path = Path(path)
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def package_versions() -> dict[str, str | None]:
    """Installed versions of Python and the packages in VERSIONED_PACKAGES (None when absent)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def build_metadata(
    exercise: str,
    preprocessing: dict,
    source_checkpoint: str | Path,
    model_hparams: dict,
    onnx_opset: int,
    parity: dict,
    artifacts: dict[str, str],
    artifact_bytes: dict[str, int] | None = None,
    feature_dims: int = FEATURE_DIMS,
    form_ranges: dict | None = None,
) -> dict:
    """The metadata document (JSON-able); ``artifacts`` maps artifact name -> artifact_digest,
    ``artifact_bytes`` name -> size on disk; ``feature_dims``: the model's input width; ``form_ranges``:
    the form reference ranges (``preprocessing.form``), when there are any."""
    checkpoint = Path(source_checkpoint).resolve()
    return {
        "format_version": FORMAT_VERSION,
        "exercise": exercise,
        "num_frames": NUM_FRAMES,
        "feature_dims": feature_dims,
        "input": {"name": INPUT_NAME, "shape": ["batch", NUM_FRAMES, feature_dims], "dtype": "float32"},
        "output": {"name": OUTPUT_NAME, "shape": ["batch", 1], "range": [0.0, 1.0], "score": "output * score_scale"},
        "score_scale": SCORE_SCALE,
        "preprocessing": preprocessing,
        "model": model_hparams,
        "source_checkpoint": {"path": str(checkpoint), "sha256": artifact_digest(checkpoint)},
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": package_versions(),
        "onnx_opset": onnx_opset,
        "parity": parity,
        "artifacts": artifacts,
        "artifact_bytes": artifact_bytes or {},
        **({} if form_ranges is None else {"form_ranges": form_ranges}),
    }


def write_metadata(path: str | Path, metadata: dict) -> None:
    """Write ``metadata`` as indented JSON and check it reads back equal (callers stage and publish it)."""
    path = Path(path)
    path.write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
    if json.loads(path.read_text()) != metadata:
        raise ArtifactError(f"{path}: metadata does not read back as written")
