"""Write the soft labels of an ensemble for `train.py --soft-labels`: the mean of the
models' probabilities for every training face (one pass, no augmentation).

    python bench/soft_labels.py --output teachers.npz MODEL.h5 MODEL.h5 [...]

It prints each model's accuracy on the training faces and the ensemble's, and how sure
the ensemble is: soft labels that agree with the folder labels nearly everywhere and
near 1 teach little beyond them.
"""
import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import data  # noqa: E402
from distillation import save_soft_labels  # noqa: E402
from model import load_trained_model  # noqa: E402
from runtime import predict_proba  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "fer2013")
    parser.add_argument("--output", type=Path, required=True, help="the .npz to write")
    args = parser.parse_args()
    train = data.load_split(data.resolve_root(args.data) / "train")
    total = np.zeros((len(train.y), len(train.class_names)), np.float32)
    for path in args.models:
        model, names = load_trained_model(path)
        if names != train.class_names:
            sys.exit(f"error: {path} was trained on {names}, not {train.class_names}")
        probabilities = predict_proba(model, train.x)
        print(f"{100 * np.mean(probabilities.argmax(axis=1) == train.y):6.2f}%  {path}", flush=True)
        total += probabilities
    mean = total / len(args.models)
    print(f"{100 * np.mean(mean.argmax(axis=1) == train.y):6.2f}%  the ensemble of {len(args.models)}; "
          f"mean top probability {mean.max(axis=1).mean():.3f}, "
          f"mean probability of the folder label {mean[np.arange(len(train.y)), train.y].mean():.3f}")
    save_soft_labels(args.output, train, mean)
    print(f"wrote {args.output} ({len(train.y)} faces)")


if __name__ == "__main__":
    main()
