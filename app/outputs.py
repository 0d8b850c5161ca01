"""What a run writes: the per-face CSV, the annotated video or images, and progress lines."""
import csv
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from app.sources import IMAGE_SUFFIXES, SourceError

CSV_COLUMNS = ["frame", "time_s", "face", "x", "y", "w", "h", "label", "confidence"]


@dataclass
class Outputs:
    """Where a run's results go; None (or False) for each one not asked for."""
    video: Path = None         # annotated video, or folder/file for image inputs
    csv: Path = None
    display: bool = False      # a window
    progress: bool = True      # progress lines for video files, on stderr


def csv_header(class_names):
    return CSV_COLUMNS + list(class_names)


def csv_rows(frame_index, time_s, numbers, boxes, probs, class_names, labels=None):
    """One row per face: frame,time_s,face,x,y,w,h,label,confidence, then a probability per class.
    `face` is the face's track number (in an image: its place, left to right, from 1); `label`
    the class shown (`labels`, indices; default: the most probable) and `confidence` its probability."""
    rows = []
    labels = labels if labels is not None else [int(np.argmax(p)) for p in probs]
    for face, (x, y, w, h), p, best in zip(numbers, boxes, probs, labels):
        rows.append([frame_index, round(time_s, 4), int(face), int(x), int(y), int(w), int(h),
                     class_names[best], round(float(p[best]), 4)] + [round(float(v), 4) for v in p])
    return rows


class OutputError(OSError):
    """An output that cannot be written (a full disk, a removed folder); the message names it."""


class CsvLog:
    """The --csv file, flushed every frame so an interrupted run keeps what it did. A write
    that fails (a full disk) is an OutputError that names the file."""

    def __init__(self, path, class_names):
        self.path, self.failed = path, False
        self.file = open(path, "w", newline="")
        self.writer = csv.writer(self.file)
        self._write([csv_header(class_names)])

    def write(self, rows):
        if rows:
            self._write(rows)

    def _write(self, rows):
        try:
            self.writer.writerows(rows)
            self.file.flush()
        except OSError as error:
            self.failed = True
            raise OutputError(f"cannot write CSV {self.path}: {error.strerror or error}") from None

    def close(self):
        try:
            self.file.close()
        except OSError:   # what was buffered when a write failed cannot be written either
            if not self.failed:
                raise


def write_csv(path, class_names, rows):
    """A whole --csv file at once: the header and `rows` (as csv_rows makes them), through the
    same CsvLog that main.py writes frame by frame."""
    log = CsvLog(path, class_names)
    try:
        log.write(rows)
    finally:
        log.close()


def open_video_writer(path, fps, frame):
    """A writer with the input's size and frame rate; .avi gets MJPG, anything else mp4v."""
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if Path(path).suffix.lower() == ".avi" else "mp4v"))
    height, width = frame.shape[:2]
    writer = cv2.VideoWriter(str(path), fourcc, fps, (width, height))
    if not writer.isOpened():
        raise SourceError(f"cannot write video {path}")
    return writer


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
