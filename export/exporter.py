"""Export a trained checkpoint: ONNX, two ``.keras`` files, a SavedModel, score scale and metadata.

Every artifact is written into a fresh version folder inside the output folder, reloaded and
verified there; then all back-ends are run against torch on the same inputs (parity). Only when
parity holds is the version published, with one atomic switch of a pointer (serving/published.py). A
failure at any point, Ctrl-C or a SIGKILL included, leaves the output folder's set as it was. The
whole export holds the output folder's lock: a second export into it is refused at once. The one exception to "parity or
nothing" is an optional artifact (``export.tflite.OPTIONAL_BACKENDS``, the int8 TFLite file): when it
misses its tolerance it is left out, said so in the log and the metadata (``parity.left_out``), and an
earlier export's copy is removed with the same publication, so no file in the folder is unchecked.
"""

import shutil
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from datamodules.exercise import ExerciseDataModule, pose_settings
from export.keras_port import write_keras
from export.metadata import artifact_bytes, build_metadata, write_metadata
from export.onnx_export import OPSET, write_onnx
from export.parity import TOLERANCE, ParityError, check_parity, parity_inputs
from export.savedmodel import write_savedmodel
from export.tflite import OPTIONAL_BACKENDS, QUANTIZED_TOLERANCES, write_tflite
from lightning_module.backbone import SequenceScorer
from lightning_module.checkpoints import CheckpointError, read_checkpoint
from lightning_module.regressor import ScoreRegressor
from preprocessing.command import run_function
from preprocessing.constants import DEFAULT_MODEL_DIR, SCORE_SCALE
from preprocessing.errors import ArtifactFailure
from preprocessing.features import preprocessing_signature
from preprocessing.form import check_ranges, read_ranges
from preprocessing.locks import FolderBusyError, command_line, folder_lock
from preprocessing.registry import EXERCISES, Exercise
from serving.artifact import SAVEDMODEL_SUFFIX, TFLITE_SUFFIXES, artifact_digest, metadata_path
from serving.published import new_version, publish
from serving.runtime import load_predictor

BEST_MODEL_NAME = "model.keras"  # the original's ModelCheckpoint file: the best model, whatever the exercise
SCORE_SCALE_NAME = "score_scale.txt"


class ExportError(ArtifactFailure, RuntimeError):
    """The export could not be completed; nothing in the output folder was changed."""


@dataclass(frozen=True)
class TrainedModel:
    """What an export needs from a Lightning checkpoint."""

    model: SequenceScorer
    datamodule_hparams: dict
    form_ranges: dict | None  # the data module's, learned at fit (preprocessing.form); None before them


@dataclass(frozen=True)
class ExportResult:
    """Published artifact paths (name -> path) and the parity differences (back-end -> input -> diff)."""

    artifacts: dict[str, Path]
    parity: dict[str, dict[str, float]]


def artifact_names(exercise: str, tflite: bool = False) -> dict[str, str]:
    """Back-end -> file name of each exported model: the original project's names, plus ONNX (and TFLite)."""
    names = {
        "onnxruntime": f"{exercise}_scorer.onnx",
        "keras": f"{exercise}_scorer.keras",
        "savedmodel": f"{exercise}_scorer{SAVEDMODEL_SUFFIX}",
    }
    if tflite:
        names |= {backend: f"{exercise}_scorer{suffix}" for backend, suffix in TFLITE_SUFFIXES.items()}
    return names


def existing_dir(path: str | None) -> str | None:
    """``path`` when it names an existing folder (hparams may point to another machine's), else None."""
    return path if path and Path(path).is_dir() else None


