"""Train the emotion CNN on a class-per-folder dataset.

    python train.py --data ../shared/data/fer2013
    python train.py --data ../shared/data/fer2013 --resume      # continue an interrupted run
    python train.py --data ../shared/data/fer2013 --resume --time-limit 480   # 8 hours more, then pause

With its defaults this is the recipe that made the shipped model (docs/TRAINING.md):
Adam 1e-3 with a cosine decay over 150 epochs, batch 64, the last 20 epochs on light
augmentation, and on FER-2013 half of each target the soft label of the seven models in
models/teachers7.npz (distillation). That is minutes on a GPU and many hours on a CPU:
--time-limit (or Ctrl-C) and --resume.

Writes, beside --output (default models/modelTrained.h5):
  NAME.h5              best model by validation accuracy (no optimizer state)
  NAME.labels.json     its class names, in output order
  NAME.tflite          the same model for the app's fast LiteRT runtime (with the .h5's fingerprint)
  NAME.int8.tflite     the same with int8 weights: faster still, what the app runs by default
  NAME.history.csv     metrics per epoch
  NAME.curves.png      accuracy and loss, training vs validation
  NAME.classes.png     images per class and split
  NAME.resume.keras    last epoch with optimizer state, for --resume
  NAME.average.npz     with --average-from: the running weight average, for --resume
  NAME.options.json    the options of the run, which --resume continues with
Ctrl-C stops cleanly: the best model and the history so far stay on disk. Ctrl-C
(or SIGTERM) again while it recomputes BatchNorm statistics at the end skips that.
"""
import math
import sys
import time
from pathlib import Path

from quiet import import_keras_quietly

import_keras_quietly()  # before Keras is imported below

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import data  # noqa: E402
import plots  # noqa: E402
from cli import Parser, check_writable, non_negative, number, positive  # noqa: E402
from batches import TrainingBatches  # noqa: E402
from callbacks import (BestModelCheckpoint, PlateauSchedule, RunRecorder, StopBeforeTimeLimit,  # noqa: E402
                       StopOnCtrlC, WeightAverage)
from distillation import choose_soft_labels  # noqa: E402
from interrupt import run_main, terminate_as_ctrl_c  # noqa: E402
from model import (OPTIMIZERS, build_model, choose_precision, load_trained_model,  # noqa: E402
                   recalibrate_batchnorm, save_trained_model)
from run_options import changed_options, recorded_argv, save_run_options  # noqa: E402
from runtime import export_twins, labels_path, litert_path, predict_proba  # noqa: E402

DEFAULT_OUTPUT = Path(__file__).parent / "models" / "modelTrained.h5"


def artefact_paths(output):
    output = Path(output)
    stem = output.with_suffix("")
    return {
        "model": output,
        "labels": labels_path(output),
        "history": Path(f"{stem}.history.csv"),
        "curves": Path(f"{stem}.curves.png"),
        "classes": Path(f"{stem}.classes.png"),
        "resume": Path(f"{stem}.resume.keras"),
        "average": Path(f"{stem}.average.npz"),
        "options": Path(f"{stem}.options.json"),
        "litert": litert_path(output, "litert"),
        "litert-int8": litert_path(output, "litert-int8"),
    }


def validation_accuracy(model, validation):
    """The share of validation faces `model` classifies right, scored as evaluate.py does."""
    return float((predict_proba(model, validation.x).argmax(axis=1) == validation.y).mean())


def finish_model(path, class_names, train_x, validation, average=None):
    """Recompute BatchNorm statistics of the best epoch, and of the weight average
    if there is one, and keep whichever version scores best on validation.

    The moving statistics gathered in training are an average over the last few
    augmented batches (momentum 0.9); recomputed over all training images they are
    exact, which measurably helps (see docs/TRAINING.md, Runs). Returns {version: accuracy}
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


def parse_args(argv=None):
    """The options of this sitting; with --resume, those the run recorded, overridden by any
    given here."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.resume:
        options_path = artefact_paths(args.output)["options"]
        try:
            recorded = recorded_argv(options_path)
        except ValueError as error:
            parser.error(str(error))
        if recorded:
            args = parser.parse_args(recorded + argv)   # the later of a repeated option wins
            before = parser.parse_args(recorded)
            if args.width != before.width:
                parser.error(f"--width cannot change when resuming: this run's network is "
                             f"{before.width:g} wide")
            changes = changed_options(before, args)
            print(f"Continuing with the run's options in {options_path}"
                  f"{'; changed here: ' + ', '.join(changes) if changes else ''}")
    if args.average_lr and not args.average_from:
        parser.error("--average-lr needs --average-from")
    if args.average_lr and args.lr_schedule == "plateau":
        parser.error("--average-lr holds a rate the plateau schedule would change: use cosine or constant")
    return args


