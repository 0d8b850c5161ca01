"""The recognition pipeline behind `main.py`: faces found and classified, frame after frame,
written to the outputs (window, annotated video or images, per-face CSV) and counted.

Each video frame: read -> grey -> track the faces (app/tracking.py) -> classify every face
in one batch -> smooth per track -> CSV -> draw -> show / write. A track is drawn once it
has its number (confirmed, and with re-identification identified); the rows of each frame
wait until every track in it has its number or has ended as a blip, so that a track's first
frames are written too, in frame order (`ConfirmedRows`).
Images are unrelated to each other: each gets a full detection and no tracking.
"""
import time
from collections import deque
from dataclasses import dataclass

import cv2

from app.drawing import draw_faces, draw_fps
from app.face_crops import crop_faces
from app.outputs import CsvLog, OutputError, Progress, image_output_path, open_video_writer
from app.read_ahead import read_ahead
from app.reid import People
from app.sources import SourceError, VideoInput, read_images
from app.tracking import LABEL_MARGIN, SCAN_EVERY, FaceTracker
from app.window import QUIT_KEYS, RecentRate, show, show_until_key
from data import preprocess_faces, to_gray
from inference.runtimes import predict_proba


@dataclass
class Settings:
    """How a run processes its frames (the outputs it writes are `Outputs`)."""
    smooth: float = 0.0            # share of each track's past kept in its probabilities
    show_probs: bool = False       # draw a bar per class beside each face
    scan_every: int = SCAN_EVERY   # frames between full-frame detections (app/tracking.py)
    label_margin: float = LABEL_MARGIN   # lead another emotion needs to change a face's label
    reconnect: float = 0.0         # seconds to keep reopening a dropped stream
    read_ahead: bool = True        # read and track in a worker thread (docs/REALTIME.md)


class Recognizer:
    """Detector + classifier: finds faces and gives each the class probabilities."""

    def __init__(self, detector, classifier, class_names, tta=False, light_fix="stretch", embedder=None):
        """`embedder` (app/reid.py's FaceEmbedder; None: off): video faces are numbered by person."""
        self.detector, self.classifier, self.class_names = detector, classifier, class_names
        self.tta, self.light_fix, self.embedder = tta, light_fix, embedder

    def classify(self, gray, boxes):
        """Probabilities (faces, classes) for every box, in one batched call."""
        faces = preprocess_faces(crop_faces(gray, boxes), self.light_fix)
        return predict_proba(self.classifier, faces, tta=self.tta)

    def __call__(self, image):
        """(boxes, probabilities) of every face in one image, by a full detection."""
        gray = to_gray(image)
        boxes = self.detector.detect(gray)
        return boxes, self.classify(gray, boxes)


def tracked_frames(video_input, tracker, stop=None):
    """(index, time_s, frame, grey frame, [(track, box)]) for each frame of the input."""
    started = time.perf_counter()
    for index, frame in enumerate(video_input.frames(stop)):
        if video_input.source.kind == "video":
            time_s = index / video_input.fps
        else:
            time_s = time.perf_counter() - started
        gray = to_gray(frame)
        found = tracker.update(gray, time_s, frame)
        yield index, time_s, frame, gray, [(track, track.box) for track in found]


class ConfirmedRows:
    """Each frame's faces held back until every track among them is settled: numbered, or
    ended unnumbered (a blip). Then the faces of numbered tracks are let through, so a
    track's first frames are written too and the CSV stays in frame order. A new track is
    settled MIN_HITS - 1 frames after its first, or with re-identification once identified
    (tracking.IDENTIFY_AT: a quarter of a second at 30 frames/s)."""

    def __init__(self):
        self.frames = deque()

    def add(self, index, time_s, faces):
        """Hold this frame's faces [(track, box, probabilities, label index)]; returns the
        frames now due: [(index, time_s, faces of numbered tracks)]."""
        self.frames.append((index, time_s, faces))
        due = []
        while self.frames and all(face[0].settled for face in self.frames[0][2]):
            due.append(self._confirmed(self.frames.popleft()))
        return due

    def drain(self):
        """Every frame still held (at the end of a run)."""
        due = [self._confirmed(frame) for frame in self.frames]
        self.frames.clear()
        return due

    @staticmethod
    def _confirmed(frame):
        index, time_s, faces = frame
        return index, time_s, [face for face in faces if face[0].confirmed]