def load_checkpoint(path: str | Path) -> TrainedModel:
    """The scoring network of a ScoreRegressor checkpoint (eval mode, on CPU), loaded with
    ``ScoreRegressor.load_from_checkpoint`` (so built from the checkpoint's hparams: backbone, input
    width, sizes), and the datamodule's hparams; CheckpointError naming the file when it is missing,
    unreadable or not a ScoreRegressor's."""
    checkpoint = read_checkpoint(path)  # missing, a folder, unreadable, no state dict: its own message
    try:
        regressor = ScoreRegressor.load_from_checkpoint(path, map_location="cpu", weights_only=True)
    except Exception as error:  # no Lightning version, missing keys, wrong shapes: all mean "not our checkpoint"
        raise CheckpointError(f"{path}: not a ScoreRegressor checkpoint ({type(error).__name__}: {error})") from None
    data_state = checkpoint.get(ExerciseDataModule.__qualname__, {})
    return TrainedModel(
        regressor.model.eval(),
        dict(checkpoint.get("datamodule_hyper_parameters", {})),
        data_state.get("form_ranges") if isinstance(data_state, dict) else None,
    )


def write_artifacts(model: SequenceScorer, stage: Path, exercise: str, tflite: bool = False) -> dict[str, Path]:
    """Write and verify every model artifact and the score scale in ``stage``; name -> path."""
    names = artifact_names(exercise, tflite)
    paths = {backend: stage / name for backend, name in names.items()}
    write_onnx(model, paths["onnxruntime"])
    write_keras(model, paths["keras"])
    best = stage / BEST_MODEL_NAME
    shutil.copyfile(paths["keras"], best)
    if artifact_digest(best) != artifact_digest(paths["keras"]):
        raise ExportError(f"{best}: copy differs from {paths['keras']}")
    write_savedmodel(model, paths["savedmodel"])
    for backend in TFLITE_SUFFIXES if tflite else ():
        write_tflite(model, paths[backend], backend)
    scale = stage / SCORE_SCALE_NAME
    scale.write_text(f"{SCORE_SCALE}\n")
    if float(scale.read_text()) != SCORE_SCALE:
        raise ExportError(f"{scale}: does not read back as {SCORE_SCALE}")
    return {**{names[b]: p for b, p in paths.items()}, BEST_MODEL_NAME: best, SCORE_SCALE_NAME: scale}


def export_checkpoint(
    ckpt_path: str | Path,
    out_dir: str | Path = DEFAULT_MODEL_DIR,
    exercise: str | None = None,
    data_dir: str | Path | None = None,
    log: Callable[[str], object] = print,
    tflite: bool | None = None,
    form_ranges: dict | None = None,
) -> ExportResult:
    """Export ``ckpt_path`` into ``out_dir`` (see the module docstring); raises ExportError / ParityError.

    ``exercise`` defaults to the checkpoint's datamodule hparams. Real pose sequences for the parity
    check come from ``data_dir`` (default: the checkpoint's, when it exists) and the checkpoint's
    keypoint cache folder, when it exists. ``tflite``: also write the three TFLite files (export/tflite.py);
    default: for the on-device backbones (gru, tcn), not for the BiLSTM, whose fused-LSTM conversion
    costs ~30 s of CPU per file. ``form_ranges``: the form reference ranges for the metadata (default:
    the ones fit learned, kept in the checkpoint).
    """
    trained = load_checkpoint(ckpt_path)
    exercise = exercise or trained.datamodule_hparams.get("exercise")
    if exercise not in EXERCISES:
        raise ExportError(f"{ckpt_path}: exercise {exercise!r} is not one of {', '.join(EXERCISES)} (pass --exercise)")
    if data_dir is not None and not Path(data_dir).is_dir():
        raise ExportError(f"{data_dir}: no such data folder (--data_dir)")
    data_dir = data_dir or existing_dir(trained.datamodule_hparams.get("data_dir"))
    cache_dir = existing_dir(trained.datamodule_hparams.get("cache_dir"))
    ranges = trained.form_ranges if form_ranges is None else form_ranges
    problem = None if ranges is None else check_ranges(ranges, exercise, str(ckpt_path))
    if problem:
        raise ExportError(problem)
    out_dir = Path(out_dir)
    tflite = trained.model.architecture.backbone != "bilstm" if tflite is None else tflite
    with folder_lock(out_dir, command_line()), new_version(out_dir) as stage:
        staged = write_artifacts(trained.model, stage, exercise, tflite)
        names = artifact_names(exercise, tflite)
        feature_set = trained.datamodule_hparams.get("feature_set", "original")
        inputs = parity_inputs(data_dir, cache_dir, width=trained.model.input_size, feature_set=feature_set)
        differences, left_out = gate_parity(trained.model, stage, names, inputs, log)
        for backend in left_out:
            staged.pop(names[backend]).unlink()  # not published; an earlier export's copy goes too
        metadata = build_metadata(
            exercise=exercise,
            preprocessing=preprocessing_signature(pose_settings(trained.datamodule_hparams), feature_set),
            source_checkpoint=ckpt_path,
            model_hparams=asdict(trained.model.architecture),
            onnx_opset=OPSET,
            parity={
                "tolerance": TOLERANCE,
                "tolerances": QUANTIZED_TOLERANCES,
                "max_abs_diff": differences,
                "left_out": [names[backend] for backend in left_out],
            },
            artifacts={name: artifact_digest(path) for name, path in staged.items()},
            artifact_bytes={name: artifact_bytes(path) for name, path in staged.items()},
            feature_dims=trained.model.input_size,
            form_ranges=ranges,
        )
        for path in (metadata_path(stage / names["onnxruntime"]), metadata_path(stage / BEST_MODEL_NAME)):
            write_metadata(path, metadata)
            staged[path.name] = path
        publish(out_dir, stage, removed=[names[backend] for backend in left_out])
    return ExportResult({name: out_dir / name for name in staged}, differences)


