"""A trained model on disk: which files make it up, its class names, the fingerprint that ties
its LiteRT twins to it, and the checks that it is a classifier the app can use.

    NAME.h5            the Keras model (model.py writes and reads it)
    NAME.labels.json   its class names in output order: the only place they are defined
    NAME.tflite        its LiteRT twin in float32, carrying the .h5's fingerprint
    NAME.int8.tflite   the same with int8 weights: what the app runs by default
    NAME.history.csv, NAME.curves.png, ...   what a training run writes beside it

Keras-free: the Keras side (model.py), the runtimes (inference/) and the training run all
read the format from here, so the file naming is written down once.
"""
import hashlib
import json
from pathlib import Path

import data

PROJECT = Path(__file__).resolve().parent
DEFAULT_MODEL = PROJECT / "models" / "modelTrained.h5"

# How a trained model can be run: auto picks the first LiteRT twin that belongs to the .h5.
RUNTIMES = ("auto", "litert-int8", "litert", "keras")
TWIN_RUNTIMES = ("litert-int8", "litert")   # the order auto tries them in
FINGERPRINT_KEY = "emotion_source_h5_sha256"   # name of our entry in a .tflite's metadata


class ModelError(ValueError):
    """A model (or its class names) that cannot be used; the message names the file."""


def artefact_paths(model_path):
    """Every file of the model at `model_path` and of the training run that writes it, by name."""
    model_path = Path(model_path)
    stem = model_path.with_suffix("")
    return {
        "model": model_path,
        "labels": Path(f"{stem}.labels.json"),
        "history": Path(f"{stem}.history.csv"),
        "curves": Path(f"{stem}.curves.png"),
        "classes": Path(f"{stem}.classes.png"),
        "resume": Path(f"{stem}.resume.keras"),
        "average": Path(f"{stem}.average.npz"),
        "options": Path(f"{stem}.options.json"),
        "litert": Path(f"{stem}.tflite"),
        "litert-int8": Path(f"{stem}.int8.tflite"),
    }


def labels_path(model_path):
    """Where the class names of the model at `model_path` live."""
    return artefact_paths(model_path)["labels"]


def litert_path(model_path, runtime="litert"):
    """Where the LiteRT twin of the model at `model_path` lives, for runtime litert or litert-int8."""
    return artefact_paths(model_path)["litert-int8" if runtime == "litert-int8" else "litert"]


def save_class_names(model_path, class_names):
    """Write the class names beside `model_path` atomically (a temporary name, then a rename)."""
    target = labels_path(model_path)
    partial = target.with_suffix(".json.partial")
    partial.write_text(json.dumps({"class_names": list(class_names)}, indent=2) + "\n")
    partial.replace(target)


def load_class_names(model_path):
    """The class names saved beside `model_path`.

    Accepts {"class_names": [...]} (what train.py writes) and a bare JSON list.
    """
    path = labels_path(model_path)
    if not path.is_file():
        raise FileNotFoundError(f"class names file not found: {path}")
    try:
        content = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelError(f"{path} is not valid JSON ({error})") from None
    names = content.get("class_names") if isinstance(content, dict) else content
    if not (isinstance(names, list) and names and all(isinstance(n, str) and n for n in names)):
        raise ModelError(f'{path} must hold {{"class_names": ["angry", ...]}} or a JSON list of names')
    if len(set(names)) != len(names):
        raise ModelError(f"{path} names a class twice: {names}")
    return names


def fingerprint(path):
    """SHA-256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_litert_fingerprint(path, key=FINGERPRINT_KEY):
    """The source's fingerprint recorded under `key` in a .tflite when it was exported (by
    default the .h5's), or None."""
    from ai_edge_litert import schema_py_generated as schema
    content = Path(path).read_bytes()
    try:
        tree = schema.Model.GetRootAs(content, 0)
        for i in range(tree.MetadataLength()):
            entry = tree.Metadata(i)
            if entry.Name() == key.encode():
                return bytes(tree.Buffers(entry.Buffer()).DataAsNumpy()).decode()
    except Exception:   # not a flatbuffer at all: the interpreter will say so
        return None
    return None


def twin_problem(model_path, runtime):
    """Why the LiteRT twin for `runtime` cannot stand in for the .h5 at `model_path` (None: it can)."""
    twin = litert_path(model_path, runtime)
    if not twin.is_file():
        return f"LiteRT model not found: {twin}"
    if not Path(model_path).is_file():   # only the .tflite was shipped: nothing to drift from
        return None
    recorded = read_litert_fingerprint(twin)
    if recorded == fingerprint(model_path):
        return None
    if recorded:
        return f"{twin} was exported from another model than {model_path}"
    return f"{twin} carries no fingerprint of the model it came from"


def check_classifier(model, path, class_names):
    """A model the app can use takes (48, 48, 1) faces and has one output per class name."""
    expected = (data.IMAGE_SIZE, data.IMAGE_SIZE, 1)
    shape = tuple(model.input_shape[1:]) if model.input_shape else ()
    if shape != expected:
        raise ModelError(f"{path} takes input of shape {shape}, not {expected}: "
                         f"it is not a 48x48 greyscale emotion classifier")
    outputs = model.output_shape[-1]
    if outputs != len(class_names):
        raise ModelError(f"{path} has {outputs} outputs but {labels_path(path)} names "
                         f"{len(class_names)} classes")
