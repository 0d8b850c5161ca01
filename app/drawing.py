"""Drawing on frames: each face's box and label, optional probability bars, the frame rate."""
import cv2
import numpy as np

BOX_COLOR = (0, 200, 0)
TEXT_COLOR = (255, 255, 255)


def draw_faces(frame, numbers, boxes, probs, class_names, show_probs=False, labels=None):
    """Draw each box with its number, emotion and its probability ("#3 happy 87%"), and
    with `show_probs` a bar per class, on `frame`. `labels`: the class index shown for each
    face (default: the most probable)."""
    labels = labels if labels is not None else [int(np.argmax(p)) for p in probs]
    for number, (x, y, w, h), p, best in zip(numbers, boxes, probs, labels):
        x, y, w, h = int(x), int(y), int(w), int(h)
        cv2.rectangle(frame, (x, y), (x + w, y + h), BOX_COLOR, 2)
        text = f"#{number} {class_names[best]} {p[best]:.0%}"
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
    """The frame rate in the top-left corner."""
    cv2.putText(frame, f"{fps:.1f} fps", (10, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 255, 255), 2,
                cv2.LINE_AA)
