"""Face detectors: what the app needs of one, YuNet (the default) and the Haar cascade.

A detector is a class with two methods (see `FaceDetector`): a full scan of a frame, and
a quick look near a face already known. What they return are face squares (x, y, w, h) in
full-frame pixels, framed as FER-2013 frames its faces: each detector finds its own boxes
(`find`, `find_near`) and app/face_crops.py maps them with that detector's calibration.
A new detector is a new class here, a name in DETECTORS and a line in face_crops.py's
calibrations; the tracker and the pipeline stay as they are.
"""
import hashlib

import cv2
import numpy as np

from app.face_crops import CALIBRATIONS, detector_box, face_square
from artefacts import PROJECT

NO_BOXES = np.zeros((0, 4), int)
DETECTORS = ("yunet", "haar")
HAAR_CASCADE = PROJECT / "haarcascade_frontalface_default.xml"
# YuNet's weights (Apache-2.0, origin in models/yunet/SOURCE.md): the file is checked
# against this hash on loading, so an altered or truncated copy is never used.
YUNET_MODEL = PROJECT / "models" / "yunet" / "face_detection_yunet_2023mar.onnx"
YUNET_SHA256 = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"
# Two levels, as ByteTrack has them (docs/REALTIME.md, Detection v4): a face starts only from a
# confident detection (YUNET_SCORE, HAAR_NEIGHBORS); a weaker one (YUNET_TRACK_SCORE,
# min_neighbors) only continues a face already followed, near where it was. Chosen on real
# footage (hamilton.mp4, Carphone), face-less real photos and textures (skimage.data) and the
# synthetic footage: `python bench/real_footage.py`, `python bench/video_fps.py`.
YUNET_SCORE = 0.7
YUNET_TRACK_SCORE = 0.1
HAAR_NEIGHBORS = 6


class DetectorError(ValueError):
    """A detector whose files cannot be loaded; the message names the file."""


class FaceDetector:
    """The interface every detector has: `detect` and `detect_near`, in face squares; the
    tracker (app/tracking.py) and the pipeline (app/pipeline.py) call nothing else. A
    detector class sets `name` (its calibration in face_crops.py) and finds faces in its
    own boxes with `find` and `find_near`."""

    name = ""
    min_face_size = 0   # the smallest face square reported, in input pixels
    start_score = 0.0   # the score from which a detection is confident (find's scores)

    def detections(self, gray):
        """Every face in a full grey frame, weak ones too: (face squares, an (N, 4) int array
        left to right; confident, an (N,) bool array). Only a confident one may start a track;
        a weak one may only continue one. Squares that cannot be faces are dropped."""
        calibration = CALIBRATIONS[self.name]
        boxes, scores = self.find(gray)
        squares = np.array([face_square(box, calibration) for box in boxes], int).reshape(-1, 4)
        keep = np.array([s[2] >= self.min_face_size and possible_face(s, gray.shape) for s in squares], bool)
        return squares[keep], (np.asarray(scores) >= self.start_score)[keep]

    def detect(self, gray):
        """Every confident face in a full grey frame: an (N, 4) int array of face squares, left to right."""
        squares, confident = self.detections(gray)
        return squares[confident]

    def detect_near(self, gray, square):
        """The face nearest to `square` (a face seen in an earlier frame) close to where it
        was: (its face square tuple, whether the detection is confident), or None where it is
        not found there. Weak detections count. Far cheaper than a full scan: the tracker calls
        it for every known face between scans."""
        calibration = CALIBRATIONS[self.name]
        found = self.find_near(gray, detector_box(square, calibration))
        if found is None:
            return None
        square = face_square(found[0], calibration)
        return (square, found[1] >= self.start_score) if possible_face(square, gray.shape) else None

    def find(self, gray):
        """Every face in a full grey frame, in this detector's boxes, weak ones too: (an (N, 4)
        int array left to right, an (N,) array of their scores)."""
        raise NotImplementedError

    def find_near(self, gray, box):
        """The face nearest to `box` (in this detector's boxes) close to it: (box, score), or None."""
        raise NotImplementedError


def possible_face(square, frame_shape, inside=0.5):
    """Whether a face square can be a face whatever its score: no wider than the frame is
    tall, and at least `inside` of it within the frame. Soft, blotchy backgrounds (walls,
    curtains, a blurred room) give YuNet frame-sized 'faces'."""
    x, y, side, _ = square
    height, width = frame_shape[:2]
    if side > height or side <= 0:
        return False
    overlap = max(0, min(x + side, width) - max(x, 0)) * max(0, min(y + side, height) - max(y, 0))
    return overlap >= inside * side * side


