"""The recognition pipeline behind `main.py`: sources, detection, classification,
smoothing, drawing and the per-face CSV.

Each frame: read -> grey -> detect (on a downscaled copy) -> classify all faces
in one batch -> smooth -> draw -> show / write.
"""
import csv
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import keras
import numpy as np

from data import preprocess_faces, to_gray
from model import predict_proba

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"}
CSV_COLUMNS = ["frame", "time_s", "face", "x", "y", "w", "h", "label", "confidence"]


class SourceError(Exception):
    """A source that cannot be read; the message says what and where."""


@dataclass
class Source:
    kind: str              # "camera", "video", "stream" or "images"
    target: object         # camera index, path or URL; for images a list of paths


def parse_source(text):
    """Turn --source into a Source: camera index, video file, stream URL, image or folder."""
    text = str(text).strip()
    if text.isdigit():
        return Source("camera", int(text))
    if "://" in text:
        return Source("stream", text)
    path = Path(text)
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise SourceError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in folder {path}")
        return Source("images", images)
    if not path.exists():
        raise SourceError(f"source not found: {path}")
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return Source("images", [path])
    if suffix in VIDEO_SUFFIXES:
        return Source("video", path)
    raise SourceError(f"unsupported file type '{suffix or path.name}': {path} "
                      f"(videos: {', '.join(sorted(VIDEO_SUFFIXES))}; images: {', '.join(sorted(IMAGE_SUFFIXES))})")


def open_capture(source):
    """An opened cv2.VideoCapture for a camera, video or stream source."""
    capture = cv2.VideoCapture(source.target if source.kind == "camera" else str(source.target))
    if not capture.isOpened():
        capture.release()
        what = {"camera": "camera", "video": "video file", "stream": "stream"}[source.kind]
        raise SourceError(f"cannot open {what} {source.target}")
    return capture


def read_frames(capture, stats, max_bad=25):
    """Yield frames; a corrupt frame is skipped and counted, not fatal.

    OpenCV reports a corrupt frame like the end of the stream, so a failed read
    before the known last frame is retried, up to `max_bad` in a row.
    """
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    bad_in_a_row = 0
    while True:
        ok, frame = capture.read()
        if ok and frame is not None and frame.size:
            bad_in_a_row = 0
            yield frame
            continue
        position = int(capture.get(cv2.CAP_PROP_POS_FRAMES) or 0)
        if total <= 0 or position >= total - 1 or bad_in_a_row >= max_bad:
            return
        bad_in_a_row += 1
        stats.corrupt_frames += 1


def read_images(paths, stats):
    """Yield (path, image) for each readable image; unreadable ones are counted and named.

    A single image that cannot be read is an error; in a folder it is skipped.
    """
    for path in paths:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None and len(paths) == 1:
            raise SourceError(f"cannot read image {path}")
        if image is None:
            print(f"warning: skipped {path}: not a readable image", file=sys.stderr)
            stats.corrupt_frames += 1
            continue
        yield path, image


class FaceDetector:
    """Haar cascade detection on a downscaled grey frame; boxes in full-frame pixels.

    Downscaling to `detect_width` pixels is where the speed comes from: Haar's
    cost grows with the pixel count, and faces big enough to classify stay
    well above the cascade's 24x24 window.
    """

    def __init__(self, cascade_path, scale_factor=1.15, min_neighbors=4, min_face_size=48,
                 detect_width=640):
        self.cascade = cv2.CascadeClassifier(str(cascade_path))
        if self.cascade.empty():
            raise SourceError(f"cannot load face cascade {cascade_path}")
        self.scale_factor, self.min_neighbors = scale_factor, min_neighbors
        self.min_face_size, self.detect_width = min_face_size, detect_width

    def detect(self, gray):
        scale = min(1.0, self.detect_width / gray.shape[1]) if self.detect_width else 1.0
        small = gray if scale == 1.0 else cv2.resize(gray, None, fx=scale, fy=scale,
                                                     interpolation=cv2.INTER_AREA)
        min_size = max(12, int(round(self.min_face_size * scale)))
        boxes = self.cascade.detectMultiScale(small, scaleFactor=self.scale_factor,
                                              minNeighbors=self.min_neighbors,
                                              minSize=(min_size, min_size))
        if len(boxes) == 0:
            return np.zeros((0, 4), int)
        boxes = np.round(np.asarray(boxes, np.float64) / scale).astype(int)
        return boxes[np.argsort(boxes[:, 0], kind="stable")]  # left to right: stable face numbers


def crop_faces(gray, boxes):
    """The face crops of a grey frame, clipped to the frame."""
    height, width = gray.shape[:2]
    crops = []
    for x, y, w, h in boxes:
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
        crops.append(gray[y0:y1, x0:x1])
    return crops


