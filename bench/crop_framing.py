"""Other ways to frame YuNet's faces for the classifier, against the calibrated square.

    python bench/crop_framing.py [--faces 700] [--data ../shared/data/fer2013]

The same faces as bench/crop_calibration.py (train/ faces to fit on, validation/ faces to
score, pasted at 80-260 pixels); each way is fitted on train/ only and scored with the
shipped int8 twin on the validation/ faces YuNet finds: the calibrated square (the app's),
squares from YuNet's five landmarks (scale: eye distance, eye-mouth distance or their
geometric mean; centre: the box's, the landmarks' mean or the middle of eyes and mouth),
the side regressed on box and landmark sizes (log space), Haar run near the square (its box
where it finds one), and test-time views of the square (sides 0.85-1.15, mirrored; these
are not fitted, so their pick is on the scored faces). It prints accuracy and the mean IoU
with the true square. docs/REALTIME.md (Detection v3, continued) has the figures.
"""
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

import data  # noqa: E402
from app.detectors import downscaled, iou, make_detector  # noqa: E402
from app.face_crops import CALIBRATIONS, Calibration, face_square  # noqa: E402
from bench.crop_calibration import faces_and_classifier, pasted  # noqa: E402
from inference.runtimes import predict_proba  # noqa: E402


def yunet_rows(faces, seed):
    """[(face index, YuNet row: box, 5 landmarks, score, frame, true square)] for the faces it finds."""
    yunet = make_detector("yunet")   # the app's full scan; its find() keeps only the boxes
    found = []
    for index, (frame, truth) in enumerate(pasted(faces, seed)):
        small, scale = downscaled(frame, yunet.detect_width)
        yunet.scan.setInputSize((small.shape[1], small.shape[0]))
        rows = yunet.scan.detect(cv2.cvtColor(small, cv2.COLOR_GRAY2BGR))[1]
        if rows is None:
            continue
        rows = rows[:, :14] / scale
        best = max(rows, key=lambda row: iou(row[:4], truth))
        if iou(best[:4], truth) >= 0.3:
            found.append((index, best, frame, truth))
    return found


def geometry(row):
    """Sizes and centres of a YuNet row: box width, eye distance, eye-mouth distance, ..."""
    box, marks = row[:4], row[4:14].reshape(5, 2)
    eyes, mouth = marks[:2].mean(0), marks[3:5].mean(0)
    eye_distance = np.linalg.norm(marks[0] - marks[1])
    eye_mouth = np.linalg.norm(mouth - eyes)
    return {"box width": box[2], "eye distance": eye_distance, "eye-mouth": eye_mouth,
            "their mean": np.sqrt(eye_distance * eye_mouth),
            "box centre": box[:2] + box[2:] / 2, "landmarks' mean": marks.mean(0), "eyes and mouth": (eyes + mouth) / 2}


def square(centre, side):
    return tuple(int(round(v)) for v in (centre[0] - side / 2, centre[1] - side / 2, side, side))


def landmark_framing(fit_rows, scale, centre):
    """A function row -> square: side and shift (medians over `fit_rows`) in units of `scale`."""
    sizes = np.array([geometry(row)[scale] for _, row, _, _ in fit_rows])
    centres = np.array([geometry(row)[centre] for _, row, _, _ in fit_rows])
    truths = np.array([truth for _, _, _, truth in fit_rows], np.float64)
    side = np.median(truths[:, 2] / sizes)
    shift = np.median((truths[:, :2] + truths[:, 2:] / 2 - centres) / sizes[:, None], axis=0)
    def framing(row):
        g = geometry(row)
        return square(g[centre] + shift * g[scale], side * g[scale])
    return framing


def regressed_framing(fit_rows):
    """A function row -> square whose side is regressed (log space) on box and landmark sizes."""
    def features(row):
        g = geometry(row)
        return np.log([1.0, row[2], row[3], g["eye distance"], g["eye-mouth"]])
    weights = np.linalg.lstsq(np.array([features(row) for _, row, _, _ in fit_rows]),
                              np.log([truth[2] for _, _, _, truth in fit_rows]), rcond=None)[0]
    calibration = CALIBRATIONS["yunet"]

    def framing(row):
        x, y, w, h = face_square(row[:4], calibration)
        return square((x + w / 2, y + h / 2), np.exp(features(row) @ weights))
    return framing


def main():
    train_faces, test_faces, test_labels, classifier, runtime, _ = faces_and_classifier(__doc__.split("\n\n")[0])
    fit_rows, rows = yunet_rows(train_faces, seed=2), yunet_rows(test_faces, seed=3)
    labels = test_labels[[index for index, _, _, _ in rows]]
    print(f"YuNet found {len(fit_rows)} train/ faces to fit on and {len(rows)} validation/ faces to score "
          f"({runtime}); the standard error of an accuracy is about "
          f"{100 * np.sqrt(0.65 * 0.35 / len(rows)):.1f} points\n")

    def probabilities(squares, mirrored=False):
        crops = [frame[max(y, 0):y + h, max(x, 0):x + w] for (_, _, frame, _), (x, y, w, h) in zip(rows, squares)]
        faces = data.preprocess_faces(crops, "stretch")
        return predict_proba(classifier, np.ascontiguousarray(faces[:, :, ::-1] if mirrored else faces))

    def report(name, squares, probs=None):
        probs = probabilities(squares) if probs is None else probs
        overlap = np.mean([iou(s, truth) for s, (_, _, _, truth) in zip(squares, rows)])
        print(f"{name:62}{np.mean(probs.argmax(1) == labels):8.1%}{overlap:8.3f}", flush=True)

    print(f"{'':62}{'accuracy':>8}{'IoU':>8}")
    report("true square", [truth for _, _, _, truth in rows])
    calibrated = [face_square(row[:4], CALIBRATIONS["yunet"]) for _, row, _, _ in rows]
    report("calibrated square (the app)", calibrated)
    for scale in ("box width", "eye distance", "eye-mouth", "their mean"):
        for centre in ("box centre", "landmarks' mean", "eyes and mouth"):
            framing = landmark_framing(fit_rows, scale, centre)
            report(f"landmarks: side from {scale}, centre {centre}", [framing(row) for _, row, _, _ in rows])
    framing = regressed_framing(fit_rows)
    report("side regressed on box and landmark sizes", [framing(row) for _, row, _, _ in rows])
    haar, refined, started = make_detector("haar"), [], time.perf_counter()
    for (_, _, frame, _), box in zip(rows, calibrated):
        near = haar.detect_near(frame, box)
        refined.append(near if near is not None and iou(near, box) >= 0.3 else box)
    milliseconds = 1000 * (time.perf_counter() - started) / len(rows)
    report(f"Haar near the square where it finds one ({milliseconds:.1f} ms a face)", refined)
    views = {(factor, mirrored): probabilities([face_square(box, Calibration(side=factor)) for box in calibrated], mirrored)
             for factor in (0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.15) for mirrored in (False, True)}
    for name, picks in (("views: square and its mirror", [(1.0, False), (1.0, True)]),
                        ("views: sides 0.9, 1, 1.1, each mirrored", [(f, m) for f in (0.9, 1.0, 1.1) for m in (False, True)]),
                        ("views: sides 0.85-1.15 in 0.1, each mirrored", [(f, m) for f in (0.85, 0.95, 1.05, 1.15)
                                                                          for m in (False, True)])):
        report(name, calibrated, sum(views[pick] for pick in picks))


if __name__ == "__main__":
    main()
