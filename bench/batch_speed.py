"""batch.py against main.py run on each video in turn (with --csv alone, and with the
outputs batch.py writes: --csv --people --plot), 1 against 2 workers and the scaling
efficiency (videos an hour per worker), then where a batch's time goes (the embedded
cluster's start-up, sending the code and model, analysis, the client's writing) and each
worker's peak memory, side by side in one run; last, how far this machine itself lets two
single-threaded processes scale.

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


def in_process_batch(videos, workers, model, out):
    """One batch in this process, as batch.py runs it, with its parts timed: a dict of the
    seconds to start the embedded cluster, to send it the code and the model, to analyse
    (from then to the last video back), of that spent writing the results here, the workers'
    own analysis seconds added up, and each worker's peak resident memory in MiB."""
    from batch_analysis import engine, video_files
    from batch_analysis.worker import AnalysisOptions
    timings = {"writing": 0.0, "worker seconds": 0.0}
    start = time.perf_counter()
    client, cluster = engine.start_local(workers)
    client.wait_for_workers(workers)
    timings["start"] = time.perf_counter() - start
    register_plugin = client.register_plugin

    def timed_register(*args, **kwargs):   # the model to the workers, and their loading it
        register_plugin(*args, **kwargs)
        timings["sent"] = time.perf_counter()

    def on_done(name, result, error):
        begin = time.perf_counter()
        video_files.write_results(out, name, name, result)
        timings["writing"] += time.perf_counter() - begin
        timings["worker seconds"] += result["seconds"]

    client.register_plugin = timed_register
    try:
        with client:
            begin = time.perf_counter()
            engine.analyse_all(client, AnalysisOptions(model=model), [(v.stem, str(v), None) for v in videos], on_done)
            timings["send"] = timings["sent"] - begin
            timings["analysis"] = time.perf_counter() - timings["sent"]
            peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    finally:
        cluster.close()
    timings["peaks"] = sorted(peaks.values())
    return timings


# One core's work that resembles a worker's: YuNet scans of a 640x360 frame, one thread.
CORE_WORK = """
import sys, time, cv2, numpy as np
cv2.setNumThreads(1)
net = cv2.FaceDetectorYN.create(sys.argv[1], "", (640, 360), 0.7, 0.3, 100)
frame = np.random.default_rng(0).integers(0, 255, (360, 640, 3), dtype=np.uint8)
started = time.perf_counter()
for _ in range(150):
    net.detect(frame)
print(time.perf_counter() - started)
"""


def machine_scaling():
    """How this machine itself scales from one busy core to two: the seconds of CORE_WORK
    alone, against each of two copies run at once (1.0: two cores that do not slow each other)."""
    from app.detectors import YUNET_MODEL
    command = [sys.executable, "-c", CORE_WORK, str(YUNET_MODEL)]

    def run(copies):
        processes = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(copies)]
        return max(float(process.communicate()[0]) for process in processes)
    alone = min(run(1) for _ in range(2))
    together = min(run(2) for _ in range(2))
    return alone / together


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
        hours = {workers: best[f"batch.py --workers {workers}"] / 3600 for workers in (1, 2)}
        print(f"\nscaling, whole process: {len(videos) / hours[1]:.0f} videos an hour with 1 worker, "
              f"{len(videos) / hours[2] / 2:.0f} an hour per worker with 2: efficiency "
              f"{hours[1] / hours[2] / 2:.0%}")
        print(f"\nin-process batches (best of {args.repeats}), where the time goes:")
        print(f"{'':12}{'start':>7}{'send':>7}{'analysis':>10}{'writing':>9}{'workers busy':>14}{'efficiency':>12}"
              f"  peak memory per worker")
        parts = {}
        for _ in range(args.repeats):
            for workers in (1, 2):
                out = Path(tmp) / f"parts{workers}"
                shutil.rmtree(out, ignore_errors=True)
                out.mkdir()
                timings = in_process_batch(videos, workers, args.model, out)
                if workers not in parts or timings["analysis"] < parts[workers]["analysis"]:
                    parts[workers] = timings
        for workers, timings in parts.items():
            busy = timings["worker seconds"] / (workers * timings["analysis"])
            efficiency = parts[1]["analysis"] / (workers * timings["analysis"])
            print(f"{workers} worker(s){timings['start']:7.2f}{timings['send']:7.2f}{timings['analysis']:10.2f}"
                  f"{timings['writing']:9.2f}{busy:14.0%}{efficiency:12.0%}  "
                  + ", ".join(f"{peak:.0f} MiB" for peak in timings["peaks"]))
        print("(seconds; send: the model to the workers and their loading it; analysis: from then to "
              "the last video back, writing included; workers busy: their own analysis time, of the analysis "
              "time; efficiency: videos an hour per worker against 1 worker, in the analysis)")
        print(f"\nthe machine itself: two single-threaded processes of YuNet scans at once each run at "
              f"{machine_scaling():.0%} of one alone's speed (the most two workers can scale here)")


if __name__ == "__main__":
    main()