def classify_faces(model, gray, boxes, tta=False, light_fix="none"):
    """Probabilities (faces, classes) for every box, in one batched call."""
    return predict_proba(model, preprocess_faces(crop_faces(gray, boxes), light_fix), tta=tta)


def iou(a, b):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    inter_w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    inter_h = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = inter_w * inter_h
    union = aw * ah + bw * bh - inter
    return inter / union if union else 0.0


class FaceSmoother:
    """Exponential moving average of each tracked face's probabilities.

    A face is the same as one in the previous frame when their boxes overlap
    (IoU >= `min_iou`); `weight` is the share kept from the past (0 = off).
    """

    def __init__(self, weight=0.6, min_iou=0.3):
        self.weight, self.min_iou = weight, min_iou
        self.tracks = []   # [(box, probs)]

    def update(self, boxes, probs):
        smoothed, tracks, unused = [], [], list(range(len(self.tracks)))
        for box, p in zip(boxes, probs):
            match = max(unused, key=lambda i: iou(box, self.tracks[i][0]), default=None)
            if match is not None and iou(box, self.tracks[match][0]) >= self.min_iou:
                unused.remove(match)
                p = self.weight * self.tracks[match][1] + (1 - self.weight) * p
            smoothed.append(p)
            tracks.append((tuple(box), p))
        self.tracks = tracks
        return np.array(smoothed, np.float32).reshape(len(boxes), -1)


BOX_COLOR = (0, 200, 0)
TEXT_COLOR = (255, 255, 255)


def draw_faces(frame, boxes, probs, class_names, show_probs=False):
    """Draw each box with its top emotion and confidence (and per-class bars) on `frame`."""
    for (x, y, w, h), p in zip(boxes, probs):
        best = int(np.argmax(p))
        cv2.rectangle(frame, (x, y), (x + w, y + h), BOX_COLOR, 2)
        text = f"{class_names[best]} {p[best]:.0%}"
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.6, 2)
        top = y - th - 8 if y - th - 8 >= 0 else y + h
        cv2.rectangle(frame, (x, top), (x + tw + 6, top + th + 8), BOX_COLOR, cv2.FILLED)
        cv2.putText(frame, text, (x + 3, top + th + 3), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                    TEXT_COLOR, 2, cv2.LINE_AA)
        if show_probs:
            bars_x = x + w + 6
            if bars_x + PROB_PANEL_WIDTH > frame.shape[1]:   # no room on the right: go left
                bars_x = max(0, x - 6 - PROB_PANEL_WIDTH)
            draw_prob_bars(frame, bars_x, y, p, class_names)
    return frame


PROB_PANEL_WIDTH = 170   # bars (80) + "surprise 0.13" text


def draw_prob_bars(frame, x, y, probs, class_names, width=80, row=16):
    """One labelled bar per class, starting at (x, y)."""
    for i, (name, p) in enumerate(zip(class_names, probs)):
        top = y + i * row
        cv2.rectangle(frame, (x, top + 2), (x + int(width * p), top + row - 2), BOX_COLOR, cv2.FILLED)
        origin = (x + width + 4, top + row - 4)
        # a dark outline keeps white text readable on any background
        cv2.putText(frame, f"{name[:8]} {p:.2f}", origin, cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3,
                    cv2.LINE_AA)
        cv2.putText(frame, f"{name[:8]} {p:.2f}", origin, cv2.FONT_HERSHEY_SIMPLEX, 0.4, TEXT_COLOR, 1,
                    cv2.LINE_AA)


def draw_fps(frame, fps):
    cv2.putText(frame, f"{fps:.1f} fps", (10, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 255, 255), 2,
                cv2.LINE_AA)


def csv_header(class_names):
    return CSV_COLUMNS + list(class_names)