def gate_parity(
    model: SequenceScorer,
    stage: Path,
    names: dict[str, str],
    inputs: Mapping[str, np.ndarray],
    log: Callable[[str], object],
) -> tuple[dict[str, dict[str, float]], list[str]]:
    """Every staged model reloaded through its runtime and run against torch on ``inputs``: the
    differences, and the optional back-ends left out for missing their tolerance (logged); ParityError
    when any other misses its tolerance."""
    backends = {backend: load_predictor(stage / name) for backend, name in names.items()}
    differences, report, left_out = check_parity(
        model, backends, inputs, tolerances=QUANTIZED_TOLERANCES, optional=OPTIONAL_BACKENDS
    )
    log(report)
    for backend in left_out:
        log(
            f"export: {names[backend]} left out: it moves this model's output by up to "
            f"{max(differences[backend].values()):.1e}, more than its {QUANTIZED_TOLERANCES[backend]:.0e}; "
            "every other artifact is within its tolerance"
        )
    return differences, left_out


def export(
    ckpt_path: str,
    exercise: Exercise | None = None,
    out_dir: str = DEFAULT_MODEL_DIR,
    data_dir: str | None = None,
    tflite: bool | None = None,
    form_ranges: str | None = None,
) -> int:
    """Export a trained checkpoint to ONNX, Keras (.keras), a SavedModel, TFLite and metadata, after
    checking every back-end against torch (export.parity.TOLERANCE).

    Returns 0 on success. Raises CheckpointError for an unusable checkpoint, FolderBusyError naming
    the other run when another export holds ``out_dir``, ExportError saying the output folder was
    left unchanged when the export failed.

    Args:
        ckpt_path: ScoreRegressor checkpoint, e.g. checkpoints/squat/best.ckpt
        exercise: default: the checkpoint's datamodule exercise
        out_dir: output folder
        data_dir: data folder whose *.pose.npz files feed the parity check (default: the checkpoint's)
        tflite: write the TFLite files (float32, float16, int8); default: for the gru and tcn backbones only
        form_ranges: a form reference-range file (``cli.py ranges``) for the metadata instead of the ones fit learned
    """
    ranges = None if form_ranges is None else read_ranges(form_ranges)
    try:
        result = export_checkpoint(ckpt_path, out_dir, exercise, data_dir, tflite=tflite, form_ranges=ranges)
    except (CheckpointError, FolderBusyError):
        raise
    except (ExportError, ParityError, ValueError, OSError) as error:  # each names its file or back-end
        raise ExportError(f"export failed, {out_dir} left unchanged: {error}") from error
    for name in sorted(result.artifacts):
        print(f"wrote {result.artifacts[name]}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python cli.py export ...`` (see ``export``); bad arguments exit with status 2."""
    return run_function(export, argv, "cli.py export")
