"""How far averaging several trained models' probabilities lifts validation accuracy:
each model alone, then every ensemble of two or more.

    python bench/ensemble_ceiling.py [--data ../shared/data/fer2013] MODEL.h5 MODEL.h5 [...]

Distilling an ensemble into one network carries over part of its gain, so the
ensemble's accuracy bounds what distilling these models could give one copy of them.
One pass, no light fix, as evaluate.py --runtime keras --light-fix none scores.
"""
import argparse
import itertools
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import data  # noqa: E402
from model import load_trained_model  # noqa: E402
from inference.runtimes import predict_proba  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--data", type=Path, default=data.DEFAULT_DATA)
    args = parser.parse_args()
    validation = data.load_split(data.resolve_root(args.data) / "validation")
    probabilities = {}
    for path in args.models:
        model, _ = load_trained_model(path)
        probabilities[path] = predict_proba(model, validation.x)
        print(f"{100 * np.mean(probabilities[path].argmax(axis=1) == validation.y):6.2f}%  {path}", flush=True)
    # runs of bench/recipe_runs.py are all RUN/model.h5: their file names alone would not tell them apart
    names = [path.name for path in args.models]
    label = {path: path.name if names.count(path.name) == 1 else str(path) for path in args.models}
    for size in range(2, len(args.models) + 1):
        scores = {group: 100 * np.mean(sum(probabilities[p] for p in group).argmax(axis=1) == validation.y)
                  for group in itertools.combinations(args.models, size)}
        best = max(scores, key=scores.get)
        print(f"ensembles of {size}: mean {np.mean(list(scores.values())):.2f}%, "
              f"worst {min(scores.values()):.2f}%, best {scores[best]:.2f}% "
              f"({', '.join(label[p] for p in best)})")


if __name__ == "__main__":
    main()
