"""Which test-time views help: chosen on one half of validation/, scored on the other.

    python bench/tta_choice.py [--data ../shared/data/fer2013] [--model models/modelTrained.h5]

Views chosen and scored on the same faces overstate their gain: data.TTA_VIEWS were
chosen on all of validation/, and on a held-out split they gained 0.06 points where
validation showed 1.0. Here validation/ is halved at random (seeded); on one half, views
are picked greedily (start from the face as is, add the candidate that raises accuracy
most, stop when none does or at --max-views); the pick is scored on the other half;
then the halves swap, and so on for --splits halvings. Faces get the app's light fix first, as evaluate.py does.
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
from artefacts import DEFAULT_MODEL, RUNTIMES  # noqa: E402
from evaluate import evaluation_split  # noqa: E402
from inference.runtimes import load_classifier, predict_proba  # noqa: E402

# (flip, degrees, zoom, shift in pixels): the face as is, rotated, zoomed in (crops of 46,
# 44 and 40 pixels scaled back to 48) and 44-pixel crops moved 2 pixels each way;
# each also mirrored.
TRANSFORMS = [(0.0, 1.0, (0, 0)), (6.0, 1.0, (0, 0)), (-6.0, 1.0, (0, 0)), (0.0, 1.05, (0, 0)),
              (0.0, 1.1, (0, 0)), (0.0, 1.2, (0, 0)), (0.0, 1.1, (2, 0)), (0.0, 1.1, (-2, 0)),
              (0.0, 1.1, (0, 2)), (0.0, 1.1, (0, -2))]
CANDIDATES = [(flip, *transform) for flip in (False, True) for transform in TRANSFORMS]


def view_probabilities(classifier, faces, views):
    """(len(views), N, classes): the classifier's probabilities for every view of every face."""
    return np.stack([predict_proba(classifier, np.stack([data.warp_face(face, *view) for face in faces]))
                     for view in views])


def accuracy(probs, chosen, labels):
    return float((probs[list(chosen)].mean(axis=0).argmax(axis=1) == labels).mean())


def choose_views(probs, labels, max_views):
    """Greedy forward choice of view indices, starting from view 0 (the face as is)."""
    chosen, best = [0], accuracy(probs, [0], labels)
    while len(chosen) < max_views:
        scores = {v: accuracy(probs, chosen + [v], labels) for v in range(len(probs)) if v not in chosen}
        view = max(scores, key=scores.get)
        if scores[view] <= best:
            break
        chosen, best = chosen + [view], scores[view]
    return chosen


def describe(views):
    return ", ".join(f"{'mirror ' if flip else ''}{angle:+.0f}deg x{zoom:g}{'' if shift == (0, 0) else f' shift {shift}'}"
                     for flip, angle, zoom, shift in views)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=data.DEFAULT_DATA)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--runtime", choices=RUNTIMES, default="auto", help="as evaluate.py's --runtime")
    parser.add_argument("--max-views", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0, help="first random halving")
    parser.add_argument("--splits", type=int, default=5, help="random halvings, each scored both ways")
    args = parser.parse_args()

    classifier, class_names, runtime = load_classifier(args.model, args.runtime)
    split = data.load_split(evaluation_split(args.data), class_names=class_names)
    faces = data.fix_light(split.x, "stretch")
    shipped = [(flip, angle, zoom, (0, 0)) for flip, angle, zoom in data.TTA_VIEWS]
    views = CANDIDATES + [v for v in shipped if v not in CANDIDATES]
    print(f"{len(faces)} faces, {len(views)} views, runtime {runtime} ...", flush=True)
    probs = view_probabilities(classifier, faces, views)
    shipped_ids = [views.index(v) for v in shipped]

    print(f"{'split':>5} {'scored on':>9} {'one pass':>9} {'chosen':>7} {'TTA_VIEWS':>10}  views chosen on the other half")
    gains = []
    for seed in range(args.seed, args.seed + args.splits):
        halves = np.array_split(np.random.default_rng(seed).permutation(len(faces)), 2)
        for pick, test in ((0, 1), (1, 0)):
            chosen = choose_views(probs[:, halves[pick]], split.y[halves[pick]], args.max_views)
            test_probs, test_labels = probs[:, halves[test]], split.y[halves[test]]
            row = [accuracy(test_probs, ids, test_labels) for ids in ([0], chosen, shipped_ids)]
            gains.append([row[1] - row[0], row[2] - row[0]])
            print(f"{seed:5d} {'half ' + str(test + 1):>9} {row[0]:9.2%} {row[1]:7.2%} {row[2]:10.2%}  "
                  f"{describe([views[v] for v in chosen])}")
    gains = np.array(gains) * 100
    print(f"gain over one pass on the half not chosen on, mean of {len(gains)}: views chosen there "
          f"{gains[:, 0].mean():+.2f} points (from {gains[:, 0].min():+.2f} to {gains[:, 0].max():+.2f}), "
          f"TTA_VIEWS {gains[:, 1].mean():+.2f} (chosen on both halves)")
    chosen = choose_views(probs, split.y, args.max_views)
    print(f"chosen on all {len(faces)} faces (and scored on them, so optimistic): "
          f"{accuracy(probs, chosen, split.y):.2%} against one pass {accuracy(probs, [0], split.y):.2%} "
          f"and TTA_VIEWS {accuracy(probs, shipped_ids, split.y):.2%}: {describe([views[v] for v in chosen])}")


if __name__ == "__main__":
    main()
