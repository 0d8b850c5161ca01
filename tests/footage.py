"""Synthetic test footage: real FER-2013 faces pasted onto a 720p background.

Used by the tests and the benchmarks (bench/), so both know exactly where every
face is and which face it is (no network, no recorded video needed). Two kinds:
- continuous: faces drift slowly, come and go (see `continuous_layout`);
- cuts (`cut_every` frames): a hard cut to a new background with new faces, in new
  places and sizes, like a camera switch.
"""
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from app.detectors import iou


SOFT = {"blur": 40, "amplitude": 3000}   # soft blotches (a wall, a curtain, a room out of focus)


def background(width, height, seed=0, level=(60, 170), blur=6, amplitude=25):
    """A textured grey background: a gradient plus smooth noise (`blur` pixels wide; SOFT:
    large soft blotches, on which YuNet once found frame-sized faces)."""
    rng = np.random.default_rng(seed)
    gradient = np.linspace(*level, width, dtype=np.float32)[np.newaxis, :].repeat(height, 0)
    noise = cv2.GaussianBlur(rng.normal(0, amplitude, (height, width)).astype(np.float32), (0, 0), blur)
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


@dataclass
class Footage:
    boxes: list        # per frame: the true (x, y, w, h) of every face
    faces: list        # per frame: the index (into the faces given) of every face
    shots: list = field(default_factory=list)   # per frame: its shot (write_returns_video)


def continuous_layout(index, fps, faces_per_frame, width, height, sizes):
    """(boxes, face indices) of a continuous-footage frame.

    With `faces_per_frame` (1, 2, 3) the count cycles each second and the first face
    stays all along (the tests' footage). With None (the benchmark's footage), each of
    three places holds a person for three seconds and is empty for one, staggered (2-3
    faces a frame), and the face shown changes every second, as an expression does: a
    new FER-2013 face each second and place, so that accuracy is measured on many
    distinct faces (about 2.25 a second) and labels must follow changes.
    """
    second = index // fps
    if faces_per_frame:
        count = faces_per_frame[second % len(faces_per_frame)]
        cycle = second // len(faces_per_frame)
        places = list(range(count))
        # the first face stays; every later one is a new face each time it comes in
        identities = [0 if i == 0 else i + len(faces_per_frame) * cycle for i in places]
    else:
        places = [i for i in range(3) if (second + i) % 4 != 3]
        identities = [3 * second + i for i in places]
    boxes = face_boxes(index, 3, width, height, sizes)
    return [boxes[i] for i in places], identities


def cut_layout(index, cut_every, width, height):
    """(boxes, face indices, segment) of a frame of footage with a hard cut every `cut_every` frames."""
    segment = index // cut_every
    rng = np.random.default_rng(1000 + segment)
    count = 1 + segment % 3
    columns = rng.permutation(3)[:count]
    boxes = []
    for i, column in enumerate(columns):
        size = int(rng.integers(110, 220))
        x0 = int(column * width / 3 + rng.integers(40, width / 3 - size - 40))
        y0 = int(rng.integers(20, height - size - 20))
        x = x0 + int(30 * np.sin((index % cut_every) / 10 + i))
        boxes.append((x, y0, size, size))
    return boxes, [3 * segment + i for i in range(count)], segment


def write_scene_video(path, faces, frames=60, fps=30, width=1280, height=720, sizes=(200, 150, 120),
                      faces_per_frame=(1, 2, 3), cut_every=0, brightness=1.0, texture=None):
    """Write continuous footage (or, with `cut_every`, footage with hard cuts); returns its Footage.
    `faces_per_frame=None` gives the benchmark's continuous footage (`continuous_layout`);
    `brightness` scales every pixel (0.5: the same footage at half brightness); `texture`
    the backgrounds' (`background`'s blur and amplitude, e.g. SOFT)."""
    codec = cv2.VideoWriter_fourcc(*("MJPG" if Path(path).suffix == ".avi" else "mp4v"))
    writer = cv2.VideoWriter(str(path), codec, fps, (width, height))
    backgrounds = {}
    footage = Footage([], [])
    try:
        for index in range(frames):
            if cut_every:
                boxes, identities, segment = cut_layout(index, cut_every, width, height)
                levels = ((40, 120), (90, 200), (150, 60))[segment % 3]
                key = (segment, levels)
            else:
                boxes, identities = continuous_layout(index, fps, faces_per_frame, width, height, sizes)
                key = (0, (60, 170))
            if key not in backgrounds:
                backgrounds = {key: background(width, height, seed=key[0], level=key[1], **(texture or {}))}
            chosen = [faces[i % len(faces)] for i in identities]
            frame = compose_frame(backgrounds[key], chosen, boxes)
            if brightness != 1.0:
                frame = np.clip(frame * brightness, 0, 255).astype(np.uint8)
            writer.write(frame)
            footage.boxes.append(boxes)
            footage.faces.append([i % len(faces) for i in identities])
    finally:
        writer.release()
    return footage


