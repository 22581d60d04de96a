"""Training throughput (sequences/s): ScoreRegressor through a Lightning Trainer vs a bare PyTorch loop.

Both train the same network from the same initial weights on the same batches (same order) for the
same epochs, on CPU, with Adam; the Lightning run also does what the module does in a real fit
(loss logging, torchmetrics MAE / Spearman per step) but no validation, checkpointing or progress
bar. Runs alternate and the best of ``--repeats`` is kept (the machine may be shared).

    python benchmarks/train.py                       # demo squat data in data/ (generated if absent)
    python benchmarks/train.py --epochs 20 --repeats 3 --batch_size 32 --threads 1
"""

import argparse
import copy
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from datamodules.exercise import ExerciseDataModule
from demo.dataset import generate_demo_data
from lightning_module.regressor import ScoreRegressor
from lightning_module.trainer import quiet_trainer
from preprocessing.registry import EXERCISES


def train_sequences(data_dir: Path, exercise: str) -> ExerciseDataModule:
    """The exercise's train split (demo data is generated into a temp dir when ``data_dir`` lacks it)."""
    if not (data_dir / EXERCISES[exercise].scores_csv).is_file():
        data_dir = Path(tempfile.mkdtemp(prefix="formscore_bench_")) / "data"
        generate_demo_data(data_dir, exercises=(exercise,))
    module = ExerciseDataModule(exercise=exercise, data_dir=str(data_dir))
    module.setup("fit")
    return module


def loader(module: ExerciseDataModule, batch_size: int, seed: int) -> DataLoader:
    """Shuffled train batches whose order depends only on ``seed``."""
    return DataLoader(
        module.datasets["train"], batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed)
    )


def bare_loop(initial: ScoreRegressor, batches: DataLoader, epochs: int) -> float:
    """Seconds for ``epochs`` of plain forward / MSE / backward / Adam step."""
    model = copy.deepcopy(initial.model).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=initial.hparams["lr"])
    start = time.perf_counter()
    for _ in range(epochs):
        for batch in batches:
            loss = F.mse_loss(model(batch["x"]).squeeze(-1), batch["y"])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return time.perf_counter() - start


def lightning_fit(initial: ScoreRegressor, batches: DataLoader, epochs: int) -> float:
    """Seconds for ``Trainer.fit`` of the LightningModule for ``epochs`` (set-up included)."""
    trainer = quiet_trainer(max_epochs=epochs, limit_val_batches=0, num_sanity_val_steps=0)
    module = copy.deepcopy(initial)
    start = time.perf_counter()
    trainer.fit(module, train_dataloaders=batches)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", type=Path, default=Path("data"))
    parser.add_argument("--exercise", default="squat", choices=list(EXERCISES))
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    module = train_sequences(args.data_dir, args.exercise)
    count = len(module.datasets["train"])
    torch.manual_seed(0)
    initial = ScoreRegressor()
    timings: dict[str, list[float]] = {"bare PyTorch loop": [], "Lightning Trainer": []}
    lightning_fit(initial, loader(module, args.batch_size, 0), 1)  # warm-up (first-call costs of both paths)
    for repeat in range(args.repeats):  # a fresh loader per run: the same seed gives both the same batches
        timings["bare PyTorch loop"].append(bare_loop(initial, loader(module, args.batch_size, repeat), args.epochs))
        timings["Lightning Trainer"].append(
            lightning_fit(initial, loader(module, args.batch_size, repeat), args.epochs)
        )

    sequences = count * args.epochs
    print(
        f"{args.exercise}: {count} train sequences, batch {args.batch_size}, {args.epochs} epochs, "
        f"best of {args.repeats}, torch threads {torch.get_num_threads()}"
    )
    rates = {name: sequences / min(seconds) for name, seconds in timings.items()}
    for name, rate in rates.items():
        print(f"  {name:18s} {rate:8.0f} sequences/s  ({min(timings[name]):.2f} s)")
    ratio = rates["Lightning Trainer"] / rates["bare PyTorch loop"]
    print(f"  Lightning / bare = {ratio:.2f} (overhead {100 * (1 - ratio):.0f}%)")


if __name__ == "__main__":
    main()
