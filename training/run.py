"""A training run: the data loaded, the network built or resumed, fitted with the run's
callbacks, finished (BatchNorm statistics recomputed) and exported for the app. `train.py`
parses the options and calls `train(args)`; Keras must be imported quietly before this
module (common.native_logs.import_keras_quietly), as train.py does.
"""
import math
import sys
import time

import keras
import numpy as np
import pandas as pd

import data
from artefacts import artefact_paths
from common import plots
from common.arguments import check_writable
from common.stopping import terminate_as_ctrl_c
from inference.litert_export import export_twins
from inference.runtimes import predict_proba
from model import build_model, choose_precision, load_trained_model, recalibrate_batchnorm, save_trained_model
from training.batches import TrainingBatches
from training.callbacks import (BestModelCheckpoint, PlateauSchedule, RunRecorder, StopBeforeTimeLimit,
                                StopOnCtrlC, WeightAverage)
from training.distillation import choose_soft_labels
from training.optimizers import compile_for_training
from training.recorded_options import save_run_options


def validation_accuracy(model, validation):
    """The share of validation faces `model` classifies right in one pass, on the faces as
    they are (no light fix: evaluate.py and the app stretch each face's contrast first)."""
    return float((predict_proba(model, validation.x).argmax(axis=1) == validation.y).mean())


def finish_model(path, class_names, train_x, validation, average=None):
    """Recompute BatchNorm statistics of the best epoch, and of the weight average
    if there is one, and keep whichever version scores best on validation.

    The moving statistics gathered in training are an average over the last few
    augmented batches (momentum 0.9); recomputed over all training images they are
    exact, which measurably helps (docs/journal/, 27 November: "Runs"). Returns {version: accuracy}
    and the version kept.
    """
    model, _ = load_trained_model(path)

    def accuracy():
        return validation_accuracy(model, validation)

    scores, weights = {"best epoch": accuracy()}, {}
    print("Recomputing BatchNorm statistics over the training images ...", flush=True)
    recalibrate_batchnorm(model, train_x)
    scores["best epoch, BatchNorm recomputed"] = accuracy()
    weights["best epoch, BatchNorm recomputed"] = model.get_weights()
    if average is not None and average.count >= 2:
        name = f"average of {average.count} epochs, BatchNorm recomputed"
        model.set_weights(average.mean)
        recalibrate_batchnorm(model, train_x)
        scores[name] = accuracy()
        weights[name] = model.get_weights()
    kept = max(scores, key=scores.get)
    if kept != "best epoch":
        model.set_weights(weights[kept])
        save_trained_model(model, path, class_names)
    return scores, kept


def print_distribution(table):
    print("Class distribution:")
    print(table.to_string())
    print(f"total: {int(table['train'].sum())} train, {int(table['validation'].sum())} validation")


def prepare_model(args, paths, class_names):
    """A fresh model (with --init, holding that model's weights), or the run to resume with
    its history; returns (model, history).

    --resume continues from the last epoch's checkpoint. Where that is absent (a
    fresh clone: it is not committed), it continues from the saved best model's
    weights with a fresh optimizer at the last learning rate of the history.
    """
    history = pd.DataFrame()
    if args.resume:
        if paths["history"].is_file():
            history = pd.read_csv(paths["history"])
        if paths["resume"].is_file():
            model = keras.models.load_model(paths["resume"])
            history = history_up_to_checkpoint(history, model)
            print(f"Resuming from {paths['resume']} after epoch {len(history)}")
            return model, history
        if not (paths["model"].is_file() and len(history)):
            raise FileNotFoundError(f"nothing to resume: {paths['resume']} not found")
        print(f"Resuming from the weights of {paths['model']} with a fresh optimizer "
              f"after epoch {len(history)}")
    keras.config.set_dtype_policy(choose_precision(args.mixed_precision))
    learning_rate = history["learning_rate"].iloc[-1] if len(history) else args.learning_rate
    model = build_model(num_classes=len(class_names), dropout=args.dropout, width=args.width)
    compile_for_training(model, args.optimizer, float(learning_rate), args.weight_decay, args.label_smoothing)
    start_from = paths["model"] if len(history) else args.init
    if start_from:
        trained, saved_names = load_trained_model(start_from)
        if saved_names != list(class_names):
            raise ValueError(f"{start_from} was trained on {saved_names}, not {list(class_names)}")
        if trained.count_params() != model.count_params():
            raise ValueError(f"{start_from} has {trained.count_params():,} parameters, a network of "
                             f"--width {args.width:g} {model.count_params():,}: give its --width")
        model.set_weights(trained.get_weights())
        if not len(history):
            print(f"Starting from the weights of {start_from}")
    return model, history


