"""Face images in, model-ready arrays out.

- `preprocess_face`: THE preprocessing function. Training, evaluation and the app
  all turn a face image into the model's input through it.
- `load_dataset` / `load_split`: class-per-folder datasets (`train/`, `validation/`,
  optionally wrapped in `images/`, the Kaggle layout) loaded into memory.
- augmentation (`augment_batch`, `AUGMENTATIONS`) and test-time views (`tta_views`);
  `batches.py` turns them into training batches.

Why in-memory arrays and not `image_dataset_from_directory`: FER-2013 is small
(28,709 faces of 48x48), so decoding it once and augmenting with OpenCV affine
warps keeps the data pipeline far below the cost of a training step, and works
on any Keras backend. See docs/TRAINING.md, "Data pipeline".
"""
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

IMAGE_SIZE = 48
SPLITS = ("train", "validation")
# FER-2013 as class folders, where this project's checkout has it (beside the project folder)
DEFAULT_DATA = Path(__file__).resolve().parent.parent / "shared" / "data" / "fer2013"


class DatasetError(ValueError):
    """A dataset that cannot be used; the message names the path and the problem."""


def to_gray(image):
    """Any OpenCV image (grey, BGR, BGRA; 8 or 16 bit) as 8-bit greyscale."""
    image = np.asarray(image)
    if image.dtype == np.uint16:
        image = (image // 257).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return image
    if image.shape[2] == 4:
        # Transparent pixels become white, as image viewers show them.
        alpha = image[:, :, 3:4].astype(np.float32) / 255.0
        rgb = image[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        image = rgb.astype(np.uint8)
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


LIGHT_FIXES = ("none", "stretch", "clahe")
_clahe = None


def fix_light(faces, kind="none"):
    """Undo poor lighting on float faces in [0, 1], shape (48, 48, 1) or (N, 48, 48, 1).

    stretch: each face's darkest pixel becomes 0 and its brightest 1.
    clahe: contrast-limited adaptive histogram equalisation on each face.
    """
    global _clahe
    if kind == "none":
        return faces
    single = faces.ndim == 3
    batch = faces[np.newaxis] if single else faces
    if kind == "stretch":
        low = batch.min(axis=(1, 2, 3), keepdims=True)
        high = batch.max(axis=(1, 2, 3), keepdims=True)
        fixed = (batch - low) / np.maximum(high - low, 1e-6)
    elif kind == "clahe":
        if _clahe is None:  # built lazily: nothing runs at import time
            _clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4))
        fixed = np.stack([_clahe.apply(np.round(f[:, :, 0] * 255).astype(np.uint8))[:, :, np.newaxis]
                          for f in batch]).astype(np.float32) / 255.0
    else:
        raise ValueError(f"unknown light fix {kind!r} (choose from {', '.join(LIGHT_FIXES)})")
    fixed = fixed.astype(np.float32)
    return fixed[0] if single else fixed


