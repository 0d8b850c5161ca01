"""The callbacks of a training run: they keep the best model, record every epoch (history,
curves, the checkpoint --resume continues from), lower the learning rate on a plateau,
average weights, pause before a time limit and turn Ctrl-C into a stop after the epoch in
progress. training/run.py assembles them."""
import os
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from common import plots
from common.stopping import StopRequest
from model import save_trained_model


class BestModelCheckpoint(keras.callbacks.Callback):
    """Keep the model with the best `monitor` value, saved atomically, without optimizer state.

    Keras' own ModelCheckpoint writes the file in place (an interrupted write
    corrupts the previous best) and stores the optimizer state (3x the size).
    """

    def __init__(self, path, class_names, monitor="val_accuracy", best=-np.inf):
        super().__init__()
        self.path, self.class_names, self.monitor = path, class_names, monitor
        self.best, self.best_epoch = best, None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is not None and value > self.best:
            self.best, self.best_epoch = value, epoch
            save_trained_model(self.model, self.path, self.class_names)


class RunRecorder(keras.callbacks.Callback):
    """After every epoch: history CSV, curves PNG and the resumable checkpoint. Every epoch
    it sees is whole: nothing here stops one part-way, and one that a second Ctrl-C cuts
    short never reaches on_epoch_end."""

    def __init__(self, paths, history, train_images):
        super().__init__()
        self.paths, self.history, self.train_images = paths, history, train_images

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.perf_counter()
        self.train_end = None

    def on_test_begin(self, logs=None):
        if self.train_end is None:
            # Keras may queue training steps ahead of the device: wait for the last one
            keras.ops.convert_to_numpy(self.model.optimizer.iterations)
            self.train_end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        train_seconds = (self.train_end or now) - self.epoch_start
        row = {"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()},
               "learning_rate": float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)),
               "seconds": now - self.epoch_start,
               # the optimizer's steps so far: --resume matches the checkpoint to its epoch by them
               "steps": int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)),
               "images_per_s": self.train_images / train_seconds}
        self.history = pd.concat([self.history, pd.DataFrame([row])], ignore_index=True)
        # written aside, then renamed: a second Ctrl-C landing here cannot truncate it
        partial_history = self.paths["history"].with_name(self.paths["history"].name + ".partial")
        self.history.to_csv(partial_history, index=False)
        os.replace(partial_history, self.paths["history"])
        plots.plot_history(self.history, self.paths["curves"])
        partial = self.paths["resume"].with_name(self.paths["resume"].stem + ".partial.keras")
        self.model.save(partial)
        os.replace(partial, self.paths["resume"])


def plateau_cuts(accuracies, patience):
    """How often the plateau schedule has cut the learning rate after epochs that validated
    at `accuracies`: once each time `patience` epochs in a row have not beaten the best so
    far, counting afresh after a cut (as Keras' ReduceLROnPlateau counts)."""
    best, waited, cuts = -np.inf, 0, 0
    for accuracy in accuracies:
        if accuracy > best:
            best, waited = accuracy, 0
            continue
        waited += 1
        if waited == patience:
            cuts, waited = cuts + 1, 0
    return cuts


class PlateauSchedule(keras.callbacks.Callback):
    """Multiply the learning rate by `factor` each time validation accuracy has not risen for
    `patience` epochs (Khaireddin & Chen's schedule for FER-2013: 0.75 and 5). The rate is
    worked out from the run's validation accuracies alone, so a run resumed from its history
    goes on at the rate it paused at; Keras' own callback would start counting afresh."""

    def __init__(self, learning_rate, accuracies, factor=0.75, patience=5, min_lr=1e-5):
        super().__init__()
        self.learning_rate, self.factor, self.patience, self.min_lr = learning_rate, factor, patience, min_lr
        self.accuracies = list(accuracies)

    def rate(self):
        return max(self.min_lr, self.learning_rate * self.factor ** plateau_cuts(self.accuracies, self.patience))

    def on_epoch_begin(self, epoch, logs=None):
        self.model.optimizer.learning_rate = self.rate()

    def on_epoch_end(self, epoch, logs=None):
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))   # printed
        self.accuracies.append(float(logs["val_accuracy"]))


class WeightAverage(keras.callbacks.Callback):
    """Stochastic weight averaging: the running mean of the weights at the end of
    every epoch from `start` (0-based) on, saved after each so --resume continues it.
    A saved average that began at another epoch is not continued: a new --average-from
    starts a new average."""

    def __init__(self, path, start, resume=False):
        super().__init__()
        self.path, self.start = Path(path), start
        self.mean, self.count = None, 0
        if resume and self.path.is_file():
            with np.load(self.path) as saved:
                if "start" in saved.files and int(saved["start"]) != start:
                    return
                self.count = int(saved["count"])
                arrays = sum(name.startswith("w") for name in saved.files)
                self.mean = [saved[f"w{i}"] for i in range(arrays)]

    def on_epoch_end(self, epoch, logs=None):
        if epoch < self.start:
            return
        weights = self.model.get_weights()
        if self.mean is None:
            self.mean = [np.array(w, dtype=np.float32) for w in weights]
        else:
            self.mean = [m + (w - m) / (self.count + 1) for m, w in zip(self.mean, weights)]
        self.count += 1
        partial = self.path.with_name(self.path.stem + ".partial.npz")
        np.savez(partial, count=self.count, start=self.start, **{f"w{i}": m for i, m in enumerate(self.mean)})
        os.replace(partial, self.path)


class StopBeforeTimeLimit(keras.callbacks.Callback):
    """Stop after the last whole epoch that can end before `deadline` (a time.perf_counter()
    reading), judging the next epoch by the longest so far, not counting the first unless
    it is the only one (it compiles: on a GPU it takes 20 times as long as the next).
    It pauses unattended, as a first Ctrl-C does: no epoch is cut short, and --resume goes
    on with the next epoch, on the same schedule and data order."""

    def __init__(self, deadline):
        super().__init__()
        self.deadline, self.seconds, self.reached = deadline, [], False

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        self.seconds.append(now - self.epoch_start)
        if now + max(self.seconds[1:] or self.seconds) > self.deadline:
            self.reached = True
            self.model.stop_training = True


class StopOnCtrlC(keras.callbacks.Callback):
    """First Ctrl-C (or SIGTERM): stop at the end of the epoch in progress, once it is
    validated and saved, so that --resume goes on exactly where the run stopped (an epoch
    cut short would count as whole and shorten the schedule). A second Ctrl-C stops at
    once; that epoch is then not recorded and --resume trains it again (see common/stopping.py
    for why a flag)."""

    def __init__(self):
        super().__init__()
        self.stop = StopRequest(self.stopping_message)
        self.epoch, self.epoch_start, self.last_seconds = 0, time.perf_counter(), None

    def on_train_begin(self, logs=None):
        self.stop.install()

    def restore(self):
        """Give Ctrl-C back its usual meaning (called once fit() is over)."""
        self.stop.restore()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.epoch_start = epoch, time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.last_seconds = time.perf_counter() - self.epoch_start
        if self.stop.requested:
            self.model.stop_training = True

    def stopping_message(self):
        left = ""
        if self.last_seconds:
            minutes = max(self.last_seconds - (time.perf_counter() - self.epoch_start), 0) / 60
            left = f", in about {minutes:.0f} min" if minutes >= 1 else ", in under a minute"
        return (f"\nStopping at the end of epoch {self.epoch + 1}{left}, so that --resume goes on "
                f"from there (Ctrl-C again to stop now: --resume then trains epoch {self.epoch + 1} again) ...")
