"""Soft labels: what trained models (teachers) say about each training face, for a new
model to learn from besides the folder labels (knowledge distillation).

The teachers' averaged probabilities are computed once and saved with the face each
row belongs to (`python -m training.soft_labels`), so `train.py --soft-labels FILE` costs no
more than training on the folder labels and needs none of the teachers. The shipped
model learnt from `models/teachers7.npz`, which `train.py` uses by default wherever it
holds every training face (FER-2013's).
"""
from pathlib import Path

import numpy as np

from artefacts import PROJECT
from data import DatasetError

SHIPPED_TEACHERS = PROJECT / "models" / "teachers7.npz"


def save_soft_labels(path, split, probabilities, models=1):
    """Write each face's probabilities (N, classes) of `split` with its file name, and
    how many models' mean they are (what `training/soft_labels.py` weighs files by)."""
    probabilities = np.asarray(probabilities, np.float32)
    if probabilities.shape != (len(split.files), len(split.class_names)):
        raise ValueError(f"probabilities of shape {probabilities.shape} for {len(split.files)} faces "
                         f"of {len(split.class_names)} classes")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, files=np.array(split.files), class_names=np.array(split.class_names),
                        probabilities=probabilities.astype(np.float16), models=np.int64(models))


def models_averaged(path):
    """How many models' probabilities the soft labels at `path` are the mean of."""
    with np.load(path) as saved:
        if "models" not in saved:
            raise DatasetError(f"{path} does not say how many models it averages")
        return int(saved["models"])


def load_soft_labels(path, split):
    """The saved probabilities in the row order of `split`, as float32 (N, classes),
    each row summing to 1. Every face of `split` must have one, for the same classes."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"soft labels not found: {path}")
    with np.load(path) as saved:
        files, class_names = saved["files"].tolist(), saved["class_names"].tolist()
        probabilities = saved["probabilities"].astype(np.float32)
    if class_names != list(split.class_names):
        raise DatasetError(f"{path} holds soft labels for {class_names}, not {list(split.class_names)}")
    row = {name: i for i, name in enumerate(files)}
    missing = [name for name in split.files if name not in row]
    if missing:
        raise DatasetError(f"{path} has no soft labels for {len(missing)} of {len(split.files)} faces "
                           f"(first: {missing[0]}): made for another dataset?")
    aligned = probabilities[[row[name] for name in split.files]]
    return aligned / aligned.sum(axis=1, keepdims=True)   # float16 rounding


def choose_soft_labels(choice, split):
    """(probabilities or None, a line saying which) for `train.py --soft-labels CHOICE`:
    "none"; a file, which must hold every face of `split`; or "auto": the shipped
    teachers' file where it holds every face of `split`, else none."""
    if choice == "none":
        return None, "none"
    if choice != "auto":
        return load_soft_labels(choice, split), str(choice)
    try:
        return load_soft_labels(SHIPPED_TEACHERS, split), str(SHIPPED_TEACHERS)
    except (FileNotFoundError, DatasetError) as reason:
        return None, f"none, since {reason}"
