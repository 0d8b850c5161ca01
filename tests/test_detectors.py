"""Face detectors: full scans and the quick look near a known face."""
import cv2
import pytest

from app.detectors import HaarDetector, iou
from footage import background, compose_frame, match_detections
from helpers import CASCADE


def test_iou():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)


def test_detector_finds_real_faces_at_their_known_positions(fer_faces):
    boxes = [(100, 200, 180, 180), (700, 150, 140, 140)]
    frame = compose_frame(background(1280, 720), fer_faces[:2], boxes)
    detector = HaarDetector(CASCADE)
    assert match_detections(boxes, detector.detect(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))) == 2


@pytest.mark.parametrize("missing", ["left", "top"])
def test_detect_near_gives_none_for_a_box_outside_the_frame(missing):
    detector = HaarDetector(CASCADE)
    gray = background(320, 180)
    box = (-500, 10, 100, 100) if missing == "left" else (10, -500, 100, 100)
    assert detector.detect_near(gray, box) is None
