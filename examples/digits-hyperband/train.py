"""A multilayer perceptron on the digits data, trained one epoch at a time.

Prints the validation accuracy after every epoch, so the tuner sees a learning curve: Hyperband
and early stopping ``Auto`` judge a training job by it and may stop the job mid-run. A stop
arrives as SIGTERM; the script then saves a checkpoint to ``SM_CHECKPOINT_DIR`` and exits within
the grace period. A checkpoint left there by an earlier run is resumed from.
"""

from __future__ import annotations

import argparse
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler


def split(features: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, ...]:
    """A fixed train/validation split (every training job is judged on the same images)."""
    x_train, x_valid, y_train, y_valid = train_test_split(
        features, labels, test_size=0.25, random_state=0, stratify=labels
    )
    scaler = StandardScaler().fit(x_train)
    return scaler.transform(x_train), scaler.transform(x_valid), y_train, y_valid


def make_model(hidden: int, alpha: float, learning_rate: float, batch_size: int) -> MLPClassifier:
    return MLPClassifier(
        hidden_layer_sizes=(hidden,),
        alpha=alpha,
        learning_rate_init=learning_rate,
        batch_size=batch_size,
        random_state=0,
    )


def epochs(
    model: MLPClassifier, data: tuple[np.ndarray, ...], count: int, start: int = 0
) -> Iterator[float]:
    """Train ``count - start`` more epochs, yielding the validation accuracy after each."""
    x_train, x_valid, y_train, y_valid = data
    classes = np.unique(y_train)
    for _ in range(start, count):
        model.partial_fit(x_train, y_train, classes=classes)
        yield float(model.score(x_valid, y_valid))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=27)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--alpha", type=float, default=1e-4)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--checkpoint-dir", default=os.environ.get("SM_CHECKPOINT_DIR"))
    args, _ = parser.parse_known_args()

    stopping = False

    def on_sigterm(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_sigterm)

    frame = pd.read_csv(Path(args.train) / "digits.csv")
    data = split(frame.iloc[:, :-1].to_numpy(float), frame.iloc[:, -1].to_numpy())
    checkpoint = Path(args.checkpoint_dir) / "model.joblib" if args.checkpoint_dir else None
    done = 0
    if checkpoint is not None and checkpoint.exists():
        model, done = joblib.load(checkpoint)
    else:
        model = make_model(args.hidden, args.alpha, args.learning_rate, args.batch_size)

    for epoch, accuracy in enumerate(epochs(model, data, args.epochs, done), start=done + 1):
        print(f"epoch: {epoch} valid-accuracy: {accuracy:.4f}", flush=True)
        done = epoch
        if stopping:
            break
    if checkpoint is not None:
        joblib.dump((model, done), checkpoint)
    if args.model_dir and not stopping:
        joblib.dump(model, Path(args.model_dir) / "model.joblib")


if __name__ == "__main__":
    main()
