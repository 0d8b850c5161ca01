"""Compare training runs at equal epochs: the best validation accuracy each history had
reached by each of the given epochs (runs on the same learning-rate schedule stand side
by side there even when some were stopped early).

    python bench/compare_histories.py experiments/histories/recipe-v2-gpu/third/*.csv models/modelTrained.history.csv
"""
import argparse
import csv
from pathlib import Path


def best_by_epoch(path):
    """[best val_accuracy over epochs 1..n for n = 1, 2, ...] of a train.py history CSV."""
    best, running = [], 0.0
    with open(path) as file:
        for row in csv.DictReader(file):
            running = max(running, float(row["val_accuracy"]))
            best.append(running)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("histories", nargs="+", type=Path, help="NAME.history.csv files")
    parser.add_argument("--at", nargs="+", type=int, default=[40, 60, 67, 73, 90, 110, 124, 150],
                        help="epochs (1-based) to compare at")
    args = parser.parse_args()
    names = [f"{path.parent.name}/{path.name.removesuffix('.history.csv')}" for path in args.histories]
    width = max(map(len, names))
    print(f"{'run':{width}}  epochs  " + "  ".join(f"by {n:>3}" for n in args.at))
    for name, path in zip(names, args.histories):
        best = best_by_epoch(path)
        cells = (f"{100 * best[n - 1]:6.2f}" if len(best) >= n else "     -" for n in args.at)
        print(f"{name:{width}}  {len(best):6d}  " + "  ".join(cells))


if __name__ == "__main__":
    main()