def write_face_video(path, faces, frames=60, fps=30, **kwargs):
    """Write continuous footage of real faces; returns the true boxes of every frame."""
    return write_scene_video(path, faces, frames, fps, **kwargs).boxes


def load_labelled_faces(root, per_class=1, split="validation"):
    """(faces, class indices): the first `per_class` clear (high-contrast) faces of each
    class of a FER-2013 folder, one class after another, classes in folder order."""
    faces, labels = [], []
    classes = sorted(p for p in (Path(root) / split).iterdir() if p.is_dir())
    for round_ in range(per_class):
        for label, folder in enumerate(classes):
            clear = [image for image in (cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
                                         for p in sorted(folder.iterdir())[:40 * per_class])
                     if image is not None and image.std() > 40]
            if len(clear) > round_:
                faces.append(clear[round_])
                labels.append(label)
    return faces, labels


def load_fer_faces(root, count=12, split="validation"):
    """`count` clear faces from a FER-2013 folder, one class after another (repeated if needed)."""
    faces, _ = load_labelled_faces(root, split=split)
    while len(faces) < count and faces:
        faces += faces
    return faces[:count]


def match_detections(truth, detections, min_iou=0.3):
    """How many ground-truth boxes a detection overlaps by at least `min_iou`."""
    return sum(any(iou(t, d) >= min_iou for d in detections) for t in truth)


def varied_face(face, rng):
    """The same face as another camera or moment shows it: a little turned, lit, blurred."""
    angle, gain, blur = rng.uniform(-8, 8), rng.uniform(0.75, 1.25), rng.uniform(0, 1.2)
    turned = cv2.warpAffine(face, cv2.getRotationMatrix2D((24, 24), angle, 1.0), (48, 48),
                            borderMode=cv2.BORDER_REPLICATE)
    lit = np.clip(turned.astype(np.float32) * gain, 0, 255).astype(np.uint8)
    return cv2.GaussianBlur(lit, (0, 0), blur) if blur > 0.3 else lit


def write_returns_video(path, faces, shots=24, shot_frames=45, fps=30, width=1280, height=720, brightness=1.0,
                        seed=0):
    """Footage of persons who come back: `shots` shots of `shot_frames` frames, each after a hard
    cut (a new background), showing 1-3 of the persons (`faces`, one each) in new places and
    sizes, each varied (`varied_face`); in every other shot one person leaves the picture for a
    third of the shot and comes back elsewhere. Returns its Footage (faces: person indices)."""
    rng = np.random.default_rng(seed)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG" if Path(path).suffix == ".avi" else "mp4v"),
                             fps, (width, height))
    footage = Footage([], [])
    try:
        for shot in range(shots):
            back = background(width, height, seed=100 + shot, level=tuple(rng.integers(40, 200, 2)))
            people = list(rng.choice(len(faces), size=int(rng.integers(1, 4)), replace=False))
            looks = {p: varied_face(faces[p], rng) for p in people}
            columns = rng.permutation(3)
            sizes = {p: int(rng.integers(110, 220)) for p in people}
            places = {p: (int(columns[i] * width / 3 + rng.integers(20, width / 3 - sizes[p] - 20)),
                          int(rng.integers(20, height - sizes[p] - 20))) for i, p in enumerate(people)}
            leaver = people[0] if shot % 2 else None
            free = int(columns[len(people)]) if len(people) < 3 else int(columns[0])
            for index in range(shot_frames):
                if leaver is not None and index == 2 * shot_frames // 3:   # back, in a free place
                    places[leaver] = (int(free * width / 3 + 20), places[leaver][1])
                shown = [p for p in people if not (p == leaver and shot_frames // 3 <= index < 2 * shot_frames // 3)]
                boxes = [(places[p][0], places[p][1], sizes[p], sizes[p]) for p in shown]
                frame = compose_frame(back, [looks[p] for p in shown], boxes)
                if brightness != 1.0:
                    frame = np.clip(frame * brightness, 0, 255).astype(np.uint8)
                writer.write(frame)
                footage.boxes.append(boxes)
                footage.faces.append([int(p) for p in shown])
                footage.shots.append(shot)
    finally:
        writer.release()
    return footage
