"""The recognition pipeline behind `main.py`: faces found and classified, frame after frame,
with the outputs (window, annotated video or images, per-face CSV) and the run's statistics.

Each video frame: read -> grey -> track the faces (tracking.py) -> classify every face
in one batch -> smooth per track -> CSV -> draw -> show / write.
Images are unrelated to each other: each gets a full detection and no tracking.
"""
import csv
import os
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from background import in_background
from data import preprocess_faces, to_gray
from drawing import draw_faces, draw_fps
from runtime import predict_proba
from sources import IMAGE_SUFFIXES, SourceError, VideoInput, read_images
from tracking import SCAN_EVERY, FaceTracker

CSV_COLUMNS = ["frame", "time_s", "face", "x", "y", "w", "h", "label", "confidence"]


def crop_faces(gray, boxes):
    """The face crops of a grey frame, clipped to the frame."""
    height, width = gray.shape[:2]
    crops = []
    for x, y, w, h in boxes:
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
        crops.append(gray[y0:y1, x0:x1])
    return crops


class Recognizer:
    """Detector + classifier: finds faces and gives each the class probabilities."""

    def __init__(self, detector, classifier, class_names, tta=False, light_fix="stretch"):
        self.detector, self.classifier, self.class_names = detector, classifier, class_names
        self.tta, self.light_fix = tta, light_fix

    def classify(self, gray, boxes):
        """Probabilities (faces, classes) for every box, in one batched call."""
        faces = preprocess_faces(crop_faces(gray, boxes), self.light_fix)
        return predict_proba(self.classifier, faces, tta=self.tta)

    def __call__(self, image):
        """(boxes, probabilities) of every face in one image, by a full detection."""
        gray = to_gray(image)
        boxes = self.detector.detect(gray)
        return boxes, self.classify(gray, boxes)


def csv_header(class_names):
    return CSV_COLUMNS + list(class_names)


def csv_rows(frame_index, time_s, numbers, boxes, probs, class_names):
    """One row per face: frame,time_s,face,x,y,w,h,label,confidence, then a probability per class.
    `face` is the face's track number (in an image: its place, left to right, from 1)."""
    rows = []
    for face, (x, y, w, h), p in zip(numbers, boxes, probs):
        best = int(np.argmax(p))
        rows.append([frame_index, round(time_s, 4), int(face), int(x), int(y), int(w), int(h),
                     class_names[best], round(float(p[best]), 4)] + [round(float(v), 4) for v in p])
    return rows


class CsvLog:
    """The --csv file, flushed every frame so an interrupted run keeps what it did."""

    def __init__(self, path, class_names):
        self.file = open(path, "w", newline="")
        self.writer = csv.writer(self.file)
        self.writer.writerow(csv_header(class_names))

    def write(self, rows):
        if rows:
            self.writer.writerows(rows)
            self.file.flush()

    def close(self):
        self.file.close()


def has_display():
    """Whether a window can be shown (Linux needs an X11 or Wayland display)."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


@dataclass
class RunStats:
    frames: int = 0
    faces: int = 0
    corrupt_frames: int = 0
    reconnects: int = 0
    seconds: float = 0.0
    label_counts: dict = field(default_factory=dict)
    tracks: list = field(default_factory=list)   # every track of a video run, by number
    ended_by: str = ""
    keep_rows: bool = False                      # keep every CSV row (for --plot): memory grows
    rows: list = field(default_factory=list)

    def record(self, frame_index, time_s, numbers, boxes, probs, class_names):
        """Count a processed frame and return its CSV rows."""
        self.frames += 1
        self.faces += len(probs)
        for p in probs:
            label = class_names[int(np.argmax(p))]
            self.label_counts[label] = self.label_counts.get(label, 0) + 1
        rows = csv_rows(frame_index, time_s, numbers, boxes, probs, class_names)
        if self.keep_rows:
            self.rows += rows
        return rows

    @property
    def fps(self):
        return self.frames / self.seconds if self.seconds else 0.0


class RecentRate:
    """Frames per second over about the last `window` seconds (the window's fps overlay)."""

    def __init__(self, window=1.0):
        self.window = window
        self.times = deque()

    def tick(self, now=None):
        now = time.perf_counter() if now is None else now
        self.times.append(now)
        while len(self.times) > 2 and now - self.times[0] > self.window:
            self.times.popleft()
        span = self.times[-1] - self.times[0]
        return (len(self.times) - 1) / span if span > 0 else 0.0


class Progress:
    """Progress of a video file on stderr: a line rewritten in place on a terminal,
    otherwise a line every 10%."""

    def __init__(self, total, stream=None):
        self.total, self.stream = total, stream or sys.stderr
        self.terminal = self.stream.isatty()
        self.started = time.perf_counter()
        self.shown = -1

    def update(self, done):
        step = done * 10 // self.total if self.total else 0
        if not self.terminal and step == self.shown:
            return
        if self.terminal and done % 10 and done != self.total:
            return
        self.shown = step
        rate = done / max(time.perf_counter() - self.started, 1e-6)
        line = f"frame {done}/{self.total} ({done / self.total:.0%}), {rate:.1f} frames/s"
        print(("\r" + line) if self.terminal else line, end="" if self.terminal else "\n",
              file=self.stream, flush=True)

    def close(self):
        if self.terminal and self.shown >= 0:
            print(file=self.stream)


@dataclass
class Outputs:
    video: Path = None         # annotated video, or folder/file for image inputs
    csv: Path = None
    display: bool = False
    show_probs: bool = False
    smooth: float = 0.0
    progress: bool = True
    scan_every: int = SCAN_EVERY   # frames between full-frame detections (tracking.py)
    reconnect: float = 0.0     # seconds to keep reopening a dropped stream
    background: bool = True    # read and track in a worker thread (docs/REALTIME.md)


def open_video_writer(path, fps, frame):
    """A writer with the input's size and frame rate; .avi gets MJPG, anything else mp4v."""
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if Path(path).suffix.lower() == ".avi" else "mp4v"))
    height, width = frame.shape[:2]
    writer = cv2.VideoWriter(str(path), fourcc, fps, (width, height))
    if not writer.isOpened():
        raise SourceError(f"cannot write video {path}")
    return writer