def preprocess_face(image, light_fix="none"):
    """A face image of any size and colour -> float32 (48, 48, 1) in [0, 1]."""
    gray = to_gray(image)
    if gray.shape != (IMAGE_SIZE, IMAGE_SIZE):
        shrinking = gray.shape[0] > IMAGE_SIZE or gray.shape[1] > IMAGE_SIZE
        gray = cv2.resize(gray, (IMAGE_SIZE, IMAGE_SIZE),
                          interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    return fix_light((gray.astype(np.float32) / 255.0)[:, :, np.newaxis], light_fix)


def preprocess_faces(images, light_fix="none"):
    """A list of face images -> float32 batch (N, 48, 48, 1)."""
    if len(images) == 0:
        return np.zeros((0, IMAGE_SIZE, IMAGE_SIZE, 1), np.float32)
    return np.stack([preprocess_face(image, light_fix) for image in images])


def read_image(path):
    """Decode an image file; returns (image, None) or (None, reason it is unusable)."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            return None, "empty file"
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        return None, f"unreadable ({error.strerror})"
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        return None, "not a readable image"
    if to_gray(image).std() < 1.0:
        return None, "blank image"
    return image, None


@dataclass
class Split:
    x: np.ndarray          # float32 (N, 48, 48, 1) in [0, 1]
    y: np.ndarray          # int class indices (N,)
    class_names: list
    skipped: list          # [(path, reason)]
    files: list = field(default_factory=list)   # "class/file name" of each face, as x


@dataclass
class Dataset:
    train: Split
    validation: Split

    @property
    def class_names(self):
        return self.train.class_names


def resolve_root(root):
    """The folder holding train/ and validation/ (accepts the Kaggle `images/` wrapper)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset folder not found: {root}")
    for candidate in (root, root / "images"):
        if all((candidate / split).is_dir() for split in SPLITS):
            return candidate
    missing = [s for s in SPLITS if not (root / s).is_dir()]
    raise DatasetError(f"{root} has no {' or '.join(m + '/' for m in missing)} folder "
                       f"(expected {root}/train/<class>/ and {root}/validation/<class>/)")


def class_folders(split_dir):
    """Sorted class names of a split: its sub-folders."""
    split_dir = Path(split_dir)
    if not split_dir.is_dir():
        raise DatasetError(f"folder not found: {split_dir}")
    names = sorted(p.name for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not names:
        raise DatasetError(f"{split_dir} has no class folders")
    return names


def load_split(split_dir, class_names=None, workers=4, allow_missing=False):
    """Load every image under split_dir/<class>/ into memory.

    With `class_names`, the split's folders must be exactly those classes; with
    `allow_missing` too, some of them may be absent or empty (a dataset without some of a
    model's classes: CK+ has no neutral), and the Split keeps the full list. Unusable
    files are skipped and listed in `Split.skipped`, never dropped silently.
    """
    split_dir = Path(split_dir)
    found = class_folders(split_dir)
    partial = allow_missing and class_names is not None and set(found) <= set(class_names)
    if class_names is not None and list(class_names) != found and not partial:
        raise DatasetError(_class_mismatch(split_dir, class_names, found))
    names = list(class_names) if partial else found
    files, labels = [], []
    for index, name in enumerate(names):
        folder = split_dir / name
        paths = sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
        if not paths and partial:
            continue
        if not paths:
            raise DatasetError(f"class folder is empty: {split_dir / name}")
        files += paths
        labels += [index] * len(paths)
    # We name each unusable file ourselves; OpenCV's own decoder messages would only add noise.
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    with ThreadPoolExecutor(workers) as pool:  # cv2 decoding releases the GIL
        decoded = list(pool.map(read_image, files))
    x, y, kept, skipped = [], [], [], []
    for path, label, (image, reason) in zip(files, labels, decoded):
        if image is None:
            skipped.append((path, reason))
        else:
            x.append(preprocess_face(image))
            y.append(label)
            kept.append(f"{path.parent.name}/{path.name}")
    if not x:
        raise DatasetError(f"no usable images in {split_dir}")
    return Split(np.stack(x), np.array(y, dtype=np.int64), names, skipped, kept)


def _class_mismatch(where, expected, found):
    only_expected = sorted(set(expected) - set(found))
    only_found = sorted(set(found) - set(expected))
    if not only_expected and not only_found:
        return f"class folders in {where} are ordered differently from {list(expected)}"
    parts = []
    if only_expected:
        parts.append(f"missing {', '.join(only_expected)}")
    if only_found:
        parts.append(f"unexpected {', '.join(only_found)}")
    return f"class folders in {where} differ from {list(expected)}: {'; '.join(parts)}"


def load_dataset(root):
    """Load train/ and validation/ of a dataset root; both must hold the same classes."""
    root = resolve_root(root)
    train = load_split(root / "train")
    if len(train.class_names) < 2:
        raise DatasetError(f"{root / 'train'} has one class folder ({train.class_names[0]}): "
                           f"a classifier needs at least two")
    validation = load_split(root / "validation", class_names=train.class_names)
    return Dataset(train, validation)


def report_skipped(skipped, stream=None):
    """One warning per skipped file, then the total."""
    stream = stream or sys.stderr
    for path, reason in skipped:
        print(f"warning: skipped {path}: {reason}", file=stream)
    if skipped:
        print(f"warning: {len(skipped)} file(s) skipped in total", file=stream)


def class_distribution(dataset):
    """Counts per class and split, as a pandas DataFrame (classes as rows)."""
    import pandas as pd
    table = pd.DataFrame({
        split: np.bincount(getattr(dataset, split).y, minlength=len(dataset.class_names))
        for split in SPLITS
    }, index=pd.Index(dataset.class_names, name="class"))
    table["share_%"] = (100 * table["train"] / table["train"].sum()).round(1)
    return table


def balanced_class_weights(y, num_classes):
    """n / (k * count) per class, like scikit-learn's 'balanced'."""
    counts = np.bincount(y, minlength=num_classes).astype(np.float64)
    return len(y) / (num_classes * np.maximum(counts, 1))


def warp_face(image, flip=False, angle=0.0, zoom=1.0, shift=(0.0, 0.0)):
    """One (48, 48, 1) face mirrored, then rotated (degrees), zoomed and shifted (pixels)."""
    gray = image[:, :, 0]
    if flip:
        gray = gray[:, ::-1]
    size = gray.shape[0]
    matrix = cv2.getRotationMatrix2D((size / 2 - 0.5, size / 2 - 0.5), angle, zoom)
    matrix[:, 2] += shift
    warped = cv2.warpAffine(np.ascontiguousarray(gray), matrix, (size, size),
                            flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    return warped[:, :, np.newaxis]


def augment_batch(images, rng, max_rotation=10.0, max_shift=0.1, max_zoom=0.1, min_crop=IMAGE_SIZE,
                  erase=0.0, frame_jitter=0.0, degrade=0.0):
    """Random flip, rotation (degrees), zoom and shift of a batch (N, 48, 48, 1), one
    OpenCV affine warp per image, then camera degradations and random erasing.

    min_crop < 48: crop jitter instead of the zoom and shift limits: a random square
    of min_crop to 48 pixels anywhere in the face, scaled back to 48x48.
    frame_jitter > 0: instead of those, the face framed as a detector's square frames it:
    see `framing_jitter`.
    degrade: the chance that a face looks as through a real camera (`degrade_face`).
    erase: the chance that a face gets a random rectangle (2-33% of its area, aspect
    0.3-3.3) filled with noise (Zhong et al., 2017), so no one region decides.
    """
    count, size = len(images), images.shape[1]
    flips = rng.random(count) < 0.5
    angles = rng.uniform(-max_rotation, max_rotation, count)
    if frame_jitter > 0:
        zooms, shifts = framing_jitter(rng, count, frame_jitter, size)
    elif min_crop < size:
        crops = rng.uniform(min_crop, size, count)
        zooms = size / crops
        # the crop's centre may lie anywhere that keeps the crop inside the face
        shifts = -rng.uniform(-1, 1, (count, 2)) * ((size - crops) / 2 * zooms)[:, np.newaxis]
    else:
        zooms = rng.uniform(1 - max_zoom, 1 + max_zoom, count)
        shifts = rng.uniform(-max_shift, max_shift, (count, 2)) * size
    out = np.stack([warp_face(image, flip, angle, zoom, shift)
                    for image, flip, angle, zoom, shift in zip(images, flips, angles, zooms, shifts)])
    if degrade > 0:   # no draw otherwise: the random sequence of earlier recipes stays
        for index in np.flatnonzero(rng.random(count) < degrade):
            out[index] = degrade_face(out[index], rng)
    if erase > 0:
        erase_rectangles(out, rng, rng.random(count) < erase)
    return out


# The spread of the detectors' face squares around the true face, in the face's side:
# sd of log(square side / true side) and sd of the centre's shift (x and y alike), measured
# by `python bench/crop_calibration.py --faces 3500` on validation/ faces (YuNet 0.149 and
# 0.048, Haar 0.132 and 0.050; docs/TRAINING.md, "Model v4"). --frame-jitter 1 draws from
# this spread; 2 from twice it.
DETECTOR_SPREAD = {"log_side": 0.14, "shift": 0.05}


def framing_jitter(rng, count, strength, size=IMAGE_SIZE):
    """(zooms, shifts in pixels) for `warp_face` that frame each face as a detector's square
    would: a square `exp(N(0, strength * log_side sd))` times the face's side, its centre
    `N(0, strength * shift sd)` sides away. Wider squares show the reflected border."""
    sides = np.exp(rng.normal(0.0, strength * DETECTOR_SPREAD["log_side"], count))
    centres = rng.normal(0.0, strength * DETECTOR_SPREAD["shift"], (count, 2)) * size
    zooms = 1.0 / sides
    return zooms, -centres * zooms[:, np.newaxis]


def degrade_face(face, rng):
    """One (48, 48, 1) face in [0, 1] as a real camera and the app's framing may give it:
    each of these with a chance of one half, in this order: softened, either downscaled to
    20-40 pixels and back (a small face found far away) or blurred (sigma 0.4-1: focus,
    motion); gamma 0.6-1.6 and contrast 0.6-1 (dim or washed-out light); sensor noise (sd
    1-4%); JPEG at quality 30-90 (streams and webcams). Milder than what makes a face hard
    to read by eye."""
    gray = face[:, :, 0]
    size = gray.shape[0]
    if rng.random() < 0.5:
        if rng.random() < 0.5:
            small = int(rng.integers(20, 41))
            gray = cv2.resize(cv2.resize(gray, (small, small), interpolation=cv2.INTER_AREA), (size, size),
                              interpolation=cv2.INTER_LINEAR)
        else:
            gray = cv2.GaussianBlur(gray, (0, 0), rng.uniform(0.4, 1.0))
    if rng.random() < 0.5:
        gray = np.clip(gray, 0, 1) ** np.exp(rng.uniform(np.log(0.6), np.log(1.6)))
        gray = gray.mean() + rng.uniform(0.6, 1.0) * (gray - gray.mean())
    if rng.random() < 0.5:
        gray = gray + rng.normal(0.0, rng.uniform(0.01, 0.04), gray.shape)
    if rng.random() < 0.5:
        pixels = np.round(np.clip(gray, 0, 1) * 255).astype(np.uint8)
        _, encoded = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 91))])
        gray = cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0
    return np.clip(gray, 0, 1).astype(np.float32)[:, :, np.newaxis]


