"""Train the emotion CNN on a class-per-folder dataset.

    python train.py --data ../shared/data/fer2013
    python train.py --data ../shared/data/fer2013 --resume      # continue an interrupted run
    python train.py --data ../shared/data/fer2013 --resume --time-limit 480   # 8 hours more, then pause
    python train.py --init models/modelTrained.h5 --learning-rate 2e-4 --epochs 8 --output models/tuned.h5 \
        --frame-jitter 1 --degrade 0.5                           # fine-tune for the app's faces

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
import sys
from pathlib import Path

import data
from artefacts import DEFAULT_MODEL, artefact_paths
from common.arguments import Parser, non_negative, number, positive
from common.entry_point import run_main
from common.native_logs import import_keras_quietly
from training.optimizers import OPTIMIZERS
from training.recorded_options import changed_options, recorded_argv


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
    if args.init is not None and not args.init.is_file():
        parser.error(f"--init: no such model: {args.init}")
    if args.average_lr and not args.average_from:
        parser.error("--average-lr needs --average-from")
    if args.average_lr and args.lr_schedule == "plateau":
        parser.error("--average-lr holds a rate the plateau schedule would change: use cosine or constant")
    return args


def build_parser():
    parser = Parser(description="Train the facial emotion CNN.")
    parser.add_argument("--data", type=Path, default=data.DEFAULT_DATA,
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
    parser.add_argument("--output", type=Path, default=DEFAULT_MODEL, help="where the best model goes")
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
    parser.add_argument("--frame-jitter", type=number(float, 0, 4), default=0.0, metavar="SPREAD",
                        help="frame each training face as the app's detectors do, instead of --augment's "
                             "shift and zoom: a square drawn from SPREAD times the spread of YuNet's and "
                             "Haar's squares around the true face (data.DETECTOR_SPREAD); 0: off")
    parser.add_argument("--degrade", type=number(float, 0, 1), default=0.0, metavar="CHANCE",
                        help="camera degradations: the chance that a training face is downscaled and "
                             "back, blurred, dimmed or washed out, noisy and JPEG-compressed (each step "
                             "with a chance of one half); 0: off")
    parser.add_argument("--init", type=Path, default=None, metavar="MODEL",
                        help="fine-tune: start from the weights of a trained MODEL (.h5, same classes "
                             "and --width) with a fresh optimizer and schedule, e.g. models/modelTrained.h5 "
                             "with a lower --learning-rate")
    parser.add_argument("--mixup", type=non_negative(float), default=0.0, metavar="ALPHA",
                        help="mixup: blend training images and their labels in pairs, shares drawn "
                             "from Beta(ALPHA, ALPHA); 0: off")
    parser.add_argument("--light-last", type=non_negative(int), default=20, metavar="EPOCHS",
                        help="train the last EPOCHS epochs of --epochs with light augmentation and no "
                             "crops, erasing or mixup, closer to the plain faces it is scored on (a run of "
                             "EPOCHS or fewer: all of it); 0: off")
    parser.add_argument("--soft-labels", default="auto", metavar="FILE",
                        help="knowledge distillation: also learn from teachers' probabilities for each "
                             "training face, a file written by `python -m training.soft_labels`; auto: "
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
    import_keras_quietly()   # before the training package imports Keras
    from training.run import train
    try:
        summary = train(args)
    except (data.DatasetError, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print_summary(summary)
    return 0


if __name__ == "__main__":
    run_main(main)
