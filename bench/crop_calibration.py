"""Fit each detector's crop calibration (app/face_crops.py) on FER-2013's train/ faces, and
show what it is worth on validation/ faces.

    python bench/crop_calibration.py [--faces 600] [--data ../shared/data/fer2013]
    python bench/crop_calibration.py --faces 3500 --compare runs/tuned/model.h5   # a fine-tune's gain

Pastes faces onto 1280x720 backgrounds at random places and sizes (80-260 pixels, as the
benchmark footage does), runs each detector's full scan, and takes the box that overlaps
each face. The fit, in box widths so that it holds at any size: the square's side is the
median of (true side / box width), its centre's shift the median of (true centre - box
centre) / box width. It prints the CALIBRATIONS lines to paste into app/face_crops.py, then
the accuracy of the shipped model (int8 twin, as the app runs it) on validation/ faces
cropped three ways: the detector's own box, the calibrated square, and the true square; with --compare, other models (as the app would
run them) on the same crops.
"""
import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

import data  # noqa: E402
from app.detectors import DETECTORS, iou, make_detector  # noqa: E402
from app.face_crops import Calibration, face_square  # noqa: E402
from artefacts import DEFAULT_MODEL  # noqa: E402
from inference.runtimes import load_classifier, predict_proba  # noqa: E402
from tests.footage import background  # noqa: E402

WIDTH, HEIGHT = 1280, 720


