"""``ScoreRegressor``: a scoring network (``backbone``: bilstm, gru or tcn) trained with MSE on score / SCORE_SCALE.

Batches are dicts: ``x`` (B, NUM_FRAMES, FEATURE_DIMS) float32, ``y`` (B,) float32 in 0..1 (absent
when predicting) and ``index`` (B,) int64, the row of the datamodule's table for that split. The module
reads and writes no files: ``test_step`` returns its predictions, from which a callback
(``lightning_module.callbacks.VideoReportWriter``) writes the per-video report.
"""

import warnings

import torch
import torch.nn.functional as F
from pytorch_lightning import LightningModule
from torchmetrics import MeanAbsoluteError, MetricCollection, SpearmanCorrCoef

from lightning_module.backbone import Architecture, Backbone, build_scorer
from preprocessing.constants import FEATURE_DIMS, SCORE_SCALE

Batch = dict[str, torch.Tensor]


class ScoreRegressor(LightningModule):
    """Regress a form score in 0..1 from a (NUM_FRAMES, FEATURE_DIMS) pose sequence.

    Logs ``<split>/loss`` (MSE on 0..1), ``<split>/mae`` (0..1), ``<split>/mae_score`` (score units)
    and ``<split>/spearman`` for split in train, val, test. Optimizer: Adam(lr, weight_decay) unless
    LightningCLI is given ``--optimizer`` / ``--lr_scheduler``.

    Under DDP no training-time value is logged with ``sync_dist``: the rank-0 progress bar reads epoch
    values before the other ranks do, and a collective there deadlocks (Lightning issues #19604,
    #21264). ``train/loss`` is thus rank 0's own running mean; the torchmetrics values are global.
    """

    def __init__(
        self,
        hidden_size: int = 128,
        dropout: float = 0.3,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        input_size: int = FEATURE_DIMS,
        backbone: Backbone = "bilstm",
        bidirectional: bool = True,
        causal: bool = False,
    ) -> None:
        """``input_size``: features per frame (the feature set's width; the CLI links it from ``data.feature_set``).
        ``backbone``: ``bilstm`` (the seed's), ``gru`` or ``tcn`` (lightning_module/backbone.py); ``hidden_size``
        is the RNN units per direction or the TCN channels;
        ``bidirectional`` applies to ``gru``, ``causal`` to ``tcn``."""
        super().__init__()
        self.save_hyperparameters()
        self.model = build_scorer(Architecture(backbone, input_size, hidden_size, dropout, bidirectional, causal))
        with warnings.catch_warnings():  # its note that it buffers every prediction: a few thousand here
            warnings.filterwarnings("ignore", message=".*will save all targets and predictions", category=UserWarning)
            metrics = MetricCollection({"mae": MeanAbsoluteError(), "spearman": SpearmanCorrCoef()})
        self.train_metrics = metrics.clone(prefix="train/")
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, NUM_FRAMES, FEATURE_DIMS) -> (B,) scores in 0..1."""
        return self.model(x).squeeze(-1)

    def model_step(self, batch: Batch, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Loss and predictions (0..1) of one batch; logs the loss and updates the split's metrics."""
        predicted = self(batch["x"])
        loss = F.mse_loss(predicted, batch["y"])
        training = split == "train"
        self.log(
            f"{split}/loss",
            loss,
            on_step=training,
            on_epoch=True,
            prog_bar=True,
            batch_size=len(predicted),
            sync_dist=not training,
        )
        getattr(self, f"{split}_metrics").update(predicted.detach(), batch["y"])
        return loss, predicted

    def reset_metrics(self, split: str) -> None:
        """Start the split's epoch metrics afresh (at epoch start, so the states are created in the
        loop's own grad mode: states made under ``validate``'s inference mode break a later ``fit``)."""
        getattr(self, f"{split}_metrics").reset()

    def log_epoch_metrics(self, split: str) -> None:
        """Log the split's epoch metrics; ``compute`` already gathers every process's state."""
        values = getattr(self, f"{split}_metrics").compute()
        values[f"{split}/mae_score"] = values[f"{split}/mae"] * SCORE_SCALE
        training = split == "train"
        self.log_dict(values, prog_bar=not training, sync_dist=not training)

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        return self.model_step(batch, "train")[0]

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self.model_step(batch, "val")

    def test_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        """Predictions in 0..1 (for callbacks' ``on_test_batch_end``)."""
        return self.model_step(batch, "test")[1].detach()

    def predict_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        """Scores in 0..SCORE_SCALE."""
        return self(batch["x"]) * SCORE_SCALE

    def on_train_epoch_start(self) -> None:
        self.reset_metrics("train")

    def on_train_epoch_end(self) -> None:
        self.log_epoch_metrics("train")

    def on_validation_epoch_start(self) -> None:
        self.reset_metrics("val")

    def on_validation_epoch_end(self) -> None:
        self.log_epoch_metrics("val")

    def on_test_epoch_start(self) -> None:
        self.reset_metrics("test")

    def on_test_epoch_end(self) -> None:
        self.log_epoch_metrics("test")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.hparams["lr"], weight_decay=self.hparams["weight_decay"])
