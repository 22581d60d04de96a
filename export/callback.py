"""``ExportCallback``: export the best checkpoint when ``fit`` ends, so a config can chain the export.

    trainer:
      callbacks:
        - class_path: export.callback.ExportCallback
          init_args: {out_dir: checkpoints}

Runs on rank 0 only, after the ModelCheckpoint callback has its best checkpoint; skips (with a
message) under ``fast_dev_run``, when no best checkpoint was saved, or for a cross-validation fold
(``data.fold`` set: a fold's model is an estimate, not a model to publish). A failed export (e.g. parity)
raises, so the command exits non-zero, and leaves ``out_dir`` as it was.
"""

from pytorch_lightning import Callback, LightningModule, Trainer
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.utilities import rank_zero_info


class ExportCallback(Callback):
    """Export ``trainer.checkpoint_callback.best_model_path`` into ``out_dir`` at the end of fit.

    Args:
        out_dir: folder receiving the artifacts (as ``cli.py export --out_dir``).
        data_dir: data folder whose pose files feed the parity check (default: the checkpoint's).
    """

    def __init__(self, out_dir: str = "checkpoints", data_dir: str | None = None) -> None:
        self.out_dir = out_dir
        self.data_dir = data_dir

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        checkpoint = trainer.checkpoint_callback
        best = checkpoint.best_model_path if isinstance(checkpoint, ModelCheckpoint) else ""
        if trainer.fast_dev_run or not best:  # type: ignore[attr-defined]  # set by Lightning's setup, undeclared
            rank_zero_info("ExportCallback: no best checkpoint (fast_dev_run or no ModelCheckpoint), export skipped")
            return
        datamodule = trainer.datamodule  # type: ignore[attr-defined]  # set by Lightning's DataConnector, undeclared
        if getattr(datamodule, "hparams", {}).get("fold") is not None:
            rank_zero_info("ExportCallback: a cross-validation fold, export skipped")
            return
        from export.exporter import export_checkpoint  # TensorFlow loads only when an export really runs

        result = export_checkpoint(best, self.out_dir, data_dir=self.data_dir, log=rank_zero_info)
        rank_zero_info(f"ExportCallback: exported {best} to {self.out_dir} ({len(result.artifacts)} files)")
