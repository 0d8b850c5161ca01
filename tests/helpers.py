"""What the tests share: the project's folders, the real data's location, and small
datasets made on the spot (fixtures built on them are in conftest.py)."""
import shutil
from pathlib import Path

import cv2
import numpy as np

from artefacts import DEFAULT_MODEL, PROJECT
from data import DEFAULT_DATA

ROOT = PROJECT
FER2013 = DEFAULT_DATA
SHIPPED_MODEL = DEFAULT_MODEL
CASCADE = PROJECT / "haarcascade_frontalface_default.xml"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")   # Debian's, never a downloaded one


def launch_chromium(playwright, camera):
    """Headless Debian chromium through Playwright, its fake camera playing the MJPEG file
    `camera`, without the background connections a closed network refuses."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=[
        "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={camera}"])


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
