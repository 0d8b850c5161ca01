"""Score a trained model on labelled faces: accuracy, macro F1, per-class table, confusion matrix.

    python evaluate.py --data ../shared/data/fer2013                 # its validation/ split
    python evaluate.py --data faces/ --tta --json results.json       # any folder of class folders
    python evaluate.py --data ../shared/data/fer2013 --low-light 0.5 # darkened to half brightness
    python evaluate.py --data ../shared/data/fer2013 --runtime keras # the .h5 itself, not its LiteRT twin

DIR is a folder of class folders, or a dataset root (then its validation/ split).
The class folders must be exactly the model's classes.
"""
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

import data
from common import plots
from common.arguments import Parser, add_classifier_options, check_writable, number
from common.entry_point import run_main
from inference.runtimes import load_classifier, predict_proba


def evaluation_split(path):
    """The folder of class folders to score: DIR itself, or DIR's validation/ split."""
    path = Path(path)
    for candidate in (path / "validation", path / "images" / "validation"):
        if candidate.is_dir():
            return candidate
    return path


def confusion_matrix(y_true, y_pred, num_classes):
    """counts[true, predicted]."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def per_class_table(matrix, class_names):
    """Precision, recall, F1 and support per class, from a confusion matrix."""
    true_positives = np.diag(matrix).astype(np.float64)
    predicted = matrix.sum(axis=0)
    support = matrix.sum(axis=1)
    precision = np.divide(true_positives, predicted, out=np.zeros_like(true_positives), where=predicted > 0)
    recall = np.divide(true_positives, support, out=np.zeros_like(true_positives), where=support > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(total), where=total > 0)
    return pd.DataFrame({"precision": precision, "recall": recall, "f1": f1, "support": support},
                        index=pd.Index(class_names, name="class"))


def score(model, split, tta=False, low_light=1.0, light_fix="stretch", runtime="keras"):
    """Evaluate `model` on a loaded Split; returns the report as a JSON-ready dict.

    low_light darkens the faces first; light_fix then applies the app's remedy.
    """
    faces = data.fix_light(split.x * np.float32(low_light), light_fix)
    predicted = predict_proba(model, faces, tta=tta).argmax(axis=1)
    matrix = confusion_matrix(split.y, predicted, len(split.class_names))
    table = per_class_table(matrix, split.class_names)
    present = table["support"] > 0   # a class absent from the folder has no F1 to average
    return {
        "images": int(len(split.y)),
        "accuracy": float((predicted == split.y).mean()),
        "macro_f1": float(table.loc[present, "f1"].mean()),
        "absent": [name for name, here in present.items() if not here],
        "per_class": {name: {k: (int(v) if k == "support" else float(v)) for k, v in row.items()}
                      for name, row in table.iterrows()},
        "confusion_matrix": matrix.tolist(),
        "class_names": list(split.class_names),
        "tta": tta,
        "low_light": low_light,
        "light_fix": light_fix,
        "runtime": runtime,
        "skipped": [str(path) for path, _ in split.skipped],
    }


def print_report(report):
    notes = [report["runtime"]]
    if report["tta"]:
        notes.append("TTA")
    if report["low_light"] != 1.0:
        notes.append(f"low light x{report['low_light']}")
    if report["light_fix"] != "none":
        notes.append(f"light fix: {report['light_fix']}")
    print(f"images: {report['images']}   accuracy: {report['accuracy']:.4f}   "
          f"macro F1: {report['macro_f1']:.4f}" + (f"   ({', '.join(notes)})" if notes else ""))
    if report["absent"]:
        print(f"absent from the data: {', '.join(report['absent'])} (no images: macro F1 is over the "
              f"{len(report['per_class']) - len(report['absent'])} classes present; predictions of them still count)")
    table = pd.DataFrame(report["per_class"]).T
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))


def parse_args(argv=None):
    parser = Parser(description="Evaluate a trained emotion model on labelled faces.")
    parser.add_argument("--data", type=Path, required=True,
                        help="folder of class folders, or a dataset root (its validation/ is used); some of "
                             "the model's classes may be absent")
    parser.add_argument("--json", type=Path, help="write the full report here")
    parser.add_argument("--heatmap", type=Path, default=Path("confusion_matrix.png"),
                        help="write the confusion-matrix PNG here")
    add_classifier_options(parser)
    parser.add_argument("--low-light", type=number(float, 0.0, 1.0, low_open=True), default=1.0, metavar="F",
                        help="darken every face by factor F (0 < F <= 1) before scoring")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        check_writable(args.heatmap, "heatmap")
        check_writable(args.json, "report")
        model, class_names, runtime = load_classifier(args.model, args.runtime)
        split = data.load_split(evaluation_split(args.data), class_names=class_names, allow_missing=True)
    except (data.DatasetError, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    data.report_skipped(split.skipped)
    report = score(model, split, tta=args.tta, low_light=args.low_light, light_fix=args.light_fix,
                   runtime=runtime)
    print_report(report)
    title = f"Confusion matrix, accuracy {report['accuracy']:.1%} (row-normalised)"
    heatmap = plots.plot_confusion_matrix(np.array(report["confusion_matrix"]), class_names, args.heatmap, title)
    print(f"heatmap: {heatmap}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"json: {args.json}")
    return 0


if __name__ == "__main__":
    run_main(main)
