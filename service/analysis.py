"""What the web service does with a picture, a live frame or a video: main.py's pipeline,
one request or one connection at a time per model.

The recognizer (detector, classifier, SFace) is loaded once and shared; its networks are
not safe to call from two threads at once, so every use holds `Analyser.lock`. Tracks live
per connection (`LiveSession`): each browser tab is its own video.
"""
import dataclasses
import threading
import time

import cv2
import numpy as np

from app.outputs import Outputs
from app.pipeline import run_stream
from app.reid import People
from app.run_stats import RunStats
from app.sources import SourceError, parse_source
from app.tracking import FaceTracker
from data import to_gray


class BadInput(ValueError):
    """An upload that is empty or cannot be decoded; the message says which (HTTP 400)."""


def face_json(number, box, probs, label, class_names):
    """One face of a reply: {"id", "box", "label", "confidence", "probabilities"}."""
    return {"id": int(number), "box": [int(v) for v in box], "label": class_names[label],
            "confidence": round(float(probs[label]), 4),
            "probabilities": {name: round(float(p), 4) for name, p in zip(class_names, probs)}}


def decode_image(data):
    """A BGR image from the bytes of an encoded picture, or BadInput."""
    if not data:
        raise BadInput("the image is empty")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise BadInput("the image cannot be decoded (corrupt, or not JPEG, PNG, BMP, WebP or TIFF)")
    return image


class Analyser:
    """The service's one recognizer, and what it does per request."""

    def __init__(self, recognizer, settings):
        self.recognizer, self.settings = recognizer, settings
        self.lock = threading.Lock()

    @property
    def class_names(self):
        return self.recognizer.class_names

    def image(self, data):
        """{"width", "height", "faces"} of an encoded picture; faces numbered left to right."""
        image = decode_image(data)
        with self.lock:
            boxes, probs = self.recognizer(image)
        faces = [face_json(i + 1, box, p, int(np.argmax(p)), self.class_names)
                 for i, (box, p) in enumerate(zip(boxes, probs))]
        return {"width": int(image.shape[1]), "height": int(image.shape[0]), "faces": faces}

    def video(self, path, csv_path):
        """main.py's CSV of the video at `path`, written to `csv_path`; BadInput where no frame reads."""
        stats = RunStats()
        try:
            source = parse_source(str(path))
        except SourceError as error:
            raise BadInput(str(error)) from None
        try:
            with self.lock:
                run_stream(source, self.recognizer, Outputs(csv=csv_path, progress=False),
                           dataclasses.replace(self.settings, read_ahead=False), stats)
        except SourceError:   # FFmpeg cannot open it at all
            stats.frames = 0
        if stats.frames == 0:
            raise BadInput("the video cannot be decoded (corrupt, or a format FFmpeg does not read)")
        return stats

    def live_session(self):
        return LiveSession(self)


class LiveSession:
    """One connection's video: its own tracks (and persons), fed one frame at a time."""

    def __init__(self, analyser):
        self.analyser = analyser
        recognizer, settings = analyser.recognizer, analyser.settings
        people = People() if recognizer.embedder is not None else None
        self.tracker = FaceTracker(recognizer.detector, scan_every=settings.scan_every,
                                   embedder=recognizer.embedder, people=people)
        self.frames, self.started = 0, time.perf_counter()

    def frame(self, data):
        """{"frame", "faces"} of one encoded live frame: the faces of confirmed tracks."""
        image = decode_image(data)
        recognizer, names = self.analyser.recognizer, self.analyser.class_names
        with self.analyser.lock:
            gray = to_gray(image)
            tracks = self.tracker.update(gray, time.perf_counter() - self.started, image)
            probs = recognizer.classify(gray, [t.box for t in tracks])
        faces = []
        for track, p in zip(tracks, probs):
            settings = self.analyser.settings
            smoothed = track.observe(p, time.perf_counter() - self.started, names, settings.smooth,
                                     settings.label_margin)
            if track.confirmed:
                faces.append(face_json(track.number, track.box, smoothed, track.label, names))
        self.frames += 1
        return {"frame": self.frames - 1, "faces": faces}