def build_parser():
    parser = Parser(description="Train the facial emotion CNN.")
    parser.add_argument("--data", type=Path, default=Path("../shared/data/fer2013"),
                        help="dataset root holding train/ and validation/ class folders")
    parser.add_argument("--epochs", type=positive(int), default=150, help="total epochs to train")
    parser.add_argument("--batch-size", type=positive(int), default=64, help="images per training step")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default="adam",
                        help="sgd: SGD with Nesterov momentum 0.9; adam: Adam")
    parser.add_argument("--learning-rate", type=positive(float), default=1e-3, help="initial learning rate")
    parser.add_argument("--weight-decay", type=non_negative(float), default=0.0,
                        help="decoupled weight decay: each step shrinks the weights by learning rate "
                             "times this (with SGD's momentum 0.9, 1e-3 acts like an L2 penalty of 1e-4)")
    parser.add_argument("--dropout", type=number(float, 0, 1, high_open=True), default=0.25,
                        help="dropout rate of every block")
    parser.add_argument("--width", type=number(float, 0.25, 4), default=1.0, metavar="FACTOR",
                        help="multiply every layer's filters and units (2: about 17.9M parameters): "
                             "a wider network trains slower but makes a stronger teacher for "
                             "--soft-labels; the app's default model is width 1")
    parser.add_argument("--label-smoothing", type=number(float, 0, 1, high_open=True), default=0.1,
                        help="label smoothing of the cross-entropy (FER-2013 labels are noisy)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where the best model goes")
    parser.add_argument("--seed", type=non_negative(int), default=1337, help="random seed")
    parser.add_argument("--class-weight", choices=["none", "balanced"], default="none",
                        help="weight the loss against class imbalance")
    parser.add_argument("--augment", choices=list(data.AUGMENTATIONS), default="on",
                        help="random flip, rotation, shift and zoom of training images: on (up to "
                             "10 degrees, 10%%), light (6 degrees, 5%%: for the last epochs) or off (none at all)")
    parser.add_argument("--crop", type=number(int, 24, data.IMAGE_SIZE), default=data.IMAGE_SIZE, metavar="PIXELS",
                        help="crop jitter: a random square of PIXELS to 48 pixels of each face, scaled "
                             "back to 48, instead of --augment's shift and zoom (its rotation stays); 48: off")
    parser.add_argument("--erase", type=number(float, 0, 1), default=0.0, metavar="CHANCE",
                        help="random erasing: the chance that a training face gets a rectangle of noise")
    parser.add_argument("--mixup", type=non_negative(float), default=0.0, metavar="ALPHA",
                        help="mixup: blend training images and their labels in pairs, shares drawn "
                             "from Beta(ALPHA, ALPHA); 0: off")
    parser.add_argument("--light-last", type=non_negative(int), default=20, metavar="EPOCHS",
                        help="train the last EPOCHS epochs of --epochs with light augmentation and no "
                             "crops, erasing or mixup, closer to the plain faces it is scored on (a run of "
                             "EPOCHS or fewer: all of it); 0: off")
    parser.add_argument("--soft-labels", default="auto", metavar="FILE",
                        help="knowledge distillation: also learn from teachers' probabilities for each "
                             "training face, a file written by bench/soft_labels.py; auto: "
                             "models/teachers7.npz (the seven models the shipped one learnt from) where it "
                             "holds every training face, as for FER-2013, else none; none: folder labels only")
    parser.add_argument("--soft-weight", type=number(float, 0, 1), default=0.5, metavar="SHARE",
                        help="with soft labels: the share of each target that is the soft label "
                             "(the rest is the folder's one-hot label)")
    parser.add_argument("--mixed-precision", choices=["auto", "on", "off"], default="auto",
                        help="auto: bfloat16 on a CPU with native support, float16 on a GPU, else float32")
    parser.add_argument("--lr-schedule", choices=["cosine", "plateau", "constant"], default="cosine",
                        help="cosine: decay from --learning-rate to 1e-5 over --epochs; "
                             "plateau: multiply the learning rate by 0.75 each time val_accuracy has not risen for 5 epochs "
                             "(Khaireddin & Chen's schedule for FER-2013); "
                             "constant: hold --learning-rate (for continuing a trained model)")
    parser.add_argument("--patience", type=non_negative(int), default=0,
                        help="epochs without a better val_accuracy before stopping early; 0: never "
                             "(the learning-rate schedule runs its course)")
    parser.add_argument("--average-from", type=non_negative(int), default=0, metavar="EPOCH",
                        help="stochastic weight averaging: average the weights of every epoch from "
                             "this one (1-based, counting resumed epochs) to the end, and keep the "
                             "average if it validates better than the best single epoch; 0: off")
    parser.add_argument("--average-lr", type=non_negative(float), default=0.0, metavar="RATE",
                        help="with --average-from: hold the learning rate at RATE while averaging, "
                             "so the averaged epochs differ (SWA's constant rate); 0: the schedule "
                             "runs on")
    parser.add_argument("--workers", type=positive(int), default=1,
                        help="threads preparing training batches while the model trains")
    parser.add_argument("--no-litert", action="store_true",
                        help="do not write the LiteRT twins (NAME.tflite, NAME.int8.tflite) at the end; "
                             "`python export.py` writes them later")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run beside --output from its last epoch's checkpoint, with the "
                             "options it was started with (NAME.options.json); options given here override them")
    parser.add_argument("--time-limit", type=non_negative(float), default=0.0, metavar="MINUTES",
                        help="pause after the last whole epoch that ends within MINUTES of the start "
                             "(judged by the longest epoch after the first), without the finish step; the same "
                             "command with --resume continues with the next epoch; 0: no limit")
    return parser


