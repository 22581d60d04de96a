"""The artifact format, read side: names, metadata and the checks a scorer runs before trusting an
exported model (no torch, no TensorFlow here; ``export.metadata`` writes what this reads).

``<stem>.meta.json`` sits beside the artifacts it describes: ``squat_scorer.meta.json`` for
``squat_scorer.onnx`` / ``squat_scorer.keras`` / ``squat_scorer_savedmodel/``, ``model.meta.json`` for
``model.keras``. It records the exercise, the input layout, the preprocessing signature
(``preprocessing.features.preprocessing_signature``), the source checkpoint, creation time, package
versions, the parity figures and a sha256 per artifact, so a scorer can refuse an artifact made with
other preprocessing or one that does not belong to this metadata (e.g. left over by another export).
"""

import hashlib
import json
from pathlib import Path

from preprocessing.errors import ArtifactFailure
from preprocessing.features import preprocessing_signature
from preprocessing.pose import PoseSettings

FORMAT_VERSION = 1
INPUT_NAME = "pose_features"  # the input and output names of every artifact (ONNX, Keras, SavedModel)
OUTPUT_NAME = "score"
SAVEDMODEL_SUFFIX = "_savedmodel"
# TFLite back-end -> file-name suffix: ``squat_scorer.tflite``, ``squat_scorer_f16.tflite``, ...
TFLITE_SUFFIXES = {"tflite": ".tflite", "tflite_f16": "_f16.tflite", "tflite_int8": "_int8.tflite"}


class ArtifactError(ArtifactFailure, ValueError):
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
