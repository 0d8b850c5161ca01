"""A trained classifier at inference time: its class names, and the runtime that runs it.

A model is `NAME.h5` (Keras) with `NAME.labels.json` beside it. `train.py` and
`export.py` also write its LiteRT twins for the app's fast runtime:
- `NAME.tflite`: the same network in float32 (probabilities equal to about 1e-6);
- `NAME.int8.tflite`: weights quantised to int8 (XNNPACK's dynamic-range kernels):
  about 1.4x faster a face, a quarter of the size, accuracy within 0.1 point
  (docs/REALTIME.md).
Both start in milliseconds where importing Keras takes seconds, and both record
the SHA-256 of the .h5 they were exported from, so that they can never silently
drift apart from it.

Nothing here imports Keras or TensorFlow unless the Keras runtime is chosen
(or a model is exported): the app's LiteRT path never pays for them.
"""
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

import data
from quiet import import_keras_quietly, quiet_stderr

RUNTIMES = ("auto", "litert-int8", "litert", "keras")
FINGERPRINT_KEY = "emotion_source_h5_sha256"   # name of our entry in the .tflite's metadata


class ModelError(ValueError):
    """A model (or its class names) that cannot be used; the message names the file."""


def labels_path(model_path):
    """Where the class names of the model at `model_path` live."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.stem + ".labels.json")


def litert_path(model_path, runtime="litert"):
    """Where the LiteRT twin of the model at `model_path` lives, for runtime litert or litert-int8."""
    return Path(model_path).with_suffix(".int8.tflite" if runtime == "litert-int8" else ".tflite")


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


def export_litert(model, h5_path, runtime="litert"):
    """Write a LiteRT twin (runtime litert or litert-int8) of the Keras model saved at
    `h5_path`, carrying the .h5's fingerprint. Needs TensorFlow (Keras' exporter
    converts through it); returns the path written."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    target = litert_path(h5_path, runtime)
    partial = target.with_name(target.stem + ".partial.tflite")
    options = {}
    if runtime == "litert-int8":
        import tensorflow as tf
        options["optimizations"] = [tf.lite.Optimize.DEFAULT]   # int8 weights, float activations
    with quiet_stderr():   # the converter's C++ log lines
        model.export(str(partial), format="litert", verbose=False, **options)
    tree = schema.ModelT.InitFromObj(schema.Model.GetRootAs(partial.read_bytes(), 0))
    entry = schema.BufferT()
    entry.data = np.frombuffer(fingerprint(h5_path).encode(), np.uint8)
    tree.buffers.append(entry)
    metadata = schema.MetadataT()
    metadata.name, metadata.buffer = FINGERPRINT_KEY, len(tree.buffers) - 1
    tree.metadata = (tree.metadata or []) + [metadata]
    builder = flatbuffers.Builder(partial.stat().st_size + 1024)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    partial.write_bytes(builder.Output())
    partial.replace(target)
    return target


def export_twins(model, h5_path):
    """Both LiteRT twins (float32 and int8) of the model saved at `h5_path`; their paths."""
    return [export_litert(model, h5_path, runtime) for runtime in ("litert", "litert-int8")]


def read_litert_fingerprint(path):
    """The .h5 fingerprint recorded in a .tflite by `export_litert`, or None."""
    from ai_edge_litert import schema_py_generated as schema
    content = Path(path).read_bytes()
    try:
        tree = schema.Model.GetRootAs(content, 0)
        for i in range(tree.MetadataLength()):
            entry = tree.Metadata(i)
            if entry.Name() == FINGERPRINT_KEY.encode():
                return bytes(tree.Buffers(entry.Buffer()).DataAsNumpy()).decode()
    except Exception:   # not a flatbuffer at all: the interpreter will say so
        return None
    return None


class LiteRTClassifier:
    """The LiteRT interpreter behind the same `predict_on_batch` / `output_shape` as a Keras model."""

    def __init__(self, path, threads=2):
        from ai_edge_litert.interpreter import Interpreter
        try:
            with quiet_stderr():   # its "Created TensorFlow Lite XNNPACK delegate" notice
                self.interpreter = Interpreter(model_path=str(path), num_threads=threads)
                self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as error:
            raise ModelError(f"cannot load LiteRT model {path}: {str(error).splitlines()[0]}") from None
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.input_shape = (None,) + tuple(int(n) for n in self.input["shape"][1:])
        self.output_shape = (None, int(self.output["shape"][-1]))
        self.batch = int(self.input["shape"][0])

    def predict_on_batch(self, faces):
        faces = np.ascontiguousarray(faces, np.float32)
        if len(faces) != self.batch:   # re-planning for a new batch size costs ~10 us
            self.interpreter.resize_tensor_input(self.input["index"], faces.shape)
            self.interpreter.allocate_tensors()
            self.batch = len(faces)
        self.interpreter.set_tensor(self.input["index"], faces)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output["index"]).copy()


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


def choose_runtime(model_path, runtime="auto"):
    """Which runtime to use for `model_path`: 'litert-int8', 'litert' or 'keras'.

    auto takes the first LiteRT twin (int8, then float32) that belongs to this .h5,
    else Keras (with a warning where a twin exists but belongs to another model).
    litert and litert-int8 refuse a twin that is missing or belongs to another model.
    """
    if runtime == "keras":
        return "keras"
    if runtime != "auto":
        problem = twin_problem(model_path, runtime)
        if problem:
            raise ModelError(f"{problem}; export it with `python export.py --model {model_path}`")
        return runtime
    stale = []
    for candidate in ("litert-int8", "litert"):
        problem = twin_problem(model_path, candidate)
        if problem is None:
            return candidate
        if litert_path(model_path, candidate).is_file():
            stale.append(problem)
    if stale:
        print(f"warning: {stale[0]}; using Keras (re-export with `python export.py --model {model_path}`)",
              file=sys.stderr)
    return "keras"


def load_classifier(model_path, runtime="auto"):
    """(classifier, class_names, runtime chosen) for the model at `model_path`."""
    model_path = Path(model_path)
    if not model_path.is_file() and not any(litert_path(model_path, r).is_file()
                                            for r in ("litert", "litert-int8")):
        raise FileNotFoundError(f"model not found: {model_path} (train one with `python train.py`)")
    chosen = choose_runtime(model_path, runtime)
    class_names = load_class_names(model_path)
    if chosen != "keras":
        classifier = LiteRTClassifier(litert_path(model_path, chosen))
        check_classifier(classifier, litert_path(model_path, chosen), class_names)
        return classifier, class_names, chosen
    import_keras_quietly()
    from model import load_trained_model
    classifier, class_names = load_trained_model(model_path)
    return classifier, class_names, chosen


def predict_proba(model, faces, tta=False, batch_size=256):
    """Class probabilities (N, classes) for preprocessed faces (N, 48, 48, 1).

    `model` is a Keras model or a LiteRTClassifier. tta: average the
    probabilities of each face's views in `data.TTA_VIEWS`.
    """
    faces = np.asarray(faces, dtype=np.float32)
    if len(faces) == 0:
        return np.zeros((0, model.output_shape[-1]), np.float32)
    views = data.tta_views(faces) if tta else faces[np.newaxis]
    batch = views.reshape((-1,) + faces.shape[1:])
    probs = np.concatenate([np.asarray(model.predict_on_batch(batch[i:i + batch_size]), np.float32)
                            for i in range(0, len(batch), batch_size)])
    return probs.reshape(len(views), len(faces), -1).mean(axis=0)
