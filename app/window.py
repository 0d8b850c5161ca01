"""The live window: showing frames, the keys that quit, and the frame rate shown on it."""
import os
import sys
import time
from collections import deque

import cv2

WINDOW_TITLE = "Emotion recognition (q or Esc quits)"
QUIT_KEYS = (ord("q"), 27)   # q, Esc


def has_display():
    """Whether a window can be shown (Linux needs an X11 or Wayland display)."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def show(frame, wait_ms=1):
    """Show a frame; the key pressed within `wait_ms` (-1: none)."""
    cv2.imshow(WINDOW_TITLE, frame)
    return cv2.waitKey(wait_ms)


def show_until_key(image, stop):
    """Show an image until a key (next image) or Ctrl-C; True when the user pressed q or Esc."""
    while not (stop and stop.requested):
        key = show(image, wait_ms=100)   # short waits: Ctrl-C is seen within 0.1 s
        if key != -1:
            return key & 0xFF in QUIT_KEYS
    return True


class RecentRate:
    """Frames per second over about the last `window` seconds (the window's fps overlay)."""

    def __init__(self, window=1.0):
        self.window = window
        self.times = deque()

    def tick(self, now=None):
        now = time.perf_counter() if now is None else now
        self.times.append(now)
        while len(self.times) > 2 and now - self.times[0] > self.window:
            self.times.popleft()
        span = self.times[-1] - self.times[0]
        return (len(self.times) - 1) / span if span > 0 else 0.0