def record_frames(frames, stats, names, log):
    """Count frames made due by ConfirmedRows and write their rows to the CSV log (if any)."""
    for index, time_s, faces in frames:
        rows = stats.record(index, time_s, [f[0].number for f in faces], [f[1] for f in faces],
                            [f[2] for f in faces], names, [f[3] for f in faces])
        if log:
            log.write(rows)


def run_stream(source, recognizer, outputs, settings, stats, stop=None, opener=None):
    """Process a camera, video file or stream until it ends, q/Esc, or Ctrl-C.

    Reading and tracking run in a worker thread, a few frames ahead of the
    classification, drawing and writing here (`settings.read_ahead`).
    Everything opened is closed in `finally`, so an interrupted run leaves a
    playable video and a complete CSV of the frames processed so far.
    """
    pending = ConfirmedRows()
    video_input = VideoInput(source, settings.reconnect, **({"opener": opener} if opener else {}))
    names = recognizer.class_names
    people = People() if recognizer.embedder is not None else None
    tracker = FaceTracker(recognizer.detector, scan_every=settings.scan_every, embedder=recognizer.embedder,
                          people=people)
    progress = Progress(video_input.total) if outputs.progress and video_input.total > 0 else None
    rate = RecentRate()
    log = writer = None
    frames = tracked_frames(video_input, tracker, stop)
    if settings.read_ahead:
        frames = read_ahead(frames)
    started = time.perf_counter()
    try:
        log = CsvLog(outputs.csv, names) if outputs.csv else None
        for index, time_s, frame, gray, found in frames:
            if stop and stop.requested:   # frames read ahead are dropped: the run ends now
                break
            tracks, boxes = [t for t, _ in found], [b for _, b in found]
            probs = [t.observe(p, time_s, names, settings.smooth, settings.label_margin)
                     for t, p in zip(tracks, recognizer.classify(gray, boxes))]
            faces = [(t, b, p, t.label) for t, b, p in zip(tracks, boxes, probs)]
            record_frames(pending.add(index, time_s, faces), stats, names, log)
            if outputs.video or outputs.display:
                shown = [face for face in faces if face[0].confirmed]
                draw_faces(frame, [f[0].number for f in shown], [f[1] for f in shown], [f[2] for f in shown],
                           names, settings.show_probs, [f[3] for f in shown])
            if outputs.video:
                writer = writer or open_video_writer(outputs.video, video_input.fps, frame)
                writer.write(frame)
            if outputs.display:
                draw_fps(frame, rate.tick())
                if show(frame) & 0xFF in QUIT_KEYS:
                    break
            if progress:
                progress.update(index + 1)
        frames.close()
        tracker.identify_waiting()
        record_frames(pending.drain(), stats, names, log)
    finally:
        frames.close()   # stops the worker before the capture goes
        if pending.frames and not (log and log.failed):   # ended by an error or a second Ctrl-C
            try:
                tracker.identify_waiting()
                record_frames(pending.drain(), stats, names, log)
            except OutputError:
                pass   # the error under way says what went wrong
        stats.seconds = time.perf_counter() - started
        stats.tracks = tracker.finish()
        stats.corrupt_frames += video_input.corrupt_frames
        stats.reconnects = video_input.reconnects
        stats.ended_by = video_input.ended_by
        stats.video_fps = video_input.fps
        video_input.release()
        if writer:
            writer.release()
        if log:
            log.close()
        if progress:
            progress.close()
        if outputs.display:
            cv2.destroyAllWindows()


def run_images(source, recognizer, outputs, settings, stats, stop=None):
    """Label each image of the source; no tracking or smoothing (the images are unrelated)."""
    names = recognizer.class_names
    log = None
    started = time.perf_counter()
    try:
        log = CsvLog(outputs.csv, names) if outputs.csv else None
        for index, (path, image) in enumerate(read_images(source.target, stats)):
            if stop and stop.requested:
                break
            boxes, probs = recognizer(image)
            numbers = list(range(1, len(boxes) + 1))
            rows = stats.record(index, 0.0, numbers, boxes, probs, names)
            if log:
                log.write(rows)
            draw_faces(image, numbers, boxes, probs, names, settings.show_probs)
            if outputs.video:
                target = image_output_path(outputs.video, path, len(source.target))
                if not cv2.imwrite(str(target), image):
                    raise SourceError(f"cannot write image {target}")
            if outputs.display and show_until_key(image, stop):
                break
    finally:
        stats.seconds = time.perf_counter() - started
        if log:
            log.close()
        if outputs.display:
            cv2.destroyAllWindows()
