"""From a detector's box to the face the classifier sees: a square framed as FER-2013 frames
its faces, whatever the detector.

Detectors draw their boxes differently (YuNet's is narrower than FER-2013's crop, about
0.8 of its width), and a crop taken straight from such a box costs points of accuracy. Each
detector's box is mapped to a square centred at its centre shifted by (dx, dy) box widths,
with a side of `side` box widths: constants fitted on FER-2013's train/ faces by
`python bench/crop_calibration.py`, in box widths so the mapping holds at any face size.
The square is what the CSV reports, what is drawn and what is classified.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Calibration:
    side: float = 1.0   # the square's side, in box widths
    dx: float = 0.0     # its centre's shift from the box's centre, in box widths
    dy: float = 0.0


# bench/crop_calibration.py prints these lines (docs/REALTIME.md, Detection v3)
CALIBRATIONS = {
    "yunet": Calibration(side=1.229, dx=-0.003, dy=-0.041),
    "haar": Calibration(side=1.004, dx=0.0, dy=0.0),
}


def face_square(box, calibration):
    """The calibrated square (x, y, side, side) of a detector's (x, y, w, h) box."""
    x, y, w, h = box
    side = calibration.side * w
    centre_x = x + w / 2 + calibration.dx * w
    centre_y = y + h / 2 + calibration.dy * w
    return (int(round(centre_x - side / 2)), int(round(centre_y - side / 2)), int(round(side)), int(round(side)))


def detector_box(square, calibration):
    """The detector's box (as a square of its width) that `face_square` maps to `square`:
    where to look for a face already known."""
    x, y, side, _ = square
    w = side / calibration.side
    centre_x = x + side / 2 - calibration.dx * w
    centre_y = y + side / 2 - calibration.dy * w
    return (int(round(centre_x - w / 2)), int(round(centre_y - w / 2)), int(round(w)), int(round(w)))


def crop_faces(gray, boxes):
    """The face crops of a grey frame, clipped to the frame."""
    height, width = gray.shape[:2]
    crops = []
    for x, y, w, h in boxes:
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
        crops.append(gray[y0:y1, x0:x1])
    return crops
