"""Face detectors: what the app needs of one, and the Haar cascade that does it.

A detector is a class with two methods (see `FaceDetector`): a full scan of a frame, and
a quick look near a face already known. Boxes are (x, y, w, h) in full-frame pixels.
A second detector is a new class here; the tracker and the pipeline stay as they are.
"""
import cv2
import numpy as np

NO_BOXES = np.zeros((0, 4), int)


class DetectorError(ValueError):
    """A detector whose files cannot be loaded; the message names the file."""


class FaceDetector:
    """The interface every detector has; the tracker (app/tracking.py) and the pipeline
    (app/pipeline.py) call nothing else."""

    def detect(self, gray):
        """Every face in a full grey frame: an (N, 4) int array of boxes, left to right."""
        raise NotImplementedError

    def detect_near(self, gray, box):
        """The face nearest to `box` (a face seen in an earlier frame) close to where it was,
        as an (x, y, w, h) tuple, or None where it is not found there. Far cheaper than a
        full scan: the tracker calls it for every known face between scans."""
        raise NotImplementedError


class HaarDetector(FaceDetector):
    """Haar cascade detection on a downscaled grey frame.

    Downscaling to `detect_width` pixels is where the full scan's speed comes from:
    Haar's cost grows with the pixel count, and faces big enough to classify stay
    well above the cascade's 24x24 window. `detect_near` searches only a small
    region around a known face at that face's own scale, which costs 1-4 ms
    instead of a full scan's ~26 ms (720p).
    """

    def __init__(self, cascade_path, scale_factor=1.1, min_neighbors=3, min_face_size=48,
                 detect_width=640):
        try:
            self.cascade = cv2.CascadeClassifier(str(cascade_path))
        except (cv2.error, SystemError):   # a file that is not a cascade fails inside OpenCV
            self.cascade = None
        if self.cascade is None or self.cascade.empty():
            raise DetectorError(f"cannot load face cascade {cascade_path}")
        self.scale_factor, self.min_neighbors = scale_factor, min_neighbors
        self.min_face_size, self.detect_width = min_face_size, detect_width

    def detect(self, gray):
        """Every face in a full grey frame, left to right."""
        scale = min(1.0, self.detect_width / gray.shape[1]) if self.detect_width else 1.0
        small = gray if scale == 1.0 else cv2.resize(gray, None, fx=scale, fy=scale,
                                                     interpolation=cv2.INTER_AREA)
        min_size = max(12, int(round(self.min_face_size * scale)))
        boxes = self.cascade.detectMultiScale(small, scaleFactor=self.scale_factor,
                                              minNeighbors=self.min_neighbors,
                                              minSize=(min_size, min_size))
        if len(boxes) == 0:
            return NO_BOXES
        boxes = np.round(np.asarray(boxes, np.float64) / scale).astype(int)
        return boxes[np.argsort(boxes[:, 0], kind="stable")]

    def detect_near(self, gray, box, margin=0.2, face_pixels=60, scale_range=1.2):
        """The face nearest to `box` within `margin` box-widths of it, or None.

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
        found = self.cascade.detectMultiScale(region, scaleFactor=1.1, minNeighbors=self.min_neighbors,
                                              minSize=(smallest, smallest), maxSize=(largest, largest))
        if len(found) == 0:
            return None
        found = np.asarray(found, np.float64) / scale + (x0, y0, 0, 0)
        centre = np.array([x + w / 2, y + h / 2])
        distances = np.hypot(*(found[:, :2] + found[:, 2:] / 2 - centre).T)
        return tuple(int(round(v)) for v in found[int(np.argmin(distances))])


def crop_faces(gray, boxes):
    """The face crops of a grey frame, clipped to the frame."""
    height, width = gray.shape[:2]
    crops = []
    for x, y, w, h in boxes:
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
        crops.append(gray[y0:y1, x0:x1])
    return crops


def iou(a, b):
    """Intersection over union of two (x, y, w, h) boxes."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    inter_w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    inter_h = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = inter_w * inter_h
    union = aw * ah + bw * bh - inter
    return inter / union if union else 0.0