def sample_faces(root, split, count, seed):
    """(48x48 grey faces, class indices): `count` faces of `split`, as many of each class as it has."""
    folder = data.resolve_root(root) / split
    classes = data.class_folders(folder)
    rng = np.random.default_rng(seed)
    faces, labels = [], []
    for label, name in enumerate(classes):
        files = sorted((folder / name).iterdir())
        for path in rng.permutation(files)[:count // len(classes)]:
            image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            if image is not None and image.std() > 10:   # FER-2013 has blank images
                faces.append(image)
                labels.append(label)
    return faces, np.array(labels)


def pasted(faces, seed):
    """Yield (grey frame, true square) with each face pasted at a random place and size."""
    rng = np.random.default_rng(seed)
    backs = [background(WIDTH, HEIGHT, seed=i, level=level)
             for i, level in enumerate(((60, 170), (40, 120), (90, 200), (150, 60)))]
    for index, face in enumerate(faces):
        side = int(rng.integers(80, 261))
        x, y = int(rng.integers(0, WIDTH - side)), int(rng.integers(0, HEIGHT - side))
        frame = backs[index % len(backs)].copy()
        frame[y:y + side, x:x + side] = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
        yield frame, (x, y, side, side)


def matches(detector, faces, seed):
    """[(face index, detector box, true square)] for every face the detector's scan found."""
    found = []
    for index, (frame, truth) in enumerate(pasted(faces, seed)):
        boxes, scores = detector.find(frame)   # the confident ones, as start the app's tracks
        boxes = [tuple(box) for box, score in zip(boxes, scores) if score >= detector.start_score]
        best = max(boxes, key=lambda box: iou(box, truth), default=None)
        if best is not None and iou(best, truth) >= 0.3:
            found.append((index, best, truth))
    return found


def fit(found):
    """The Calibration that maps the found boxes onto their true squares (medians)."""
    boxes = np.array([box for _, box, _ in found], np.float64)
    truths = np.array([truth for _, _, truth in found], np.float64)
    width = boxes[:, 2]
    centres = boxes[:, :2] + boxes[:, 2:] / 2
    true_centres = truths[:, :2] + truths[:, 2:] / 2
    return Calibration(side=round(float(np.median(truths[:, 2] / width)), 3),
                       dx=round(float(np.median((true_centres[:, 0] - centres[:, 0]) / width)), 3),
                       dy=round(float(np.median((true_centres[:, 1] - centres[:, 1]) / width)), 3))


def spread(found, calibration):
    """How the calibrated squares sit around the true squares, as the training option
    --frame-jitter draws them: (median and sd of log(square side / true side), sd of the
    centre's shift in true sides, x and y pooled)."""
    squares = np.array([face_square(box, calibration) for _, box, _ in found], np.float64)
    truths = np.array([truth for _, _, truth in found], np.float64)
    log_scale = np.log(squares[:, 2] / truths[:, 2])
    shift = ((squares[:, :2] + squares[:, 2:] / 2) - (truths[:, :2] + truths[:, 2:] / 2)) / truths[:, 2:]
    return float(np.median(log_scale)), float(log_scale.std()), float(shift.std()), shift.mean(axis=0)


def accuracy(classifier, faces, labels, found, square_of, seed):
    """Accuracy of the classifier on the found faces, each cropped to `square_of(box, truth)`."""
    frames = dict(enumerate(pasted(faces, seed)))
    crops, truth_labels = [], []
    for index, box, truth in found:
        gray = frames[index][0]
        x, y, w, h = square_of(box, truth)
        crops.append(gray[max(y, 0):y + h, max(x, 0):x + w])
        truth_labels.append(labels[index])
    probabilities = predict_proba(classifier, data.preprocess_faces(crops, "stretch"))
    return float(np.mean(probabilities.argmax(axis=1) == np.array(truth_labels)))


def faces_and_classifier(description):
    """Parse --data, --faces, --model, --compare; return (train/ faces to fit on, validation/
    faces and their labels to score, the shipped classifier as the app runs it, its runtime,
    the parsed arguments)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data", type=Path, default=data.DEFAULT_DATA)
    parser.add_argument("--faces", type=int, default=700, help="faces of each split (spread over the classes)")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--compare", type=Path, nargs="*", default=[], metavar="MODEL",
                        help="more models to score on the same crops, as the app would run them")
    args = parser.parse_args()
    train_faces, _ = sample_faces(args.data, "train", args.faces, seed=0)
    test_faces, test_labels = sample_faces(args.data, "validation", args.faces, seed=1)
    classifier, _, runtime = load_classifier(args.model)
    return train_faces, test_faces, test_labels, classifier, runtime, args


def main():
    train_faces, test_faces, test_labels, classifier, runtime, args = faces_and_classifier(__doc__.split("\n\n")[0])
    print(f"{len(train_faces)} train/ faces to fit on, {len(test_faces)} validation/ faces to score "
          f"({runtime})", flush=True)
    fitted = {}
    for name in DETECTORS:
        detector = make_detector(name, min_face_size=48)
        found = matches(detector, train_faces, seed=2)
        fitted[name] = fit(found)
        print(f"{name}: found {len(found)} of {len(train_faces)} train/ faces; "
              f"fit: {fitted[name]}", flush=True)
    print("\nCALIBRATIONS = {")
    for name, calibration in fitted.items():
        print(f'    "{name}": Calibration(side={calibration.side}, dx={calibration.dx}, dy={calibration.dy}),')
    print("}\n")
    found = {name: matches(make_detector(name, min_face_size=48), test_faces, seed=3) for name in DETECTORS}
    print("the calibrated square around the true face on validation/ faces (what --frame-jitter draws):")
    for name in DETECTORS:
        median, scale_sd, shift_sd, shift_mean = spread(found[name], fitted[name])
        print(f"  {name}: side x{np.exp(median):.3f} (log sd {scale_sd:.3f}), centre shift sd "
              f"{shift_sd:.3f} of the face (mean x {shift_mean[0]:+.3f}, y {shift_mean[1]:+.3f})")
    both = set.intersection(*({index for index, _, _ in rows} for rows in found.values()))
    scored = [(f"{args.model} ({runtime})", classifier)]
    for path in args.compare:
        other, _, other_runtime = load_classifier(path)
        scored.append((f"{path} ({other_runtime})", other))
    for title, model in scored:
        print(f"\n{title}")
        print(f"accuracy on validation/ faces{'found':>14}{'own box':>10}{'calibrated':>12}{'true square':>13}")
        for name in DETECTORS:
            for subset, rows in (("all it found", found[name]),
                                 ("found by both", [row for row in found[name] if row[0] in both])):
                scores = [accuracy(model, test_faces, test_labels, rows, square_of, seed=3) for square_of in (
                    lambda box, truth: box,
                    lambda box, truth, calibration=fitted[name]: face_square(box, calibration),
                    lambda box, truth: truth)]
                print(f"{name + ', ' + subset:29}{len(rows) / len(test_faces):14.1%}"
                      + "".join(f"{score:>{width}.1%}" for score, width in zip(scores, (10, 12, 13))), flush=True)

if __name__ == "__main__":
    main()
