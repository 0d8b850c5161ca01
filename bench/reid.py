"""Re-identification: persons who come back keep their number; its cost in frame rate.

    pip install motmetrics               # IDF1 and identity switches (the rest runs without it)
    python bench/reid.py                 # footage of returning persons, hamilton.mp4, speed
    python bench/reid.py --fit           # and the similarity level, from FER-2013 train/ faces

Footage (tests.footage.write_returns_video): 10 FER-2013 validation faces (one person
each), 24 shots of 1.5 s after hard cuts, each with 1-3 of them in new places, sizes, light,
tilt and blur; in every other shot one leaves the picture for 0.5 s and comes back
elsewhere; also at half light. For main.py with --reid on and off it prints:
  back       a person who comes back (after a cut or after leaving) gets their number
             from before, of all returns
  taken      a person seen for the first time gets a number someone else had, of all
             first appearances
  IDF1, ID switches   the identity metrics of py-motmetrics (pip install motmetrics)
  persons    numbers written, against the true number of persons
  fps        frames a second as main.py reports it (from the first frame to the last),
             and process: whole-process seconds, start-up included; the mean of --repeats runs,
             turns taken
Then hamilton.mp4 (persons written and frames/s, on and off). With --fit: the cosine
similarity of SFace embeddings between one FER-2013 train/ face under two of the app's
framings and degradations (same person) and between different faces, in percentiles.
"""
import argparse
import csv
import os
import re
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

from app.detectors import iou  # noqa: E402
from common.arguments import positive  # noqa: E402
from tests.footage import background, compose_frame, load_labelled_faces, varied_face, write_returns_video  # noqa: E402

HAMILTON = ROOT.parent / "shared" / "footage" / "hamilton.mp4"


