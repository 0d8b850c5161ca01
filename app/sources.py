"""Where frames come from: camera, video file, network stream, image or folder of images.

Bad input is a SourceError with one line that says what and where; a corrupt frame
is skipped and counted; a network stream that drops is reopened with backoff for
up to `reconnect` seconds.
"""
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"}
STREAM_TIMEOUT_MS = 5000   # an unreachable stream fails within this, not FFmpeg's 30 s


class SourceError(Exception):
    """A source that cannot be read; the message says what and where."""


@dataclass
class Source:
    kind: str              # "camera", "video", "stream" or "images"
    target: object         # camera index, path or URL; for images a list of paths


def silence_opencv():
    """Keep OpenCV's and FFmpeg's own log lines off stderr: we report problems ourselves,
    in one line. (FFmpeg reads its variable when OpenCV first opens a video.)"""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")   # AV_LOG_QUIET
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


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


def open_capture(source, decode_threads=0):
    """An opened cv2.VideoCapture for a camera, video or stream source. `decode_threads`:
    FFmpeg's decoding threads for a video file (0: as many as cores; batch.py's workers,
    one a core, take 1)."""
    if source.kind == "stream":
        capture = cv2.VideoCapture(source.target, cv2.CAP_ANY,
                                   [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, STREAM_TIMEOUT_MS,
                                    cv2.CAP_PROP_READ_TIMEOUT_MSEC, STREAM_TIMEOUT_MS])
    elif source.kind == "video" and decode_threads:
        capture = cv2.VideoCapture(str(source.target), cv2.CAP_ANY, [cv2.CAP_PROP_N_THREADS, decode_threads])
    else:
        capture = cv2.VideoCapture(source.target if source.kind == "camera" else str(source.target))
    if not capture.isOpened():
        capture.release()
        what = {"camera": "camera", "video": "video file", "stream": "stream"}[source.kind]
        raise SourceError(f"cannot open {what} {source.target}")
    return capture


def source_fps(capture):
    """The source's frame rate; 30 where it reports none (many webcams and streams)."""
    fps = capture.get(cv2.CAP_PROP_FPS)
    return fps if 0 < fps < 1000 else 30.0


class VideoInput:
    """Frames of a camera, video file or stream, with what the run needs to know about it.

    `opener` makes the capture (tests pass a fake). With `reconnect` > 0 a stream
    that stops delivering is reopened, waiting 0.5, 1, 2, 4, 4 ... s between tries,
    until it delivers again or `reconnect` seconds have passed since its last frame
    (a stream that opens but sends nothing does not restart that clock).
    """

    def __init__(self, source, reconnect=0.0, opener=open_capture):
        self.source, self.reconnect, self.opener = source, reconnect, opener
        self.capture = opener(source)
        self.fps = source_fps(self.capture)
        self.total = int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if source.kind == "video" else 0
        self.reconnects = 0
        self.corrupt_frames = 0
        self.ended_by = ""   # why a camera or stream ended, if it did by itself
        self.lost_at = None  # when a stream last stopped delivering, while it has not resumed

    def frames(self, stop=None, max_bad=25):
        """Yield frames until the input ends (or `stop.requested`).

        OpenCV reports a corrupt frame like the end of the stream, so a failed read
        before a file's known last frame is retried, up to `max_bad` in a row.
        """
        bad_in_a_row = 0
        while not (stop and stop.requested):
            ok, frame = self.capture.read()
            if ok and frame is not None and frame.size:
                bad_in_a_row, self.lost_at = 0, None
                yield frame
                continue
            if self.source.kind == "video":
                position = int(self.capture.get(cv2.CAP_PROP_POS_FRAMES) or 0)
                if self.total <= 0 or position >= self.total - 1 or bad_in_a_row >= max_bad:
                    return
                bad_in_a_row += 1
                self.corrupt_frames += 1
                continue
            if self.source.kind == "stream" and self.reconnect > 0 and self._reopen(stop):
                continue
            what = "camera" if self.source.kind == "camera" else "stream"
            self.ended_by = f"{what} stopped delivering frames"
            return

    def _reopen(self, stop):
        self.capture.release()
        if self.lost_at is None:
            self.lost_at = time.monotonic()
        deadline, delay = self.lost_at + self.reconnect, 0.5
        while time.monotonic() < deadline and not (stop and stop.requested):
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            try:
                self.capture = self.opener(self.source)
            except SourceError:
                delay = min(2 * delay, 4.0)
                continue
            self.reconnects += 1
            return True
        print(f"warning: stream {self.source.target} lost; no reconnection within {self.reconnect:g} s",
              file=sys.stderr)
        self.capture = _Closed()
        return False

    def release(self):
        self.capture.release()


class _Closed:
    """Stands in for a capture that could not be reopened."""

    def release(self):
        pass


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
