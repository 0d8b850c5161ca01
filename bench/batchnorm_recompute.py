"""BatchNorm statistics recomputed over the training faces, with dropout on or off:
validation accuracy of each model as saved, then recomputed both ways.

    python bench/batchnorm_recompute.py [--data ../shared/data/fer2013] MODEL.h5 [MODEL.h5 ...]

train.py's finish step recomputes the statistics of the best epoch (and of a weight
average) and keeps whichever version validates best. It used to run the whole model in
training mode, dropout included; model.recalibrate_batchnorm now keeps dropout off, as at
inference (dropout=True recomputes the old way). Each recomputation is a forward pass
over all 28,709 training faces: about 4 minutes on 2 CPU cores, 10 a model in all.
"""
import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import data  # noqa: E402
from model import load_trained_model, recalibrate_batchnorm  # noqa: E402
from training.run import validation_accuracy  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--data", type=Path, default=data.DEFAULT_DATA)
    args = parser.parse_args()
    dataset = data.load_dataset(args.data)
    print(f"{'model':40s} {'as saved':>9s} {'dropout on':>11s} {'dropout off':>12s}")
    for path in args.models:
        model, _ = load_trained_model(path)
        saved = model.get_weights()
        scores = [validation_accuracy(model, dataset.validation)]
        recalibrate_batchnorm(model, dataset.train.x, dropout=True)
        scores.append(validation_accuracy(model, dataset.validation))
        model.set_weights(saved)
        recalibrate_batchnorm(model, dataset.train.x)
        scores.append(validation_accuracy(model, dataset.validation))
        print(f"{str(path):40s} " + " ".join(f"{100 * s:{w}.2f}%" for s, w in zip(scores, (8, 10, 11))),
              flush=True)


if __name__ == "__main__":
    main()
