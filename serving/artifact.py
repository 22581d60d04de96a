"""The artifact format, read side: names, metadata and the checks a scorer runs before trusting an
exported model (no torch, no TensorFlow here; ``export.metadata`` writes what this reads).

``<stem>.meta.json`` sits beside the artifacts it describes: ``squat_scorer.meta.json`` for
``squat_scorer.onnx`` / ``squat_scorer.keras`` / ``squat_scorer_savedmodel/``, ``model.meta.json`` for
``model.keras``. It records the exercise, the input layout, the preprocessing signature
(``preprocessing.features.preprocessing_signature``), the source checkpoint, creation time, package
versions, the parity figures and a sha256 per artifact, so a scorer can refuse an artifact made with
other preprocessing or one that does not belong to this metadata (e.g. left over by another export).

What a scorer uses from the metadata is checked against what ``export.metadata`` can write
(``check_fields``): a hand-edited ``score_scale`` of 1000 or a wrong input layout is refused, not
trusted. A published name is a link through its folder's pointer (``serving.published``): it is resolved
once (``checked_artifact``), so the artifact and its metadata come from one published set.
"""

import hashlib
import json
from pathlib import Path

from preprocessing.constants import NUM_FRAMES, SCORE_SCALE
from preprocessing.errors import ArtifactFailure
from preprocessing.features import feature_dims, preprocessing_signature
from preprocessing.form import check_ranges
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


def pinned(artifact: str | Path) -> Path:
    """The file or folder a published name stands for now (a link through the pointer, resolved once)."""
    artifact = Path(artifact)
    return artifact.resolve() if artifact.is_symlink() else artifact


def check_fields(metadata: dict, path: Path) -> None:
    """ArtifactError naming ``path`` when a field the scorer uses holds what no export writes."""
    from preprocessing.dataset import EXERCISES  # pandas: loaded only when an artifact is checked

    width = feature_dims(feature_set_of(metadata))  # a known set: the preprocessing check came first
    expected = {
        "score_scale": SCORE_SCALE,
        "num_frames": NUM_FRAMES,
        "feature_dims": width,
        "input": {"name": INPUT_NAME, "shape": ["batch", NUM_FRAMES, width], "dtype": "float32"},
    }
    for key, value in expected.items():
        if metadata.get(key) != value:
            raise ArtifactError(
                f"{path}: {key} is {metadata.get(key)!r}, but an export writes {value!r} (edited by hand?)"
            )
    if metadata.get("exercise") not in EXERCISES:
        raise ArtifactError(f"{path}: exercise {metadata.get('exercise')!r} is not one of {', '.join(EXERCISES)}")
    problem = (
        check_ranges(metadata["form_ranges"], metadata["exercise"], str(path)) if "form_ranges" in metadata else None
    )
    if problem:
        raise ArtifactError(problem)


def check_artifact(artifact: str | Path) -> dict:
    """Metadata of ``artifact`` after checking it (see ``checked_artifact``)."""
    return checked_artifact(artifact)[1]


def checked_artifact(artifact: str | Path) -> tuple[Path, dict]:
    """The artifact's file (``pinned``) and its metadata, after checking they belong together, the
    fields a scorer uses (``check_fields``) and that the preprocessing matches this code's.

    Raises ArtifactError naming the artifact when it is missing, its metadata is unusable, its digest
    is not the one recorded, or the preprocessing signature recorded at export differs from the one
    this code computes for the same pose settings (listing the differing keys).
    """
    named = Path(artifact)
    artifact = pinned(named)
    if not artifact.exists():
        raise ArtifactError(f"{named}: no such model artifact")
    metadata = read_metadata(artifact)
    digests = metadata.get("artifacts")
    if not isinstance(digests, dict) or digests.get(artifact.name) != artifact_digest(artifact):
        raise ArtifactError(
            f"{named}: does not match {metadata_path(named)} (digest differs or not listed); "
            "re-run the export so artifacts and metadata come from one run"
        )
    expected = metadata.get("preprocessing")
    if not isinstance(expected, dict):
        raise ArtifactError(f"{metadata_path(named)}: no preprocessing record")
    try:
        actual = preprocessing_signature(pose_settings_of(metadata, artifact), feature_set_of(metadata))
    except ValueError as error:  # a feature set this code does not have
        raise ArtifactError(f"{named}: {error}") from None
    differing = sorted(key for key in expected.keys() | actual.keys() if expected.get(key) != actual.get(key))
    if differing:
        details = "; ".join(f"{key}: artifact {expected.get(key)!r}, scorer {actual.get(key)!r}" for key in differing)
        raise ArtifactError(f"{named}: made with other preprocessing than this scorer's ({details})")
    check_fields(metadata, metadata_path(named))
    return artifact, metadata
