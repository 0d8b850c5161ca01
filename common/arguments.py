"""Command-line plumbing shared by the entry scripts: a parser whose errors are one line,
argument types that reject out-of-range numbers before any work starts, and the options
that choose and feed the classifier, defined once for main.py, evaluate.py and batch.py."""
import argparse
import copy
import os
import sys
from pathlib import Path

from artefacts import DEFAULT_MODEL, RUNTIMES
from data import LIGHT_FIXES


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows a default path beside the scripts (models/modelTrained.h5) relative to where the
    user runs from, not as the absolute path of the machine that computed it."""

    def _expand_help(self, action):
        if isinstance(action.default, Path) and action.default.is_absolute():
            action = copy.copy(action)
            try:
                action.default = Path(os.path.relpath(action.default))
            except ValueError:   # Windows: another drive
                pass
        return super()._expand_help(action)


class Parser(argparse.ArgumentParser):
    """argparse with defaults shown in --help and a one-line error (exit 2) instead of usage + error."""

    def __init__(self, **kwargs):
        kwargs.setdefault("formatter_class", DefaultsFormatter)
        super().__init__(**kwargs)

    def error(self, message):
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def number(kind, low=None, high=None, low_open=False, high_open=False):
    """An argparse type: `kind` (int or float) within [low, high]; '(' or ')' ends with *_open."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}")
        if value != value or value in (float("inf"), float("-inf")):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and (value >= high if high_open else value > high)
        if too_low or too_high:
            raise argparse.ArgumentTypeError(f"{text} is out of range: {describe()}")
        return value

    def describe():
        if high is None:
            return f"must be {'>' if low_open else '>='} {low}"
        if low is None:
            return f"must be {'<' if high_open else '<='} {high}"
        return f"must be in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"

    parse.__name__ = kind.__name__   # argparse names the type in its messages
    return parse


def positive(kind):
    return number(kind, 0, low_open=True)


def non_negative(kind):
    return number(kind, 0)


def check_writable(path, what):
    """Raise OSError, one line, where `path` (None: no such output) cannot be written: an
    output written only at the end of long work is checked before the work starts. Leaves
    no file behind."""
    if path is None:
        return
    if not path.parent.is_dir():
        raise FileNotFoundError(f"output folder does not exist: {path.parent}")
    existed = path.exists()
    try:
        path.open("ab").close()
    except OSError as error:
        raise OSError(f"cannot write {what} {path}: {error.strerror}") from None
    if not existed:
        path.unlink()


def add_classifier_options(parser):
    """--model, --runtime, --tta and --light-fix: which trained model runs, and how each face is fed to it."""
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                        help="trained model (class names from NAME.labels.json beside it; "
                             "NAME.int8.tflite and NAME.tflite beside it are its fast LiteRT twins)")
    parser.add_argument("--runtime", choices=RUNTIMES, default="auto",
                        help="auto: LiteRT with NAME.int8.tflite, else NAME.tflite, where it belongs "
                             "to this model; else Keras (slow to start)")
    parser.add_argument("--tta", action="store_true",
                        help="average 8 views of each face: as is and mirrored, rotated 6 degrees either way "
                             "and zoomed 5%% (8x the classifier's time)")
    parser.add_argument("--light-fix", choices=LIGHT_FIXES, default="stretch",
                        help="lighting remedy for each face (stretch: each face's contrast stretched to "
                             "the full range; docs/REALTIME.md)")