WINDOW_TITLE = "Emotion recognition (q or Esc quits)"


QUIT_KEYS = (ord("q"), 27)   # q, Esc


def show(frame, wait_ms=1):
    """Show a frame; the key pressed within `wait_ms` (-1: none)."""
    cv2.imshow(WINDOW_TITLE, frame)
    return cv2.waitKey(wait_ms)


def tracked_frames(video_input, tracker, stop=None):
    """(index, time_s, frame, grey frame, [(track, box)]) for each frame of the input."""
    started = time.perf_counter()
    for index, frame in enumerate(video_input.frames(stop)):
        if video_input.source.kind == "video":
            time_s = index / video_input.fps
        else:
            time_s = time.perf_counter() - started
        gray = to_gray(frame)
        yield index, time_s, frame, gray, [(track, track.box) for track in tracker.update(gray, time_s)]


def run_stream(source, recognizer, outputs, stats, stop=None, opener=None):
    """Process a camera, video file or stream until it ends, q/Esc, or Ctrl-C.

    Reading and tracking run in a worker thread, a few frames ahead of the
    classification, drawing and writing here (`outputs.background`).
    Everything opened is closed in `finally`, so an interrupted run leaves a
    playable video and a complete CSV of the frames processed so far.
    """
    video_input = VideoInput(source, outputs.reconnect, **({"opener": opener} if opener else {}))
    names = recognizer.class_names
    tracker = FaceTracker(recognizer.detector, scan_every=outputs.scan_every)
    progress = Progress(video_input.total) if outputs.progress and video_input.total > 0 else None
    log = CsvLog(outputs.csv, names) if outputs.csv else None
    rate = RecentRate()
    writer = None
    frames = tracked_frames(video_input, tracker, stop)
    if outputs.background:
        frames = in_background(frames)
    started = time.perf_counter()
    try:
        for index, time_s, frame, gray, found in frames:
            if stop and stop.requested:   # frames read ahead are dropped: the run ends now
                break
            tracks, boxes = [t for t, _ in found], [b for _, b in found]
            probs = [t.observe(p, time_s, names, outputs.smooth)
                     for t, p in zip(tracks, recognizer.classify(gray, boxes))]
            numbers = [t.number for t in tracks]
            rows = stats.record(index, time_s, numbers, boxes, probs, names)
            if log:
                log.write(rows)
            if outputs.video or outputs.display:
                draw_faces(frame, numbers, boxes, probs, names, outputs.show_probs)
            if outputs.video:
                writer = writer or open_video_writer(outputs.video, video_input.fps, frame)
                writer.write(frame)
            if outputs.display:
                draw_fps(frame, rate.tick())
                if show(frame) & 0xFF in QUIT_KEYS:
                    break
            if progress:
                progress.update(index + 1)
    finally:
        frames.close()   # stops the worker before the capture goes
        stats.seconds = time.perf_counter() - started
        stats.tracks = tracker.finish()
        stats.corrupt_frames += video_input.corrupt_frames
        stats.reconnects = video_input.reconnects
        stats.ended_by = video_input.ended_by
        video_input.release()
        if writer:
            writer.release()
        if log:
            log.close()
        if progress:
            progress.close()
        if outputs.display:
            cv2.destroyAllWindows()


def image_output_path(output, image_path, count):
    """Where the annotated copy of `image_path` goes: a file for one image, else a folder.
    A name that cannot be meant (one file for many images, or an unknown image format) is
    refused, rather than made into a folder the user did not ask for."""
    output = Path(output)
    suffix = output.suffix.lower()
    if count == 1 and suffix in IMAGE_SUFFIXES:
        return output
    if suffix and not output.is_dir():
        if suffix in IMAGE_SUFFIXES:
            raise SourceError(f"--output {output} is one image but the source has {count} images: give a folder")
        raise SourceError(f"--output {output}: {suffix} is not an image format "
                          f"({', '.join(sorted(IMAGE_SUFFIXES))}); a folder's name has no suffix")
    output.mkdir(parents=True, exist_ok=True)
    return output / Path(image_path).name


def run_images(source, recognizer, outputs, stats, stop=None):
    """Label each image of the source; no tracking or smoothing (the images are unrelated)."""
    names = recognizer.class_names
    log = CsvLog(outputs.csv, names) if outputs.csv else None
    started = time.perf_counter()
    try:
        for index, (path, image) in enumerate(read_images(source.target, stats)):
            if stop and stop.requested:
                break
            boxes, probs = recognizer(image)
            numbers = list(range(1, len(boxes) + 1))
            rows = stats.record(index, 0.0, numbers, boxes, probs, names)
            if log:
                log.write(rows)
            draw_faces(image, numbers, boxes, probs, names, outputs.show_probs)
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


def show_until_key(image, stop):
    """Show an image until a key (next image) or Ctrl-C; True when the user pressed q or Esc."""
    while not (stop and stop.requested):
        key = show(image, wait_ms=100)   # short waits: Ctrl-C is seen within 0.1 s
        if key != -1:
            return key & 0xFF in QUIT_KEYS
    return True
