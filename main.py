"""Label the emotion of every face in a webcam, video, stream, image or folder of images.

    python main.py                                  # webcam 0, in a window
    python main.py --source clip.mp4 --output labelled.mp4 --csv faces.csv --plot emotions.png
    python main.py --source photos/ --output labelled/ --no-display

q or Esc closes the window; Ctrl-C stops and keeps everything written so far.
"""
import argparse
import sys
from pathlib import Path

from quiet import import_keras_quietly

import_keras_quietly()  # before Keras is imported below

import pandas as pd  # noqa: E402

import plots  # noqa: E402
from data import LIGHT_FIXES  # noqa: E402
from interrupt import StopRequest, run_main  # noqa: E402
from model import load_trained_model  # noqa: E402
from video import (FaceDetector, Outputs, Recognizer, RunStats, SourceError, csv_header,  # noqa: E402
                   has_display, parse_source, run_images, run_stream)

ROOT = Path(__file__).parent


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Facial emotion recognition on video and images.",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--source", default="0",
                        help="camera index, video file, stream URL, image file or folder of images")
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "modelTrained.h5",
                        help="trained model (its class names are read from NAME.labels.json beside it)")
    parser.add_argument("--cascade", type=Path, default=ROOT / "haarcascade_frontalface_default.xml",
                        help="OpenCV Haar cascade for face detection")
    parser.add_argument("--scale-factor", type=float, default=1.15,
                        help="Haar pyramid step (> 1; smaller finds more faces, slower)")
    parser.add_argument("--min-neighbors", type=int, default=4,
                        help="Haar detections needed to keep a face (higher: fewer false faces)")
    parser.add_argument("--min-face-size", type=int, default=48, help="smallest face, in input pixels")
    parser.add_argument("--detect-width", type=int, default=640,
                        help="frames wider than this are downscaled for detection (0: never)")
    parser.add_argument("--output", type=Path,
                        help="annotated video file, or image file/folder for image sources")
    parser.add_argument("--csv", type=Path, help="one row per face per frame")
    parser.add_argument("--plot", type=Path, help="chart of emotion over time (PNG)")
    parser.add_argument("--show-probs", action="store_true", help="draw a bar per emotion beside each face")
    parser.add_argument("--smooth", type=float, nargs="?", const=0.6, default=0.0, metavar="WEIGHT",
                        help="average each face's emotion over frames; WEIGHT in [0, 1) is the share "
                             "kept from the past (flag alone: 0.6; video only)")
    parser.add_argument("--tta", action="store_true",
                        help="average 8 views of each face: as is and mirrored, rotated and zoomed "
                             "(+0.5 to 1 point on FER-2013; ~15 ms instead of ~6 per face)")
    parser.add_argument("--light-fix", choices=LIGHT_FIXES, default="none",
                        help="lighting remedy for each face crop (see README: low light)")
    parser.add_argument("--no-display", action="store_true",
                        help="no window (chosen automatically when there is no display)")
    args = parser.parse_args(argv)
    if args.scale_factor <= 1.0:
        parser.error("--scale-factor must be greater than 1")
    if not 0.0 <= args.smooth < 1.0:
        parser.error("--smooth must be in [0, 1)")
    return args


def check_output_paths(args):
    for path in (args.csv, args.plot):
        if path is not None and not path.parent.exists():
            raise FileNotFoundError(f"output folder does not exist: {path.parent}")


def print_summary(stats, class_names):
    print(f"\nframes: {stats.frames}  faces: {stats.faces}  "
          f"speed: {stats.fps:.1f} frames/s  corrupt frames skipped: {stats.corrupt_frames}")
    if stats.faces:
        shares = ", ".join(f"{name} {stats.label_counts.get(name, 0) / stats.faces:.0%}"
                           for name in class_names)
        print(f"emotions: {shares}")


def save_plot(stats, class_names, path):
    faces = pd.DataFrame(stats.rows, columns=csv_header(class_names))
    print(f"plot: {plots.plot_emotion_timeline(faces, class_names, path)}")


def main(argv=None):
    args = parse_args(argv)
    try:
        source = parse_source(args.source)
        check_output_paths(args)
        detector = FaceDetector(args.cascade, args.scale_factor, args.min_neighbors,
                                args.min_face_size, args.detect_width)
        model, class_names = load_trained_model(args.model)
    except (SourceError, FileNotFoundError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    display = not args.no_display and has_display()
    outputs = Outputs(video=args.output, csv=args.csv, display=display, show_probs=args.show_probs,
                      smooth=args.smooth if source.kind != "images" else 0.0,
                      progress=not display)
    recognizer = Recognizer(detector, model, class_names, tta=args.tta, light_fix=args.light_fix)
    stats = RunStats(keep_rows=args.plot is not None)
    run = run_images if source.kind == "images" else run_stream
    # Ctrl-C and SIGTERM end a run after the current frame: outputs are closed, nothing is lost.
    stop = StopRequest()
    stop.install()
    try:
        run(source, recognizer, outputs, stats, stop)
    except SourceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:   # a second Ctrl-C
        stop.requested = True
    if stop.requested:
        print("\nInterrupted: outputs closed with everything processed so far.")
    print_summary(stats, class_names)
    for what, path in (("video" if source.kind != "images" else "images", args.output), ("csv", args.csv)):
        if path:
            print(f"{what}: {path}")
    if args.plot:
        save_plot(stats, class_names, args.plot)
    return 0


if __name__ == "__main__":
    run_main(main)
