"""The scoring network (``BiLSTMScorer``, a plain nn.Module) and its LightningModule (``ScoreRegressor``)."""

from lightning_module.backbone import BiLSTMScorer
from lightning_module.regressor import ScoreRegressor

__all__ = ["BiLSTMScorer", "ScoreRegressor"]