def make_detector(name, min_face_size=48, detect_width=640, cascade=HAAR_CASCADE, scale_factor=1.1,
                  min_neighbors=3, score_threshold=YUNET_SCORE, track_score=YUNET_TRACK_SCORE,
                  start_neighbors=HAAR_NEIGHBORS, yunet_model=None):
    """The detector called `name` (one of DETECTORS), with the options that apply to it
    (`yunet_model`: YuNet's weights where not the shipped YUNET_MODEL)."""
    if name == "haar":
        return HaarDetector(cascade, scale_factor, min_neighbors, min_face_size, detect_width, start_neighbors)
    if name == "yunet":
        return YuNetDetector(yunet_model or YUNET_MODEL, score_threshold, min_face_size, detect_width, track_score)
    raise ValueError(f"unknown detector {name!r} (choose from {', '.join(DETECTORS)})")


def downscaled(gray, detect_width):
    """(the grey frame at most `detect_width` wide, the scale applied)."""
    scale = min(1.0, detect_width / gray.shape[1]) if detect_width else 1.0
    if scale == 1.0:
        return gray, scale
    return cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), scale


def nearest(found, scores, box):
    """(the row of `found` (boxes, float) whose centre is nearest to `box`'s, as an int tuple, its score)."""
    x, y, w, h = box
    centre = np.array([x + w / 2, y + h / 2])
    distances = np.hypot(*(found[:, :2] + found[:, 2:] / 2 - centre).T)
    best = int(np.argmin(distances))
    return tuple(int(round(v)) for v in found[best]), float(scores[best])


def sorted_boxes(boxes, scores):
    """(float boxes as int rows, their scores), left to right."""
    if len(boxes) == 0:
        return NO_BOXES, np.zeros(0)
    boxes = np.round(np.asarray(boxes, np.float64)).astype(int)
    order = np.argsort(boxes[:, 0], kind="stable")
    return boxes[order], np.asarray(scores, np.float64)[order]


