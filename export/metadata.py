"""Artifact metadata: what a scorer needs to trust an exported model (no torch, no TensorFlow here).

``<stem>.meta.json`` sits beside the artifacts it describes: ``squat_scorer.meta.json`` for
``squat_scorer.onnx`` / ``squat_scorer.keras`` / ``squat_scorer_savedmodel/``, ``model.meta.json`` for
``model.keras``. It records the exercise, the input layout, the preprocessing signature
(``preprocessing.features.preprocessing_signature``), the source checkpoint, creation time, package
versions, the parity figures and a sha256 per artifact, so a scorer can refuse an artifact made with
other preprocessing or one that does not belong to this metadata (e.g. left over by another export).
"""

import hashlib
import importlib.metadata
import json
import platform
from datetime import UTC, datetime
from pathlib import Path

from preprocessing.constants import FEATURE_DIMS, NUM_FRAMES, SCORE_SCALE
from preprocessing.features import preprocessing_signature
from preprocessing.pose import PoseSettings

FORMAT_VERSION = 1
INPUT_NAME = "pose_features"  # the input and output names of every artifact (ONNX, Keras, SavedModel)
OUTPUT_NAME = "score"
SAVEDMODEL_SUFFIX = "_savedmodel"
# TFLite back-end -> file-name suffix: ``squat_scorer.tflite``, ``squat_scorer_f16.tflite``, ...
TFLITE_SUFFIXES = {"tflite": ".tflite", "tflite_f16": "_f16.tflite", "tflite_int8": "_int8.tflite"}
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


class ArtifactError(ValueError):
    """An artifact or its metadata that cannot be used; the message names the file and the problem."""


def artifact_stem(artifact: str | Path) -> str:
    """``squat_scorer`` for ``squat_scorer.onnx``, ``squat_scorer.keras``, ``squat_scorer_savedmodel`` and the
    ``squat_scorer[_f16|_int8].tflite`` files."""
    name = Path(artifact).name
    for suffix in (".onnx", ".keras", SAVEDMODEL_SUFFIX, *sorted(TFLITE_SUFFIXES.values(), key=len, reverse=True)):
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def metadata_path(artifact: str | Path) -> Path:
    """Where the metadata of ``artifact`` lives: ``<stem>.meta.json`` in the same folder."""
    return Path(artifact).parent / f"{artifact_stem(artifact)}.meta.json"


def artifact_digest(path: str | Path) -> str:
    """sha256 of a file, or of a folder's files (relative names and contents, in sorted order)."""
    path = Path(path)
    if not path.is_dir():
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


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
) -> dict:
    """The metadata document (JSON-able); ``artifacts`` maps artifact name -> artifact_digest,
    ``artifact_bytes`` name -> size on disk; ``feature_dims``: the model's input width."""
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
    }


def write_metadata(path: str | Path, metadata: dict) -> None:
    """Write ``metadata`` as indented JSON and check it reads back equal (callers stage and publish it)."""
    path = Path(path)
    path.write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
    if json.loads(path.read_text()) != metadata:
        raise ArtifactError(f"{path}: metadata does not read back as written")


def read_metadata(artifact: str | Path) -> dict:
    """The metadata of ``artifact``; ArtifactError naming the file when it is missing or unreadable."""
    path = metadata_path(artifact)
    try:
        metadata = json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactError(f"{artifact}: no metadata file {path} beside it (export it with `cli.py export`)") from None
    except (OSError, ValueError) as error:
        raise ArtifactError(f"{path}: unreadable metadata ({error})") from None
    if not isinstance(metadata, dict) or metadata.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(f"{path}: not a formscore metadata file of format version {FORMAT_VERSION}")
    return metadata


def pose_settings_of(metadata: dict, artifact: str | Path) -> PoseSettings:
    """The pose settings the artifact's training data was extracted with (ArtifactError if unusable)."""
    try:
        return PoseSettings(**metadata["preprocessing"]["pose_settings"])
    except (KeyError, TypeError) as error:
        raise ArtifactError(f"{metadata_path(artifact)}: unusable pose settings ({error})") from None


def feature_set_of(metadata: dict) -> str:
    """The feature set the artifact's model reads (``original`` for artifacts from before feature sets)."""
    return str(metadata.get("preprocessing", {}).get("feature_set", "original"))


def check_artifact(artifact: str | Path) -> dict:
    """Metadata of ``artifact`` after checking it belongs to it and matches this code's preprocessing.

    Raises ArtifactError naming the artifact when it is missing, its digest is not the one recorded,
    or the preprocessing signature recorded at export differs from the one this code computes for the
    same pose settings (listing the differing keys).
    """
    artifact = Path(artifact)
    if not artifact.exists():
        raise ArtifactError(f"{artifact}: no such model artifact")
    metadata = read_metadata(artifact)
    if metadata.get("artifacts", {}).get(artifact.name) != artifact_digest(artifact):
        raise ArtifactError(
            f"{artifact}: does not match {metadata_path(artifact)} (digest differs or not listed); "
            "re-run the export so artifacts and metadata come from one run"
        )
    expected = metadata.get("preprocessing", {})
    try:
        actual = preprocessing_signature(pose_settings_of(metadata, artifact), feature_set_of(metadata))
    except ValueError as error:  # a feature set this code does not have
        raise ArtifactError(f"{artifact}: {error}") from None
    differing = sorted(key for key in expected.keys() | actual.keys() if expected.get(key) != actual.get(key))
    if differing:
        details = "; ".join(f"{key}: artifact {expected.get(key)!r}, scorer {actual.get(key)!r}" for key in differing)
        raise ArtifactError(f"{artifact}: made with other preprocessing than this scorer's ({details})")
    return metadata