def print_distribution(table):
    print("Class distribution:")
    print(table.to_string())
    print(f"total: {int(table['train'].sum())} train, {int(table['validation'].sum())} validation")


def prepare_model(args, paths, class_names):
    """A fresh model, or the run to resume with its history; returns (model, history).

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
    model = build_model(num_classes=len(class_names), dropout=args.dropout,
                        learning_rate=float(learning_rate), label_smoothing=args.label_smoothing,
                        optimizer=args.optimizer, weight_decay=args.weight_decay, width=args.width)
    if len(history):
        best, saved_names = load_trained_model(paths["model"])
        if saved_names != list(class_names):
            raise ValueError(f"{paths['model']} was trained on {saved_names}, not {list(class_names)}")
        model.set_weights(best.get_weights())
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


def print_summary(summary):
    print("\nSummary")
    if "best_val_accuracy" in summary:
        print(f"  best validation accuracy: {summary['best_val_accuracy']:.4f} "
              f"(epoch {summary['best_epoch']})")
    for version, accuracy in summary.get("final_scores", {}).items():
        kept = "  <- saved as the model" if version == summary["kept"] else ""
        print(f"    {version + ':':46}{accuracy:.4f}{kept}")
    if "images_per_s" in summary:
        print(f"  training speed:           {summary['images_per_s']:.0f} images/s")
    print(f"  epochs this run:          {summary['epochs_run']}"
          f"{' (interrupted)' if summary['interrupted'] else ''}"
          f"{' (paused at --time-limit: --resume continues)' if summary['paused'] else ''}")
    print(f"  wall time:                {summary['wall_s'] / 60:.1f} min")
    for name, path in summary["paths"].items():
        if path.exists():
            print(f"  {name + ':':26}{path}")


def main(argv=None):
    args = parse_args(argv)
    try:
        summary = train(args)
    except (data.DatasetError, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print_summary(summary)
    return 0


if __name__ == "__main__":
    run_main(main)
