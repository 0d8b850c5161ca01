"""Write the soft labels of an ensemble for `train.py --soft-labels`: the mean of the
models' probabilities for every training face (one pass, no augmentation).

    python -m training.soft_labels --output teachers.npz MODEL.h5 MODEL.h5 [...]
    python -m training.soft_labels --output teachers12.npz experiments/teachers8.npz RUN.probs.npz [...]

A source is a model (.h5) or soft labels written here (.npz), which count as the number
of models they average, so ensembles grow without their models at hand. With --each,
every model's own probabilities are also written beside it (MODEL.probs.npz): what a
lent GPU sends back in place of models too large to return. It prints each source's
accuracy on the training faces and the ensemble's, and how sure the ensemble is: soft
labels that agree with the folder labels nearly everywhere and near 1 teach little
beyond them.
"""
import argparse
import sys
from pathlib import Path

import numpy as np

import data
from artefacts import ModelError
from common.native_logs import import_keras_quietly
from inference.runtimes import predict_proba
from training.distillation import load_soft_labels, models_averaged, save_soft_labels


def probabilities_of(path, train, each):
    """(the source's probabilities for every face of `train`, how many models they average)."""
    if path.suffix == ".npz":
        return load_soft_labels(path, train), models_averaged(path)
    from model import load_trained_model
    model, names = load_trained_model(path)
    if names != train.class_names:
        raise data.DatasetError(f"{path} was trained on {names}, not {train.class_names}")
    probabilities = predict_proba(model, train.x)
    if each:
        save_soft_labels(path.with_suffix(".probs.npz"), train, probabilities)
    return probabilities, 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sources", nargs="+", type=Path, help="models (.h5) and soft labels (.npz)")
    parser.add_argument("--data", type=Path, default=data.DEFAULT_DATA)
    parser.add_argument("--output", type=Path, required=True, help="the .npz to write")
    parser.add_argument("--each", action="store_true", help="also write each model's probabilities beside it")
    args = parser.parse_args()
    import_keras_quietly()
    train = data.load_split(data.resolve_root(args.data) / "train")
    total, models = np.zeros((len(train.y), len(train.class_names)), np.float32), 0
    for path in args.sources:
        try:
            probabilities, count = probabilities_of(path, train, args.each)
        except (OSError, ModelError, data.DatasetError) as error:
            sys.exit(f"error: {error}")
        print(f"{100 * np.mean(probabilities.argmax(axis=1) == train.y):6.2f}%  {path}"
              + (f" ({count} models)" if count > 1 else ""), flush=True)
        total += count * probabilities
        models += count
    mean = total / models
    print(f"{100 * np.mean(mean.argmax(axis=1) == train.y):6.2f}%  the ensemble of {models}; "
          f"mean top probability {mean.max(axis=1).mean():.3f}, "
          f"mean probability of the folder label {mean[np.arange(len(train.y)), train.y].mean():.3f}")
    save_soft_labels(args.output, train, mean, models)
    print(f"wrote {args.output} ({len(train.y)} faces)")


if __name__ == "__main__":
    main()
