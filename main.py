"""Label the emotion of every face in a webcam, video, stream, image or folder of images.

    python main.py                                  # webcam 0, in a window
    python main.py --source clip.mp4 --output labelled.mp4 --csv faces.csv --plot emotions.png
    python main.py --source photos/ --output labelled/ --no-display

Each face in a video gets its person's number ("#3 happy 87%"), which it keeps while in view
and gets again when it comes back after leaving the picture or a cut (--reid). q or Esc
closes the window; Ctrl-C stops and keeps everything written so far.
"""
import sys
from pathlib import Path

from app.options import (DEFAULT_SMOOTH, RUNTIME_NAMES, add_analysis_options, build_recognizer,
                         check_analysis_options)
from app.outputs import OutputError, Outputs, csv_header
from app.people import people_rows, write_people
from app.pipeline import Settings, run_images, run_stream
from app.run_stats import RunStats
from app.sources import SourceError, parse_source, silence_opencv
from app.window import has_display
from common.arguments import Parser, check_writable, non_negative
from common.entry_point import run_main
from common.stopping import StopRequest


def parse_args(argv=None):
    parser = Parser(description="Facial emotion recognition on video and images.")
    parser.add_argument("--source", default="0",
                        help="camera index, video file, stream URL, image file or folder of images")
    add_analysis_options(parser)
    parser.add_argument("--output", type=Path,
                        help="annotated video file, or image file/folder for image sources")
    parser.add_argument("--csv", type=Path,
                        help="one row per face per frame (face: the person's number; in images, its place)")
    parser.add_argument("--plot", type=Path, help="chart of emotion over time (PNG)")
    parser.add_argument("--people", type=Path,
                        help="one row per person: first and last time seen, time on screen, frames, dominant "
                             "emotion and the share of each emotion (CSV)")
    parser.add_argument("--show-probs", action="store_true", help="draw a bar per emotion beside each face")
    parser.add_argument("--reconnect", type=non_negative(float), default=30.0, metavar="SECONDS",
                        help="network streams: keep reopening a dropped stream for this long (0: never)")
    parser.add_argument("--no-display", action="store_true",
                        help="no window (chosen automatically when there is no display)")
    args = parser.parse_args(argv)
    check_analysis_options(parser, args)
    return args


def print_summary(stats, class_names, max_people=30):
    print(f"\nframes: {stats.frames}  faces: {stats.faces}  speed: {stats.fps:.1f} frames/s  "
          f"corrupt frames skipped: {stats.corrupt_frames}"
          + (f"  reconnections: {stats.reconnects}" if stats.reconnects else ""))
    if stats.faces:
        print("emotions: " + shares(stats.label_counts, class_names))
    rows = people_rows(stats.tracks, class_names, stats.video_fps)
    if rows:
        listed = sorted(sorted(rows, key=lambda r: -r[4])[:max_people], key=lambda r: r[0])
        print(f"people: {len(rows)} (in {len(stats.tracks)} tracks)")
        for number, first, last, _, frames, dominant, *share in listed:
            counts = {name: value for name, value in zip(class_names, share)}
            print(f"  #{number:<4} {first:7.1f}-{last:.1f} s  {frames:5d} frames  {dominant:9s} "
                  f"({shares(counts, class_names, skip_zero=True)})")
        if len(rows) > len(listed):
            print(f"  ... and {len(rows) - len(listed)} people seen less (all are in the CSV)")


def shares(label_counts, class_names, skip_zero=False):
    """'happy 80%, sad 20%': each class's share of the labels, in class order."""
    total = sum(label_counts.values())
    return ", ".join(f"{name} {label_counts.get(name, 0) / total:.0%}" for name in class_names
                     if not (skip_zero and not label_counts.get(name)))


def save_plot(stats, class_names, path):
    import pandas as pd   # only here: importing pandas and matplotlib costs ~1 s at start-up

    from common import plots
    faces = pd.DataFrame(stats.rows, columns=csv_header(class_names))
    print(f"plot: {plots.plot_emotion_timeline(faces, class_names, path)}")


def main(argv=None):
    args = parse_args(argv)
    silence_opencv()
    try:
        source = parse_source(args.source)
        check_writable(args.csv, "CSV")
        check_writable(args.plot, "plot")
        check_writable(args.people, "people CSV")
        recognizer, runtime = build_recognizer(args, video=source.kind != "images")
    except (SourceError, FileNotFoundError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    class_names = recognizer.class_names
    display = not args.no_display and has_display()
    smooth = args.smooth if args.smooth is not None else DEFAULT_SMOOTH
    outputs = Outputs(video=args.output, csv=args.csv, display=display, progress=not display)
    settings = Settings(smooth=smooth if source.kind != "images" else 0.0, show_probs=args.show_probs,
                        scan_every=args.scan_every, reconnect=args.reconnect, label_margin=args.label_margin)
    stats = RunStats(keep_rows=args.plot is not None)
    print(f"model: {args.model.name} ({RUNTIME_NAMES[runtime]})", flush=True)
    run = run_images if source.kind == "images" else run_stream
    # Ctrl-C and SIGTERM end a run after the current frame: outputs are closed, nothing is lost.
    stop = StopRequest()
    stop.install()
    try:
        run(source, recognizer, outputs, settings, stats, stop)
    except (SourceError, OutputError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:   # a second Ctrl-C
        stop.requested = True
    if stop.requested:
        print("\nInterrupted: outputs closed with everything processed so far.")
    elif stats.ended_by:
        print(f"\n{stats.ended_by}: outputs closed with everything processed so far.")
    print_summary(stats, class_names)
    for what, path in (("video" if source.kind != "images" else "images", args.output), ("csv", args.csv)):
        if path:
            print(f"{what}: {path}")
    if args.people:
        write_people(args.people, class_names, people_rows(stats.tracks, class_names, stats.video_fps))
        print(f"people: {args.people}")
    if args.plot:
        save_plot(stats, class_names, args.plot)
    return 0


if __name__ == "__main__":
    run_main(main)
