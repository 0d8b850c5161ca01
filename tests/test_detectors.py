"""Face detectors: full scans and the quick look near a known face."""
import cv2
import numpy as np
import pytest

from app.detectors import YUNET_MODEL, DetectorError, HaarDetector, YuNetDetector, iou, make_detector
from app.face_crops import Calibration, detector_box, face_square
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


@pytest.mark.parametrize("name", ["haar", "yunet"])
def test_each_detector_finds_real_faces_as_squares_framed_like_fer2013(fer_faces, name):
    boxes = [(100, 200, 180, 180), (700, 150, 140, 140)]
    frame = cv2.cvtColor(compose_frame(background(1280, 720), fer_faces[:2], boxes), cv2.COLOR_BGR2GRAY)
    squares = make_detector(name).detect(frame)
    assert match_detections(boxes, squares, min_iou=0.5) == 2
    assert all(w == h for _, _, w, h in squares)


def test_yunets_own_box_is_narrower_than_the_face_and_its_square_fits_it(fer_faces):
    truth = (300, 200, 200, 200)
    detector = make_detector("yunet")
    widths, box_fit, square_fit = [], [], []
    for face in fer_faces:
        frame = cv2.cvtColor(compose_frame(background(1280, 720), [face], [truth]), cv2.COLOR_BGR2GRAY)
        (box,), _ = detector.find(frame)
        (square,) = detector.detect(frame)
        widths.append(box[2] / truth[2])
        box_fit.append(iou(tuple(box), truth))
        square_fit.append(iou(tuple(square), truth))
    assert np.median(widths) < 0.9                       # narrower than FER-2013's crop
    assert np.mean(square_fit) > np.mean(box_fit)        # the calibrated square fits it better


def test_the_calibrated_square_and_the_detector_box_map_back_and_forth():
    calibration = Calibration(side=1.229, dx=-0.003, dy=-0.041)
    box = (100, 80, 120, 150)
    square = face_square(box, calibration)
    assert square[2] == square[3] == round(1.229 * 120)
    again = face_square(detector_box(square, calibration), calibration)
    assert max(abs(a - b) for a, b in zip(square, again)) <= 1
    assert face_square(box, Calibration()) == (100, 95, 120, 120)   # side 1: the box's width, centred


@pytest.mark.parametrize("name", ["haar", "yunet"])
def test_detect_near_follows_a_face_that_moved_a_little(fer_faces, name):
    back = background(960, 540)
    detector = make_detector(name)
    before = cv2.cvtColor(compose_frame(back, fer_faces[:1], [(300, 150, 180, 180)]), cv2.COLOR_BGR2GRAY)
    after = cv2.cvtColor(compose_frame(back, fer_faces[:1], [(310, 156, 180, 180)]), cv2.COLOR_BGR2GRAY)
    (square,) = detector.detect(before)
    moved, confident = detector.detect_near(after, tuple(square))
    assert iou(moved, tuple(detector.detect(after)[0])) > 0.8 and confident


def test_a_missing_or_altered_yunet_file_is_an_error_that_names_the_fallback(tmp_path):
    with pytest.raises(DetectorError, match="not found.*--detector haar"):
        YuNetDetector(tmp_path / "missing.onnx")
    altered = tmp_path / "yunet.onnx"
    altered.write_bytes(YUNET_MODEL.read_bytes()[:-1] + b"\0")
    with pytest.raises(DetectorError, match="altered.*--detector haar"):
        YuNetDetector(altered)