def csv_rows(frame_index, time_s, boxes, probs, class_names):
    """One row per face: frame,time_s,face,x,y,w,h,label,confidence, then a probability per class."""
    rows = []
    for face, ((x, y, w, h), p) in enumerate(zip(boxes, probs)):
        best = int(np.argmax(p))
        rows.append([frame_index, round(time_s, 4), face, int(x), int(y), int(w), int(h),
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
    seconds: float = 0.0
    label_counts: dict = field(default_factory=dict)
    keep_rows: bool = False                     # keep every CSV row (for --plot): memory grows
    rows: list = field(default_factory=list)

    def record(self, frame_index, time_s, boxes, probs, class_names):
        """Count a processed frame and return its CSV rows."""
        self.frames += 1
        self.faces += len(probs)
        for p in probs:
            label = class_names[int(np.argmax(p))]
            self.label_counts[label] = self.label_counts.get(label, 0) + 1
        rows = csv_rows(frame_index, time_s, boxes, probs, class_names)
        if self.keep_rows:
            self.rows += rows
        return rows

    @property
    def fps(self):
        return self.frames / self.seconds if self.seconds else 0.0


class Recognizer:
    """Detector + classifier: a frame in, (boxes, probabilities) out."""

    def __init__(self, detector, model, class_names, tta=False, light_fix="none"):
        self.detector, self.model, self.class_names = detector, model, class_names
        self.tta, self.light_fix = tta, light_fix

    def __call__(self, frame):
        gray = to_gray(frame)
        boxes = self.detector.detect(gray)
        return boxes, classify_faces(self.model, gray, boxes, self.tta, self.light_fix)


@dataclass
class Outputs:
    video: Path = None         # annotated video, or folder/file for image inputs
    csv: Path = None
    display: bool = False
    show_probs: bool = False
    smooth: float = 0.0
    progress: bool = True


def source_fps(capture):
    """The source's frame rate; 30 where it reports none (many webcams and streams)."""
    fps = capture.get(cv2.CAP_PROP_FPS)
    return fps if 0 < fps < 1000 else 30.0


def open_video_writer(path, capture, frame):
    """A writer with the input's size and frame rate; .avi gets MJPG, anything else mp4v."""
    fps = source_fps(capture)
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if Path(path).suffix.lower() == ".avi" else "mp4v"))
    height, width = frame.shape[:2]
    writer = cv2.VideoWriter(str(path), fourcc, fps, (width, height))
    if not writer.isOpened():
        raise SourceError(f"cannot write video {path}")
    return writer


def show(frame, wait_ms=1):
    """Show a frame; True when the user pressed q or Esc."""
    cv2.imshow("Emotion recognition (q or Esc quits)", frame)
    return cv2.waitKey(wait_ms) & 0xFF in (ord("q"), 27)


def run_stream(source, recognizer, outputs, stats, stop=None):
    """Process a camera, video file or stream until it ends, q/Esc, or Ctrl-C.

    Everything opened is closed in `finally`, so an interrupted run leaves a
    playable video and a complete CSV of the frames processed so far.
    """
    capture = open_capture(source)
    fps_in = source_fps(capture)
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if source.kind == "video" else 0
    progress = keras.utils.Progbar(total, unit_name="frame") if outputs.progress and total > 0 else None
    names = recognizer.class_names
    smoother = FaceSmoother(outputs.smooth) if outputs.smooth > 0 else None
    log = CsvLog(outputs.csv, names) if outputs.csv else None
    writer = None
    started = time.perf_counter()
    try:
        for index, frame in enumerate(read_frames(capture, stats)):
            if stop and stop.requested:
                break
            boxes, probs = recognizer(frame)
            if smoother:
                probs = smoother.update(boxes, probs)
            time_s = index / fps_in if source.kind == "video" else time.perf_counter() - started
            rows = stats.record(index, time_s, boxes, probs, names)
            if log:
                log.write(rows)
            if outputs.video or outputs.display:
                draw_faces(frame, boxes, probs, names, outputs.show_probs)
            if outputs.video:
                writer = writer or open_video_writer(outputs.video, capture, frame)
                writer.write(frame)
            if outputs.display:
                draw_fps(frame, stats.frames / max(time.perf_counter() - started, 1e-6))
                if show(frame):
                    break
            if progress and index % 10 == 0:
                progress.update(min(index + 1, total))
    finally:
        stats.seconds = time.perf_counter() - started
        capture.release()
        if writer:
            writer.release()
        if log:
            log.close()
        if outputs.display:
            cv2.destroyAllWindows()
    if progress:
        progress.update(total, finalize=True)


def image_output_path(output, image_path, count):
    """Where the annotated copy of `image_path` goes: a file for one image, else a folder."""
    output = Path(output)
    if count == 1 and output.suffix.lower() in IMAGE_SUFFIXES:
        return output
    output.mkdir(parents=True, exist_ok=True)
    return output / Path(image_path).name


def run_images(source, recognizer, outputs, stats, stop=None):
    """Label each image of the source; no smoothing (the images are unrelated)."""
    names = recognizer.class_names
    log = CsvLog(outputs.csv, names) if outputs.csv else None
    started = time.perf_counter()
    try:
        for index, (path, image) in enumerate(read_images(source.target, stats)):
            if stop and stop.requested:
                break
            boxes, probs = recognizer(image)
            rows = stats.record(index, 0.0, boxes, probs, names)
            if log:
                log.write(rows)
            draw_faces(image, boxes, probs, names, outputs.show_probs)
            if outputs.video:
                target = image_output_path(outputs.video, path, len(source.target))
                if not cv2.imwrite(str(target), image):
                    raise SourceError(f"cannot write image {target}")
            if outputs.display and show(image, wait_ms=0):  # until a key: next image
                break
    finally:
        stats.seconds = time.perf_counter() - started
        if log:
            log.close()
        if outputs.display:
            cv2.destroyAllWindows()