def run_main(video, csv_path, *options):
    """(frames/s as main.py reports it, whole-process seconds, rows) of main.py on `video`."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), "--source", str(video), "--csv", str(csv_path),
                           "--no-display", *options], check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    fps = float(re.search(r"speed: ([0-9.]+) frames/s", done.stdout).group(1))
    with open(csv_path) as file:
        return fps, seconds, list(csv.DictReader(file))


def mean_of(video, csv_path, repeats=2):
    """{--reid on/off: (frames/s, whole-process seconds, rows)}: the mean speed and seconds of
    `repeats` runs each, taking turns (this machine's speed drifts by a sixth from minute to
    minute, so one run of each proves little)."""
    runs = {"on": [], "off": []}
    for _ in range(repeats):
        for reid in runs:
            runs[reid].append(run_main(video, csv_path, "--reid", reid))
    return {reid: (float(np.mean([r[0] for r in done])), float(np.mean([r[1] for r in done])), done[-1][2])
            for reid, done in runs.items()}


def matched_numbers(footage, rows):
    """Per frame, {person: number written for them} (a row overlapping their box by IoU >= 0.3)."""
    by_frame = {}
    for row in rows:
        by_frame.setdefault(int(row["frame"]), []).append(
            (tuple(int(row[k]) for k in ("x", "y", "w", "h")), int(row["face"])))
    matched = []
    for index, (boxes, people) in enumerate(zip(footage.boxes, footage.faces)):
        found = {}
        for box, person in zip(boxes, people):
            best = max(by_frame.get(index, []), key=lambda r: iou(box, r[0]), default=None)
            if best is not None and iou(box, best[0]) >= 0.3:
                found[person] = best[1]
        matched.append(found)
    return matched


def appearances(footage):
    """[(person, first frame, last frame)] of each stay of a person in the picture: frames in a
    row of one shot that show them."""
    stays, open_ = [], {}
    for index in range(len(footage.faces) + 1):
        people = footage.faces[index] if index < len(footage.faces) else []
        cut = 0 < index < len(footage.faces) and footage.shots[index] != footage.shots[index - 1]
        for person in list(open_):
            if person not in people or cut:
                stays.append((person, open_.pop(person), index - 1))
        for person in people:
            open_.setdefault(person, index)
    return sorted(stays, key=lambda s: s[1])


def identity_figures(footage, rows):
    """(back, taken, returns, firsts) from the rows written: each stay's number is the one
    written most often for it."""
    matched = matched_numbers(footage, rows)
    last_number, owner = {}, {}
    back = returns = taken = firsts = 0
    for person, first, last in appearances(footage):
        numbers = [matched[i][person] for i in range(first, last + 1) if person in matched[i]]
        if not numbers:
            continue
        number = max(set(numbers), key=numbers.count)
        if person in last_number:
            returns += 1
            back += number == last_number[person]
        else:
            firsts += 1
            taken += owner.get(number, person) != person
        last_number[person] = number
        owner.setdefault(number, person)
    return back / max(returns, 1), taken / max(firsts, 1), returns, firsts


def motmetrics_figures(footage, rows):
    """(IDF1, identity switches) by py-motmetrics, or (None, None) where it is not installed."""
    try:
        import motmetrics as mm
    except ImportError:
        return None, None
    by_frame = {}
    for row in rows:
        by_frame.setdefault(int(row["frame"]), []).append(
            (int(row["face"]), [int(row[k]) for k in ("x", "y", "w", "h")]))
    accumulator = mm.MOTAccumulator(auto_id=True)
    for index, (boxes, people) in enumerate(zip(footage.boxes, footage.faces)):
        found = by_frame.get(index, [])
        # 1 - IoU, NaN below 0.3 (motmetrics' own iou_matrix calls numpy's removed asfarray)
        distances = np.array([[1 - iou(b, f) if iou(b, f) >= 0.3 else np.nan for _, f in found]
                              for b in boxes]).reshape(len(boxes), len(found))
        accumulator.update(list(people), [n for n, _ in found], distances)
    summary = mm.metrics.create().compute(accumulator, metrics=["idf1", "num_switches"], name="run")
    return float(summary["idf1"].iloc[0]), int(summary["num_switches"].iloc[0])


def fit(data, count=300, seed=0):
    """Cosine similarities of one face under two framings and degradations, and of different faces."""
    from app.reid import FaceEmbedder
    embedder = FaceEmbedder()
    rng = np.random.default_rng(seed)
    faces, _ = load_labelled_faces(data, per_class=count // 7 + 1, split="train")
    back = background(1280, 720)
    pairs = []
    for face in faces[:count]:
        views = []
        for _ in range(2):
            look = varied_face(face, rng)
            side = int(rng.integers(90, 220))
            x, y = int(rng.integers(100, 1000)), int(rng.integers(50, 720 - side - 50))
            frame = compose_frame(back, [look], [(x, y, side, side)])
            if rng.random() < 0.5:   # dim, and through a JPEG
                frame = np.clip(frame * rng.uniform(0.4, 0.7), 0, 255).astype(np.uint8)
            frame = cv2.imdecode(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(40, 90))])[1],
                                 cv2.IMREAD_COLOR)
            shift = rng.uniform(-0.08, 0.08, 2) * side
            views.append(embedder.embed(frame, (int(x + shift[0]), int(y + shift[1]), side, side)))
        if views[0] is not None and views[1] is not None:
            pairs.append(views)
    same = np.array([a @ b for a, b in pairs])
    firsts = np.array([a for a, _ in pairs])
    others = (firsts @ np.array([b for _, b in pairs]).T)[~np.eye(len(pairs), dtype=bool)]
    print(f"\nsimilarity level, from {len(pairs)} FER-2013 train/ faces embedded twice "
          f"(of {min(count, len(faces))}: the rest had no landmarks)")
    print(f"  same face, two views:  p1 {np.percentile(same, 1):.2f}  p5 {np.percentile(same, 5):.2f}  "
          f"p10 {np.percentile(same, 10):.2f}  median {np.median(same):.2f}")
    print(f"  different faces:       median {np.median(others):.2f}  p99 {np.percentile(others, 99):.2f}  "
          f"p99.9 {np.percentile(others, 99.9):.2f}  max {others.max():.2f}")
    for level in (0.3, 0.35, 0.4, 0.45, 0.5):
        print(f"  at {level:.2f}: same face matched {np.mean(same >= level):.1%}, "
              f"different faces matched {np.mean(others >= level):.3%}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "fer2013")
    parser.add_argument("--fit", action="store_true", help="also the similarity level from train/ faces")
    parser.add_argument("--shots", type=int, default=24)
    parser.add_argument("--repeats", type=positive(int), default=4, help="runs of each row, taking turns; their mean counts")
    args = parser.parse_args()
    faces, _ = load_labelled_faces(args.data, per_class=2)
    faces = faces[:10]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print(f"{'':26}{'back':>7}{'taken':>7}{'IDF1':>7}{'switches':>9}{'persons':>9}{'fps':>7}{'process':>9}")
        for light in (1.0, 0.5):
            video = tmp / f"returns{light}.avi"
            footage = write_returns_video(video, faces, shots=args.shots, brightness=light)
            frames, persons = len(footage.boxes), len({p for people in footage.faces for p in people})
            print(f"returning persons, {'full' if light == 1.0 else 'half'} light ({frames} frames, {persons} persons)")
            runs = mean_of(video, tmp / "faces.csv", args.repeats)
            for reid, (fps, seconds, rows) in runs.items():
                back, taken, returns, firsts = identity_figures(footage, rows)
                idf1, switches = motmetrics_figures(footage, rows)
                print(f"  main.py --reid {reid:9}{back:7.0%}{taken:7.0%}"
                      + (f"{idf1:7.2f}{switches:9d}" if idf1 is not None else " " * 16)
                      + f"{len({r['face'] for r in rows}):9d}{fps:7.1f}{seconds:9.2f}")
            print(f"  ({returns} returns, {firsts} first appearances; frames/s with / without: "
                  f"{runs['on'][0] / runs['off'][0]:.0%})", flush=True)
        if HAMILTON.is_file():
            runs = mean_of(HAMILTON, tmp / "faces.csv", args.repeats)
            print("hamilton.mp4: persons written "
                  + ", ".join(f"--reid {reid} {len({r['face'] for r in rows})}" for reid, (_, _, rows) in runs.items())
                  + "; frames/s " + ", ".join(f"{reid} {fps:.1f}" for reid, (fps, _, _) in runs.items())
                  + f" ({runs['on'][0] / runs['off'][0]:.0%}); whole process "
                  + ", ".join(f"{reid} {seconds:.2f} s" for reid, (_, seconds, _) in runs.items()))
    if args.fit:
        fit(args.data)


if __name__ == "__main__":
    main()