def erase_rectangles(images, rng, chosen, area=(0.02, 0.33), aspect=(0.3, 3.3)):
    """Fill one random rectangle of each chosen image with uniform noise, in place."""
    size = images.shape[1]
    for index in np.flatnonzero(chosen):
        for _ in range(10):   # a rectangle too long for the face is drawn again
            target = rng.uniform(*area) * size * size
            ratio = np.exp(rng.uniform(np.log(aspect[0]), np.log(aspect[1])))
            height, width = int(round(np.sqrt(target * ratio))), int(round(np.sqrt(target / ratio)))
            if 0 < height < size and 0 < width < size:
                top, left = rng.integers(0, size - height + 1), rng.integers(0, size - width + 1)
                images[index, top:top + height, left:left + width] = rng.random((height, width, 1))
                break


# Augmentation strengths: the limits of the random warp (rotation in degrees, shift and
# zoom as fractions of the face). "light" stays within the TTA views' range below; the
# shipped model was finished with it after training with "on" (docs/journal/, 27 November:
# phase 7, Late ablations).
AUGMENTATIONS = {
    "off": None,
    "light": {"max_rotation": 6.0, "max_shift": 0.05, "max_zoom": 0.05},
    "on": {"max_rotation": 10.0, "max_shift": 0.1, "max_zoom": 0.1},
}


# Test-time augmentation: each face and its mirror image, each as is, rotated 6 degrees
# either way and zoomed in 5%, all within the training augmentation's range. On four
# checkpoints this beat a single pass by 0.3-1.0 points, where the mirror image alone
# gave -0.3 to +0.3 (docs/journal/, 27 November: Results in full).
TTA_VIEWS = tuple((flip, angle, zoom) for flip in (False, True)
                  for angle, zoom in ((0.0, 1.0), (6.0, 1.0), (-6.0, 1.0), (0.0, 1.05)))


def tta_views(faces):
    """Preprocessed faces (N, 48, 48, 1) -> their TTA views (len(TTA_VIEWS), N, 48, 48, 1)."""
    return np.stack([np.stack([warp_face(face, flip, angle, zoom) for face in faces])
                     for flip, angle, zoom in TTA_VIEWS]).astype(np.float32)
