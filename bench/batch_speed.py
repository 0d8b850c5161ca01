"""batch.py against main.py run on each video in turn (with --csv alone, and with the
outputs batch.py writes: --csv --people --plot), 1 against 2 workers, the embedded
cluster's start-up, and each worker's peak memory, side by side in one run.

    python bench/batch_speed.py [--videos 4] [--seconds 10 20] [--data ../shared/data/fer2013]

Makes its own 1280x720, 30 fps videos of real FER-2013 faces (the benchmark footage of
bench/video_fps.py, continuous), from --seconds' shortest to longest. Every timing is a
whole process, start-up included, best of --repeats, the rows taking turns.
"""
import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import data  # noqa: E402
from artefacts import DEFAULT_MODEL  # noqa: E402
from tests.footage import load_labelled_faces, write_scene_video  # noqa: E402


def seconds_of(command, cwd):
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=cwd)
    return time.perf_counter() - start


def peak_memory(videos, workers, model):
    """(seconds to start the embedded cluster, each worker's peak resident memory in MiB after
    the batch), in this process."""
    from batch_analysis.engine import analyse_all, start_local
    from batch_analysis.worker import AnalysisOptions
    start = time.perf_counter()
    client, cluster = start_local(workers)
    client.wait_for_workers(workers)
    started = time.perf_counter() - start
    with client:
        analyse_all(client, AnalysisOptions(model=model), [(v.stem, str(v), None) for v in videos],
                    lambda name, result, error: None)
        peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    cluster.close()
    return started, sorted(peaks.values())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--seconds", type=float, nargs=2, default=(10, 20), metavar=("SHORTEST", "LONGEST"))
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--data", type=Path, default=data.DEFAULT_DATA)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    args = parser.parse_args()
    faces, _ = load_labelled_faces(args.data, per_class=10)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "videos"
        folder.mkdir()
        videos = []
        for i, length in enumerate(np.linspace(*args.seconds, args.videos)):
            path = folder / f"video{i}.mp4"
            write_scene_video(path, faces[i:] + faces[:i], frames=int(length * 30), faces_per_frame=None)
            videos.append(path)
        frames = sum(int(length * 30) for length in np.linspace(*args.seconds, args.videos))
        print(f"{len(videos)} videos of {args.seconds[0]:g}-{args.seconds[1]:g} s, 1280x720, {frames} frames", flush=True)
        main_py = [sys.executable, str(ROOT / "main.py"), "--no-display", "--csv", str(Path(tmp) / "main.csv")]
        same_outputs = ["--people", str(Path(tmp) / "main.people.csv"), "--plot", str(Path(tmp) / "main.png")]
        rows = {
            "main.py on each video in turn": lambda: sum(
                seconds_of(main_py + ["--source", str(v)], ROOT) for v in videos),
            "the same, with --people --plot": lambda: sum(
                seconds_of(main_py + ["--source", str(v)] + same_outputs, ROOT) for v in videos),
        }
        for workers in (1, 2):
            def run_batch(workers=workers):
                out = Path(tmp) / f"out{workers}"
                shutil.rmtree(out, ignore_errors=True)
                return seconds_of([sys.executable, str(ROOT / "batch.py"), str(folder), "--out", str(out),
                                   "--workers", str(workers)], ROOT)
            rows[f"batch.py --workers {workers}"] = run_batch
        best = {}
        for _ in range(args.repeats):
            for name, run in rows.items():
                best[name] = min(best.get(name, float("inf")), run())
        sequential = best["main.py on each video in turn"]
        same = best["the same, with --people --plot"]
        print(f"\n{'':32}{'seconds':>9}{'frames/s':>10}{'vs main.py':>12}{'vs the same outputs':>21}")
        for name, seconds in best.items():
            print(f"{name:32}{seconds:9.1f}{frames / seconds:10.1f}{sequential / seconds:11.2f}x"
                  f"{same / seconds:20.2f}x")
        for workers in (1, 2):
            started, peaks = peak_memory(videos, workers, args.model)
            print(f"embedded cluster, {workers} worker(s): started in {started:.1f} s; peak memory per worker "
                  + ", ".join(f"{peak:.0f} MiB" for peak in peaks))


if __name__ == "__main__":
    main()
