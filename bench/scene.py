"""Synthetic test footage: real FER-2013 faces pasted onto a 720p background.

Used by the benchmarks and the end-to-end tests, so both know exactly where
every face is (no network, no recorded video needed).
"""
from pathlib import Path

import cv2
import numpy as np


def background(width, height, seed=0):
    """A textured grey background: a gradient plus smooth noise."""
    rng = np.random.default_rng(seed)
    gradient = np.linspace(60, 170, width, dtype=np.float32)[np.newaxis, :].repeat(height, 0)
    noise = cv2.GaussianBlur(rng.normal(0, 25, (height, width)).astype(np.float32), (0, 0), 6)
    return np.clip(gradient + noise, 0, 255).astype(np.uint8)


def face_boxes(frame_index, count, width, height, sizes):
    """Where each of `count` faces is in a frame: slow horizontal drift, fixed rows."""
    boxes = []
    for i in range(count):
        size = sizes[i % len(sizes)]
        x = int((0.1 + 0.3 * i) * width + 40 * np.sin(frame_index / 15 + i))
        y = int(0.25 * height + (i % 2) * 0.2 * height)
        boxes.append((x, y, size, size))
    return boxes


def compose_frame(back, faces, boxes):
    """Paste each 48x48 face, scaled to its box, onto a colour copy of the background."""
    frame = back.copy()
    for face, (x, y, w, h) in zip(faces, boxes):
        frame[y:y + h, x:x + w] = cv2.resize(face, (w, h), interpolation=cv2.INTER_CUBIC)
    return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)


def write_face_video(path, faces, frames=60, fps=30, width=1280, height=720, sizes=(200, 150, 120),
                     faces_per_frame=(1, 2, 3)):
    """Write a video of real faces; returns the ground-truth boxes of every frame.

    The number of faces cycles through `faces_per_frame`, changing every second.
    """
    back = background(width, height)
    codec = cv2.VideoWriter_fourcc(*("MJPG" if Path(path).suffix == ".avi" else "mp4v"))
    writer = cv2.VideoWriter(str(path), codec, fps, (width, height))
    truth = []
    try:
        for index in range(frames):
            count = faces_per_frame[(index // fps) % len(faces_per_frame)]
            boxes = face_boxes(index, count, width, height, sizes)
            chosen = [faces[(index // fps + i) % len(faces)] for i in range(count)]
            writer.write(compose_frame(back, chosen, boxes))
            truth.append(boxes)
    finally:
        writer.release()
    return truth


def load_fer_faces(root, count=12, split="validation"):
    """Clear (high-contrast) faces from a FER-2013 folder, one class after another."""
    faces = []
    classes = sorted(p for p in (Path(root) / split).iterdir() if p.is_dir())
    for folder in classes:
        for path in sorted(folder.iterdir())[:20]:
            image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            if image is not None and image.std() > 40:
                faces.append(image)
                break
    while len(faces) < count and faces:
        faces += faces
    return faces[:count]


def match_detections(truth, detections, min_iou=0.3):
    """How many ground-truth boxes a detection overlaps by at least `min_iou`."""
    from video import iou
    return sum(any(iou(t, d) >= min_iou for d in detections) for t in truth)
