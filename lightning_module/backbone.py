"""The scoring network as a plain ``nn.Module`` (export walks it layer by layer)."""

import torch
from torch import nn

from preprocessing.constants import FEATURE_DIMS


class BiLSTMScorer(nn.Module):
    """BiLSTM(hidden per direction, full sequence) -> mean over time -> 128 -> 64 -> 1 (sigmoid).

    Input ``(batch, NUM_FRAMES, FEATURE_DIMS)`` float32; output ``(batch, 1)`` in 0..1.
    """

    def __init__(self, input_size: int = FEATURE_DIMS, hidden_size: int = 128, dropout: float = 0.3) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, batch_first=True, bidirectional=True)
        self.dense1 = nn.Linear(2 * hidden_size, 128)
        self.dropout = nn.Dropout(dropout)
        self.dense2 = nn.Linear(128, 64)
        self.out = nn.Linear(64, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sequence, _ = self.lstm(x)
        pooled = sequence.mean(dim=1)
        hidden = self.dropout(torch.relu(self.dense1(pooled)))
        return torch.sigmoid(self.out(torch.relu(self.dense2(hidden))))
