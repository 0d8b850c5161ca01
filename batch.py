"""Analyse many recordings at once: per-video CSVs, people and timelines, and one report.

    python batch.py recordings/ --out results/                  # every video below recordings/
    python batch.py a.mp4 b.mp4 list.txt --out results/ --annotate
    python batch.py recordings/ --out results/ --scheduler tcp://10.0.0.5:8786   # a running Dask cluster

Runs on an embedded Dask cluster (one single-threaded worker process per core) unless
--scheduler names a running one. A video whose outputs are already in --out is skipped
(--redo: analyse it again); Ctrl-C stops, keeping every video finished so far, and the
same command goes on. The exit status is 1 when any input failed.
"""
import dataclasses
import os
import sys
from pathlib import Path

from app.detectors import DETECTORS, YUNET_SCORE, YUNET_TRACK_SCORE
from app.options import DEFAULT_SMOOTH
from app.tracking import LABEL_MARGIN, SCAN_EVERY
from batch_analysis import video_files
from batch_analysis.engine import EngineError, analyse_all, connect, scheduler_address, start_local
from batch_analysis.inputs import InputError, expand_inputs, output_names
from batch_analysis.progress import BatchProgress
from batch_analysis.report import write_report
from batch_analysis.summary import summary_table, write_summary
from batch_analysis.worker import AnalysisOptions, build_recognizer
from common.arguments import Parser, add_classifier_options, check_writable, number, positive
from common.entry_point import run_main
from common.stopping import terminate_as_ctrl_c


def parse_args(argv=None):
    parser = Parser(description="Analyse many recordings: per-video results, per-person summaries, one report.")
    parser.add_argument("inputs", nargs="*", metavar="INPUT",
                        help="video files, folders of videos (searched recursively), .txt files listing "
                             "one path or URL a line")
    parser.add_argument("--out", type=Path, required=True, help="folder for the results (made if missing)")
    parser.add_argument("--workers", type=positive(int), default=os.cpu_count() or 1,
                        help="worker processes of the embedded cluster, one thread each; by default one per core")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="a running Dask scheduler (tcp://HOST:PORT) instead of the embedded cluster (default: "
                             "Dask's DASK_SCHEDULER_ADDRESS if set); it is sent the code and the model, and "
                             "its workers must read the inputs (and, with --annotate, write --out)")
    parser.add_argument("--annotate", action="store_true",
                        help="also write NAME.mp4, the annotated video (written by the workers into --out)")
    parser.add_argument("--redo", action="store_true", help="analyse videos whose outputs are already there")
    add_classifier_options(parser)
    parser.add_argument("--detector", choices=DETECTORS, default="yunet", help="face detector")
    parser.add_argument("--score-threshold", type=number(float, 0.0, 1.0, low_open=True, high_open=True),
                        default=YUNET_SCORE, help="yunet: lowest score of a new face")
    parser.add_argument("--track-score", type=number(float, 0.0, 1.0, low_open=True, high_open=True),
                        default=YUNET_TRACK_SCORE, help="yunet: lowest score that continues a face already followed")
    parser.add_argument("--smooth", type=number(float, 0.0, 1.0, high_open=True), default=DEFAULT_SMOOTH,
                        metavar="WEIGHT", help="share of each face's past kept in its probabilities (0: off)")
    parser.add_argument("--label-margin", type=number(float, 0.0, 1.0), default=LABEL_MARGIN,
                        help="a face's label changes only when another emotion leads it by this much")
    parser.add_argument("--reid", choices=("on", "off"), default="on",
                        help="a face that comes back keeps its person's number (SFace; see main.py --help)")
    parser.add_argument("--scan-every", type=positive(int), default=SCAN_EVERY,
                        help="full-frame detection every N frames (and at once on a cut or a new face)")
    args = parser.parse_args(argv)
    if not args.inputs:
        parser.error("no inputs: give video files, folders or .txt lists")
    return args


def prepare_folder(folder):
    """Make --out and check it can be written, before any work."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OSError(f"cannot make --out {folder}: {error.strerror}") from None
    check_writable(folder / "summary.csv", "--out folder")


def main(argv=None):
    args = parse_args(argv)
    options = AnalysisOptions(model=args.model.resolve(), runtime=args.runtime, detector=args.detector,
                              score_threshold=args.score_threshold, track_score=args.track_score, tta=args.tta,
                              light_fix=args.light_fix, smooth=args.smooth, scan_every=args.scan_every,
                              label_margin=args.label_margin, reid=args.reid)
    try:
        sources = expand_inputs(args.inputs)
        prepare_folder(args.out)
        # the model and detector load here, or the error is one line now; the workers get the runtime chosen
        options = dataclasses.replace(options, runtime=build_recognizer(options)[1])
    except (InputError, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    out = args.out.resolve()
    names = output_names(sources)
    video_files.remove_partials(out)
    done = {name for name in names.values() if not args.redo and video_files.is_complete(out, name, args.annotate)}
    jobs = [(names[s], s, video_files.video_paths(out, names[s])["video"] if args.annotate else None)
            for s in sources if names[s] not in done]
    jobs.sort(key=lambda job: -file_size(job[1]))   # longest first: the workers finish closer together
    print(f"{len(sources)} videos: {len(done)} already done, {len(jobs)} to analyse", flush=True)
    statuses = {name: "skipped" for name in done}
    interrupted = False
    if jobs:
        try:
            interrupted = run(args, out, options, jobs, statuses)
        except EngineError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    table = summary_table(out, statuses)
    summary, report = write_summary(out, table), write_report(out, table)
    failed = table[table["status"] == "failed"]
    for _, row in failed.iterrows():
        print(f"failed: {row['name']} ({row['path']}): {row['error']}", file=sys.stderr)
    counts = {status: list(statuses.values()).count(status) for status in ("ok", "failed", "skipped")}
    print(f"this run: {counts['ok']} ok, {counts['failed']} failed, {counts['skipped']} skipped; "
          f"summary: {summary}; report: {report}")
    if interrupted:
        print("Interrupted: every video finished so far is complete in --out; the same command goes on.")
        return 130
    return 1 if counts["failed"] else 0


def file_size(source):
    """A local file's size in bytes (a video's length, roughly); 0 for a URL or a missing file."""
    try:
        return os.path.getsize(source)
    except OSError:
        return 0


def run(args, out, options, jobs, statuses):
    """Analyse the jobs on the chosen cluster, writing each video's outputs as it comes back;
    True when Ctrl-C cut it short."""
    progress = BatchProgress(len(jobs))
    sources = {name: source for name, source, _ in jobs}

    def on_done(name, result, error):
        if error is None:
            video_files.write_results(out, name, sources[name], result)
            statuses[name] = "ok"
        else:
            video_files.write_failure(out, name, sources[name], error)
            statuses[name] = "failed"
        progress.update(result["frames"] if result else 0)

    cluster = None
    try:
        address = scheduler_address(args.scheduler)
        if address:
            client = connect(address)
            if client.dashboard_link:
                print(f"cluster at {address}: dashboard {client.dashboard_link}", flush=True)
        else:
            client, cluster = start_local(args.workers)
        with client, terminate_as_ctrl_c():
            analyse_all(client, options, jobs, on_done, remote=cluster is None)
    except KeyboardInterrupt:
        return True
    finally:
        progress.close()
        if cluster is not None:
            cluster.close()
        video_files.remove_partials(out)
    return False


if __name__ == "__main__":
    run_main(main)
