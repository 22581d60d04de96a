"""A callback that presses Ctrl-C for the test (``tests/test_hostile.py``): KeyboardInterrupt as training starts."""

from pytorch_lightning import Callback, LightningModule, Trainer


class InterruptAtTrainStart(Callback):
    """Raise KeyboardInterrupt in ``on_train_start``, as a Ctrl-C there would."""

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        raise KeyboardInterrupt
