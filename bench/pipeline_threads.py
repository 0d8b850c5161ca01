"""The app's pipeline in one thread against two (reading and tracking in a worker thread).

    python bench/pipeline_threads.py [--frames 300] [--data ../shared/data/fer2013]

Runs app.pipeline.run_stream in-process (no start-up), headless, writing the CSV, on the two
videos of bench/video_fps.py, with each runtime the app can use, and prints frames per
second for each combination, interleaved so that both see the same machine.
"""
import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import data  # noqa: E402
from artefacts import DEFAULT_MODEL  # noqa: E402
from tests.footage import load_labelled_faces, write_scene_video  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--data", type=Path, default=data.DEFAULT_DATA)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    args = parser.parse_args()
    from app.detectors import HaarDetector
    from app.outputs import Outputs
    from app.pipeline import Recognizer, Settings, run_stream
    from app.run_stats import RunStats
    from app.sources import parse_source
    from inference.runtimes import load_classifier
    faces, _ = load_labelled_faces(args.data, per_class=10)
    with tempfile.TemporaryDirectory() as tmp:
        for name, cut_every in (("continuous", 0), ("cuts", 15)):
            video = Path(tmp) / f"{name}.mp4"
            write_scene_video(video, faces, frames=args.frames, cut_every=cut_every, faces_per_frame=None)
            for runtime in ("litert-int8", "litert"):
                classifier, class_names, _ = load_classifier(args.model, runtime)
                fps = {}
                for background in (False, True, False, True):
                    recognizer = Recognizer(HaarDetector(ROOT / "haarcascade_frontalface_default.xml"),
                                            classifier, class_names)
                    stats = RunStats()
                    run_stream(parse_source(video), recognizer, Outputs(csv=Path(tmp) / "f.csv", progress=False),
                               Settings(smooth=0.6, scan_every=15, read_ahead=background), stats)
                    fps.setdefault(background, []).append(stats.fps)
                one, two = max(fps[False]), max(fps[True])
                print(f"{name:11} {runtime:12} one thread {one:5.1f} fps, two threads {two:5.1f} fps "
                      f"({two / one:.2f}x; best of 2)", flush=True)


if __name__ == "__main__":
    main()
