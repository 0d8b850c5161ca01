"""Boxes and labels drawn on frames."""
import numpy as np

from app.drawing import BOX_COLOR, draw_faces

NAMES = ["angry", "happy", "sad"]


def test_draw_faces_draws_box_and_label_only_around_the_face():
    frame = np.zeros((200, 300, 3), np.uint8)
    draw_faces(frame, [1], [(100, 80, 60, 60)], np.array([[0.1, 0.8, 0.1]]), NAMES)
    assert tuple(frame[110, 100]) == BOX_COLOR               # left edge of the box
    assert frame[60:80, 100:160].any()                          # label above the box
    assert not frame[150:, :90].any()                           # nothing far away
    plain, with_bars = np.zeros((2, 200, 300, 3), np.uint8)
    draw_faces(plain, [1], [(20, 80, 60, 60)], np.array([[0.1, 0.8, 0.1]]), NAMES)
    draw_faces(with_bars, [1], [(20, 80, 60, 60)], np.array([[0.1, 0.8, 0.1]]), NAMES, show_probs=True)
    right_of_box = (slice(90, 190), slice(86, 250))
    assert with_bars[right_of_box].any() and not plain[right_of_box].any()