class YuNetDetector(FaceDetector):
    """YuNet (OpenCV's `FaceDetectorYN`, a 75k-parameter CNN): full scans on a copy at most
    `detect_width` wide (about 12 ms at 640x360 on two cores), looks near a known face on
    a crop around it (1-3 ms). It finds more faces than Haar, in dim light
    too, and draws a box narrower than FER-2013's crop (face_crops.py widens it)."""

    name = "yunet"

    def __init__(self, model_path=YUNET_MODEL, score_threshold=YUNET_SCORE, min_face_size=48, detect_width=640,
                 track_score=YUNET_TRACK_SCORE):
        check_yunet_file(model_path)
        self.min_face_size, self.detect_width = min_face_size, detect_width
        self.start_score = score_threshold
        weakest = min(track_score, score_threshold)
        self.scan = cv2.FaceDetectorYN.create(str(model_path), "", (320, 320), weakest, 0.3, 100)
        self.model_path, self.weakest = str(model_path), weakest
        self.near = {}   # near looks' detectors, by the size YuNet pads a crop to (near_detector)
        self.scan_size = None

    def find(self, gray):
        small, scale = downscaled(gray, self.detect_width)
        size = (small.shape[1], small.shape[0])
        if size != self.scan_size:
            self.scan.setInputSize(size)
            self.scan_size = size
        _, found = self.scan.detect(cv2.cvtColor(small, cv2.COLOR_GRAY2BGR))
        if found is None:
            return sorted_boxes([], [])
        return sorted_boxes(found[:, :4] / scale, found[:, 14])

    def near_detector(self, width, height):
        """A YuNet for near looks on crops of `width` x `height` pixels. YuNet pads its input
        to multiples of 32, and an OpenCV network whose input changes shape is built again
        (0.5-1 ms): with faces of different sizes taking turns, one network per padded size
        spares each look that (docs/REALTIME.md, Near looks). Crops are squares, so there is
        one network per 32 pixels of crop side at most, a few in practice (75k weights each)."""
        padded = (-(-width // 32), -(-height // 32))
        detector = self.near.get(padded)
        if detector is None:
            detector = self.near[padded] = cv2.FaceDetectorYN.create(self.model_path, "", (width, height),
                                                                     self.weakest, 0.3, 10)
        detector.setInputSize((width, height))
        return detector

    def find_near(self, gray, box, margin=0.5, scale_range=1.5):
        """The face nearest to `box` in a square `margin` box-widths wider on each side,
        of a size within `scale_range` of the old one: (box, score), or None. The square is scaled as a
        full scan scales the frame: YuNet's box for a face depends a little on the face's
        size in pixels, and the calibration was fitted on full scans."""
        x, y, w, h = (int(v) for v in box)
        side = int(round((1 + 2 * margin) * max(w, h)))
        x0, y0 = int(round(x + w / 2 - side / 2)), int(round(y + h / 2 - side / 2))
        height, width = gray.shape[:2]
        if x0 + side <= 0 or y0 + side <= 0 or x0 >= width or y0 >= height:
            return None
        # pad where the square leaves the frame, so the crop keeps its shape and scale
        region = cv2.copyMakeBorder(gray[max(y0, 0):y0 + side, max(x0, 0):x0 + side],
                                    max(-y0, 0), max(y0 + side - height, 0), max(-x0, 0),
                                    max(x0 + side - width, 0), cv2.BORDER_REPLICATE)
        # the crop as wide as the full scan would make it
        region, scale = downscaled(region, int(side * min(1.0, self.detect_width / width)) if self.detect_width else 0)
        near = self.near_detector(region.shape[1], region.shape[0])
        _, found = near.detect(cv2.cvtColor(region, cv2.COLOR_GRAY2BGR))
        if found is None:
            return None
        boxes = found[:, :4].astype(np.float64) / scale + (x0, y0, 0, 0)
        sized = (boxes[:, 2] >= w / scale_range) & (boxes[:, 2] <= w * scale_range)
        if not sized.any():
            return None
        return nearest(boxes[sized], found[sized, 14], (x, y, w, h))


def check_weights(path, sha256, name, remedy):
    """Raise DetectorError where the weights file at `path` is missing or is not the one
    shipped (`sha256`); the message names the file and `remedy` (the way to run without it)."""
    if not path.is_file():
        raise DetectorError(f"{name} model not found: {path} ({remedy}, or restore the file)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        raise DetectorError(f"{name} model {path} is altered (sha256 {digest[:12]}..., expected "
                            f"{sha256[:12]}...): {remedy}, or restore the file")


def check_yunet_file(path):
    """Raise DetectorError, naming --detector haar, where YuNet's weights are missing or altered."""
    check_weights(path, YUNET_SHA256, "YuNet", "use --detector haar")


class HaarDetector(FaceDetector):
    """Haar cascade detection on a downscaled grey frame.

    Downscaling to `detect_width` pixels is where the full scan's speed comes from:
    Haar's cost grows with the pixel count, and faces big enough to classify stay
    well above the cascade's 24x24 window. `detect_near` searches only a small
    region around a known face at that face's own scale, which costs 1-4 ms
    instead of a full scan's ~26 ms (720p).
    """

    name = "haar"

    def __init__(self, cascade_path=HAAR_CASCADE, scale_factor=1.1, min_neighbors=3, min_face_size=48,
                 detect_width=640, start_neighbors=HAAR_NEIGHBORS):
        try:
            self.cascade = cv2.CascadeClassifier(str(cascade_path))
        except (cv2.error, SystemError):   # a file that is not a cascade fails inside OpenCV
            self.cascade = None
        if self.cascade is None or self.cascade.empty():
            raise DetectorError(f"cannot load face cascade {cascade_path}")
        self.scale_factor, self.min_neighbors = scale_factor, min_neighbors
        self.min_face_size, self.detect_width = min_face_size, detect_width
        self.start_score = max(start_neighbors, min_neighbors)

    def find(self, gray):
        """The score of a Haar face is its number of neighbours: the overlapping windows merged into it."""
        small, scale = downscaled(gray, self.detect_width)
        min_size = max(12, int(round(self.min_face_size * scale)))
        boxes, neighbours = self.cascade.detectMultiScale2(small, scaleFactor=self.scale_factor,
                                                           minNeighbors=self.min_neighbors,
                                                           minSize=(min_size, min_size))
        return sorted_boxes(np.asarray(boxes, np.float64).reshape(-1, 4) / scale, np.ravel(neighbours))

    def find_near(self, gray, box, margin=0.2, face_pixels=60, scale_range=1.2):
        """The face nearest to `box` within `margin` box-widths of it: (box, score), or None.

        The region is resized so the face spans about `face_pixels`, and only
        sizes within `scale_range` of the old one are tried: a few small scans.
        """
        x, y, w, h = (int(v) for v in box)
        height, width = gray.shape[:2]
        x0, y0 = max(0, int(x - margin * w)), max(0, int(y - margin * h))
        x1, y1 = min(width, int(x + w + margin * w)), min(height, int(y + h + margin * h))
        if x1 - x0 < w // 2 or y1 - y0 < h // 2:   # the face has left the frame
            return None
        scale = min(1.0, face_pixels / max(w, 1))
        region = gray[y0:y1, x0:x1]
        if scale < 1.0:
            region = cv2.resize(region, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        smallest = max(24, int(w * scale / scale_range))
        largest = int(w * scale * scale_range) + 1
        if largest < smallest:
            return None
        found, neighbours = self.cascade.detectMultiScale2(region, scaleFactor=1.1, minNeighbors=self.min_neighbors,
                                                           minSize=(smallest, smallest), maxSize=(largest, largest))
        if len(found) == 0:
            return None
        return nearest(np.asarray(found, np.float64) / scale + (x0, y0, 0, 0), np.ravel(neighbours), (x, y, w, h))


def iou(a, b):
    """Intersection over union of two (x, y, w, h) boxes."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    inter_w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    inter_h = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = inter_w * inter_h
    union = aw * ah + bw * bh - inter
    return inter / union if union else 0.0
