"""What a Dask worker does: build the recognizer once per worker process (a WorkerPlugin,
whose setup runs again on a restarted worker and on one that joins later; it carries the
model's bytes, never a loaded model or interpreter), then analyse one video per task with
the app's own pipeline, and send the results back."""
import dataclasses
import functools
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from distributed import WorkerPlugin, get_worker

from app.detectors import YUNET_SCORE, YUNET_TRACK_SCORE, make_detector
from app.outputs import Outputs
from app.pipeline import Recognizer, Settings, run_stream
from app.reid import SFACE_MODEL, FaceEmbedder
from app.run_stats import RunStats
from app.sources import SourceError, open_capture, parse_source, silence_opencv
from app.tracking import LABEL_MARGIN, SCAN_EVERY
from batch_analysis.shipping import unpack_model
from inference.runtimes import load_classifier

PLUGIN = "emotion-recognizer"


@dataclass(frozen=True)
class AnalysisOptions:
    """How every video of a batch is analysed: main.py's options that apply to recordings."""
    model: Path
    runtime: str = "auto"
    detector: str = "yunet"
    score_threshold: float = YUNET_SCORE
    track_score: float = YUNET_TRACK_SCORE
    tta: bool = False
    light_fix: str = "stretch"
    smooth: float = 0.4
    scan_every: int = SCAN_EVERY
    label_margin: float = LABEL_MARGIN
    reid: str = "on"
    min_face_size: int = 48
    detect_width: int = 640


def build_recognizer(options, threads=1, yunet_model=None, sface_model=None):
    """The detector, classifier and (with reid on) face embedder of `options`; (recognizer, runtime chosen)."""
    detector = make_detector(options.detector, options.min_face_size, options.detect_width,
                             score_threshold=options.score_threshold, track_score=options.track_score,
                             yunet_model=yunet_model)
    classifier, class_names, runtime = load_classifier(options.model, options.runtime, threads)
    embedder = FaceEmbedder(sface_model or SFACE_MODEL, yunet_model, threads) if options.reid == "on" else None
    return Recognizer(detector, classifier, class_names, tta=options.tta, light_fix=options.light_fix,
                      embedder=embedder), runtime


class RecognizerPlugin(WorkerPlugin):
    """Loads the recognizer in each worker process, once, with one thread: with as many
    single-threaded workers as cores, more threads each only compete (measured 5-12% slower).
    `files` are the model's and the detector's (shipping.model_files), written to the
    worker's own folder: the worker needs no copy of the project. None: the embedded
    cluster's workers read them where `options` says."""

    name = PLUGIN

    def __init__(self, options, files=None):
        self.options, self.files = options, files
        self.recognizer = None

    def setup(self, worker):
        import cv2
        cv2.setNumThreads(1)
        silence_opencv()   # a video that fails is reported once, by batch.py, not by FFmpeg too
        yunet = sface = None
        if self.files is not None:
            model, yunet, sface = unpack_model(self.files, worker.local_directory)
            self.options = dataclasses.replace(self.options, model=model)
        self.recognizer, _ = build_recognizer(self.options, threads=1, yunet_model=yunet, sface_model=sface)


def analyse_on_worker(source, annotate_to=None):
    """A Dask task: one video analysed by this worker's recognizer."""
    plugin = get_worker().plugins[PLUGIN]
    return analyse_video(source, plugin.recognizer, plugin.options, annotate_to)


def analyse_video(source, recognizer, options, annotate_to=None):
    """Run the app's pipeline over one video file or stream; its results as plain data.

    With `annotate_to`, the annotated video is written beside it under a name of its own
    (NAME.<attempt>.partial.mp4) and renamed when complete: an attempt that dies leaves
    only a partial file, and two attempts never write to one file.
    """
    parsed = parse_source(source)
    if parsed.kind not in ("video", "stream"):
        raise SourceError(f"{source} is not a video")
    partial = None
    if annotate_to is not None:
        annotate_to = Path(annotate_to)
        partial = annotate_to.with_name(f"{annotate_to.stem}.{uuid.uuid4().hex[:8]}.partial{annotate_to.suffix}")
    stats = RunStats(keep_rows=True)
    # one decoding thread: a worker is one core's worth, and FFmpeg's own threads would
    # take another worker's core (docs/REALTIME.md, Batch on a real cluster)
    run_stream(parsed, recognizer, Outputs(video=partial, progress=False),
               Settings(smooth=options.smooth, scan_every=options.scan_every, label_margin=options.label_margin,
                        read_ahead=False), stats, opener=functools.partial(open_capture, decode_threads=1))
    if stats.frames == 0:
        raise SourceError(f"no frame could be read from {source}")
    if partial is not None and partial.exists():
        os.replace(partial, annotate_to)
    return {"frames": stats.frames, "duration_s": stats.frames / stats.video_fps if stats.video_fps else None,
            "seconds": stats.seconds, "rows": stats.rows, "tracks": stats.tracks,
            "class_names": list(recognizer.class_names), "corrupt_frames": stats.corrupt_frames,
            "ended_by": stats.ended_by}