def history_up_to_checkpoint(history, model):
    """The history's rows up to the epoch the checkpoint ends: a run stopped after an
    epoch's row was written but before its checkpoint replaced the last one would
    otherwise skip that epoch on --resume. Rows say so by the optimizer's steps
    (histories recorded before that column are taken as they are)."""
    if "steps" not in history or not len(history):
        return history
    steps = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    kept = history[~(history["steps"] > steps)]   # NaN: a row recorded before the column
    if len(kept) < len(history):
        print(f"The checkpoint ends at epoch {len(kept)}, the history at {len(history)} "
              f"(stopped while saving): epoch {len(kept) + 1} is trained again")
    return kept.reset_index(drop=True)


def learning_rate_schedule(args, accuracies=(), min_lr=1e-5):
    """The callback that lowers the learning rate as training goes; with --average-lr,
    held at that rate from --average-from on (cosine and constant only: the plateau
    schedule follows validation accuracy to the end). `accuracies`: the validation accuracies of
    the epochs trained so far, which the plateau schedule goes on from."""
    if args.lr_schedule == "plateau":
        return PlateauSchedule(args.learning_rate, accuracies, min_lr=min_lr)

    def rate(epoch, _):
        if args.average_lr and epoch >= args.average_from - 1:
            return args.average_lr
        if args.lr_schedule == "constant":
            return args.learning_rate
        return min_lr + (args.learning_rate - min_lr) * 0.5 * (1 + math.cos(math.pi * epoch / args.epochs))
    return keras.callbacks.LearningRateScheduler(rate)


