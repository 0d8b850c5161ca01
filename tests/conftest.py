"""Shared fixtures: small datasets and models made on the spot, and the real-data location."""
import os
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FER2013 = ROOT.parent / "shared" / "data" / "fer2013"
SHIPPED_MODEL = ROOT / "models" / "modelTrained.h5"


def pattern_image(kind, rng, size=48):
    """A noisy greyscale image of a clearly visible pattern: one pattern per class."""
    phase = rng.integers(0, 8)
    yy, xx = np.mgrid[0:size, 0:size]
    if kind == "horizontal":
        image = ((yy + phase) // 4) % 2
    elif kind == "vertical":
        image = ((xx + phase) // 4) % 2
    else:  # a bright disc on a dark background
        cy, cx = size / 2 + rng.integers(-4, 5), size / 2 + rng.integers(-4, 5)
        image = ((yy - cy) ** 2 + (xx - cx) ** 2 < (size / 4) ** 2).astype(int)
    noisy = image * 180 + 40 + rng.normal(0, 12, (size, size))
    return np.clip(noisy, 0, 255).astype(np.uint8)


def make_dataset(root, classes=("disc", "horizontal", "vertical"), per_class=(40, 12), seed=0):
    """Write a train/ and validation/ class-folder dataset of pattern images; return root."""
    rng = np.random.default_rng(seed)
    for split, count in zip(("train", "validation"), per_class):
        for name in classes:
            folder = Path(root) / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                cv2.imwrite(str(folder / f"{i:03d}.png"), pattern_image(name, rng))
    return Path(root)


@pytest.fixture
def pattern_dataset(tmp_path):
    return make_dataset(tmp_path / "patterns")


@pytest.fixture(scope="session")
def app_model(tmp_path_factory):
    """(model path, class names): the shipped model when present, else an untrained one.

    The app's tests check the pipeline (boxes, rows, files), not the labels' accuracy.
    """
    from model import build_model, save_trained_model
    from runtime import load_class_names
    if SHIPPED_MODEL.is_file():
        return SHIPPED_MODEL, load_class_names(SHIPPED_MODEL)
    names = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
    path = tmp_path_factory.mktemp("model") / "model.h5"
    save_trained_model(build_model(len(names)), path, names)
    return path, names


@pytest.fixture(scope="session")
def fer_faces():
    """Real FER-2013 faces (48x48 grey) that Haar finds, or skip where the data set is absent."""
    if not (FER2013 / "validation").is_dir():
        pytest.skip(f"FER-2013 not found at {FER2013}")
    from bench.scene import load_fer_faces
    return load_fer_faces(FER2013, 4)
