"""The scoring networks as plain ``nn.Module``s (export walks them layer by layer).

Every network is a temporal backbone over the NUM_FRAMES frames followed by the same head:
mean over time -> Dense(128, relu) -> Dropout -> Dense(64, relu) -> Dense(1, sigmoid).
Input ``(batch, NUM_FRAMES, input_size)`` float32; output ``(batch, 1)`` in 0..1.

Backbones (``BACKBONES``, chosen by name with ``model.backbone`` in the YAML):
- ``bilstm``: bidirectional LSTM (``hidden_size`` per direction, full sequence), the seed's network;
  its state-dict keys (``lstm.*``, ``dense1.*``, ``dense2.*``, ``out.*``) are unchanged;
- ``gru``: GRU (``hidden_size`` per direction), bidirectional unless ``bidirectional: false``;
- ``tcn``: three 1-D convolutions (kernel 3, dilations 1, 2, 4, ``hidden_size`` channels, relu, a
  residual connection around the last two), receptive field 15 frames; ``causal: true`` pads on the
  left only (each frame sees itself and the past), else both sides ("same").
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from preprocessing.constants import FEATURE_DIMS

Backbone = Literal["bilstm", "gru", "tcn"]
HEAD_WIDTHS = (128, 64)
TCN_KERNEL = 3
TCN_DILATIONS = (1, 2, 4)


@dataclass(frozen=True)
class Architecture:
    """Everything that shapes a scoring network (ScoreRegressor's hparams carry these fields)."""

    backbone: Backbone = "bilstm"
    input_size: int = FEATURE_DIMS
    hidden_size: int = 128
    dropout: float = 0.3
    bidirectional: bool = True
    causal: bool = False

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONES:
            raise ValueError(f"backbone {self.backbone!r} is not one of {', '.join(BACKBONES)}")
        if self.backbone == "bilstm" and not self.bidirectional:
            raise ValueError("backbone 'bilstm' is bidirectional; use backbone 'gru' for a one-direction RNN")

    @classmethod
    def from_hparams(cls, hparams: Mapping) -> "Architecture":
        """The architecture recorded in a checkpoint's hparams (missing fields: the defaults, i.e. the seed's)."""
        return cls(**{field: hparams[field] for field in cls.__dataclass_fields__ if field in hparams})


class SequenceScorer(nn.Module):
    """Backbone (subclass's ``encode``: (B, T, F) -> (B, T, C)) -> mean over time -> the shared head."""

    def __init__(self, architecture: Architecture, encoded_size: int) -> None:
        super().__init__()
        self.architecture = architecture
        self.input_size = architecture.input_size
        self.dense1 = nn.Linear(encoded_size, HEAD_WIDTHS[0])
        self.dropout = nn.Dropout(architecture.dropout)
        self.dense2 = nn.Linear(*HEAD_WIDTHS)
        self.out = nn.Linear(HEAD_WIDTHS[1], 1)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.encode(x).mean(dim=1)
        hidden = self.dropout(torch.relu(self.dense1(pooled)))
        return torch.sigmoid(self.out(torch.relu(self.dense2(hidden))))


class BiLSTMScorer(SequenceScorer):
    """BiLSTM(hidden per direction, full sequence) -> head (the seed's network)."""

    def __init__(self, input_size: int = FEATURE_DIMS, hidden_size: int = 128, dropout: float = 0.3) -> None:
        super().__init__(Architecture("bilstm", input_size, hidden_size, dropout), 2 * hidden_size)
        self.lstm = nn.LSTM(input_size, hidden_size, batch_first=True, bidirectional=True)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.lstm(x)[0]


class GRUScorer(SequenceScorer):
    """GRU(hidden per direction, full sequence, bidirectional or not) -> head."""

    def __init__(self, architecture: Architecture) -> None:
        directions = 2 if architecture.bidirectional else 1
        super().__init__(architecture, directions * architecture.hidden_size)
        self.gru = nn.GRU(
            architecture.input_size,
            architecture.hidden_size,
            batch_first=True,
            bidirectional=architecture.bidirectional,
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.gru(x)[0]


class TCNScorer(SequenceScorer):
    """Dilated 1-D convolutions over the frames (see the module docstring) -> head."""

    def __init__(self, architecture: Architecture) -> None:
        super().__init__(architecture, architecture.hidden_size)
        widths = [architecture.input_size] + [architecture.hidden_size] * len(TCN_DILATIONS)
        self.convs = nn.ModuleList(
            nn.Conv1d(widths[i], widths[i + 1], TCN_KERNEL, dilation=dilation)
            for i, dilation in enumerate(TCN_DILATIONS)
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(1, 2)  # (B, F, T): channels first for Conv1d
        for index, (conv, dilation) in enumerate(zip(self.convs, TCN_DILATIONS, strict=True)):
            total = (TCN_KERNEL - 1) * dilation  # conv's own dilation (built from TCN_DILATIONS above)
            padding = (total, 0) if self.architecture.causal else (total // 2, total - total // 2)
            y = torch.relu(conv(F.pad(x, padding)))
            x = y if index == 0 else x + y
        return x.transpose(1, 2)


def _bilstm(architecture: Architecture) -> SequenceScorer:
    return BiLSTMScorer(architecture.input_size, architecture.hidden_size, architecture.dropout)


BACKBONES = {"bilstm": _bilstm, "gru": GRUScorer, "tcn": TCNScorer}


def build_scorer(architecture: Architecture) -> SequenceScorer:
    """The (untrained) network of ``architecture``."""
    return BACKBONES[architecture.backbone](architecture)