def train(args):
    """Run training; returns a summary dict. Artefacts are written as it goes."""
    deadline = time.perf_counter() + 60 * args.time_limit
    keras.utils.set_random_seed(args.seed)
    paths = artefact_paths(args.output)
    paths["model"].parent.mkdir(parents=True, exist_ok=True)
    check_writable(paths["model"], "model")

    print(f"Loading {args.data} ...", flush=True)
    dataset = data.load_dataset(args.data)
    data.report_skipped(dataset.train.skipped + dataset.validation.skipped)
    table = data.class_distribution(dataset)
    print_distribution(table)
    plots.plot_class_distribution(table, paths["classes"])
    class_names = dataset.class_names

    model, history = prepare_model(args, paths, class_names)
    initial_epoch = len(history)
    if initial_epoch >= args.epochs:
        raise ValueError(f"already trained {initial_epoch} epochs; pass a larger --epochs to continue")
    save_run_options(paths["options"], args)
    # the layers carry the policy (a resumed Sequential reports float32 for itself)
    print(f"Precision: {model.layers[0].dtype_policy.name}, parameters: {model.count_params():,}")

    weights = None
    if args.class_weight == "balanced":
        weights = data.balanced_class_weights(dataset.train.y, len(class_names))
    soft_labels, source = choose_soft_labels(args.soft_labels, dataset.train)
    print(f"Soft labels: {source}" + (f" (share {args.soft_weight} of each target)" if soft_labels is not None else ""))
    train_batches = TrainingBatches(dataset.train, args.batch_size, augment=args.augment,
                                    min_crop=args.crop, erase=args.erase, mixup=args.mixup,
                                    frame_jitter=args.frame_jitter, degrade=args.degrade,
                                    seed=args.seed, class_weights=weights, workers=args.workers,
                                    light_from=args.epochs - args.light_last if args.light_last else None,
                                    soft_labels=soft_labels, soft_weight=args.soft_weight)
    train_batches.set_epoch(initial_epoch)
    val_batches = TrainingBatches(dataset.validation, args.batch_size, seed=args.seed + 1)

    average = None
    if args.average_from > 0:
        average = WeightAverage(paths["average"], args.average_from - 1, resume=args.resume)
    best_so_far = history["val_accuracy"].max() if len(history) else -np.inf
    if len(history) and paths["model"].is_file():
        # the saved model may score above every epoch of the history (finish_model
        # recomputed its statistics): a resumed run must not replace it with a worse one
        best_so_far = max(best_so_far, validation_accuracy(load_trained_model(paths["model"])[0],
                                                           dataset.validation))
    checkpoint = BestModelCheckpoint(paths["model"], class_names, best=best_so_far)
    recorder = RunRecorder(paths, history, len(dataset.train.y))
    stopper = StopOnCtrlC()
    callbacks = [
        stopper,
        checkpoint,
        recorder,
        learning_rate_schedule(args, history["val_accuracy"].tolist() if len(history) else ()),
    ]
    if args.patience:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=args.patience,
                                                       restore_best_weights=True, verbose=1))
    if average is not None:
        callbacks.append(average)
    time_limit = None
    if args.time_limit:
        time_limit = StopBeforeTimeLimit(deadline)   # last: its epochs include the recorder's saving
        callbacks.append(time_limit)
    started = time.perf_counter()
    try:
        model.fit(train_batches, validation_data=val_batches, epochs=args.epochs,
                  initial_epoch=initial_epoch, callbacks=callbacks,
                  verbose=1 if sys.stdout.isatty() else 2)
    except KeyboardInterrupt:   # a second Ctrl-C, or one before training began
        stopper.stop.requested = True
    finally:
        stopper.restore()
    interrupted = stopper.stop.requested
    if interrupted:
        print("\nInterrupted: keeping the best model and the history so far.")
    history = recorder.history
    paused = time_limit is not None and time_limit.reached and not interrupted and len(history) < args.epochs
    if paused:
        print(f"\nTime limit: pausing after epoch {len(history)} of {args.epochs}; "
              f"the same command with --resume continues.")
    summary = {"interrupted": interrupted, "paused": paused, "wall_s": time.perf_counter() - started,
               "epochs_run": len(history) - initial_epoch, "paths": paths}
    if len(history):
        best = history["val_accuracy"].idxmax()
        summary.update(best_val_accuracy=float(history.loc[best, "val_accuracy"]),
                       best_epoch=int(history.loc[best, "epoch"]) + 1)
    # The finish step is for a run's end, which a paused run has not reached; a run stopped
    # earlier with no new best epoch and nothing averaged has nothing new to finish.
    reached_end = summary["epochs_run"] > 0 and len(history) >= args.epochs
    if paths["model"].is_file() and not paused and (
            reached_end or checkpoint.best_epoch is not None or average is not None):
        try:
            # Ctrl-C or SIGTERM skips it: what a run stopped to be resumed later wants
            with terminate_as_ctrl_c():
                summary["final_scores"], summary["kept"] = finish_model(
                    paths["model"], class_names, dataset.train.x, dataset.validation, average)
        except KeyboardInterrupt:
            print("\nSkipped recomputing BatchNorm statistics; the best epoch stays as saved.", flush=True)
    if paths["model"].is_file() and not args.no_litert:
        print("Exporting the LiteRT twins for the app ...", flush=True)
        write_litert_twins(paths["model"])
    if summary["epochs_run"] > 0:
        summary["images_per_s"] = float(history["images_per_s"].iloc[initial_epoch:].mean())
    return summary


def write_litert_twins(model_path):
    """Export the saved model for the app's LiteRT runtimes; [] (with a warning) where this
    Keras backend or installation cannot (the app then runs the .h5 through Keras)."""
    try:
        model, _ = load_trained_model(model_path)
        return export_twins(model, model_path)
    except Exception as error:   # the exporter needs TensorFlow; training does not
        print(f"warning: no LiteRT export ({str(error).splitlines()[0] if str(error) else type(error).__name__}); "
              f"run `python export.py --model {model_path}` where TensorFlow is installed", file=sys.stderr)
        return []
