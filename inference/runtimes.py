"""A trained classifier at inference time: the runtime that runs it, and its probabilities.

`train.py` and `export.py` write two LiteRT twins beside each `NAME.h5` (artefacts.py):
- `NAME.tflite`: the same network in float32 (probabilities equal to about 1e-6);
- `NAME.int8.tflite`: weights quantised to int8 (XNNPACK's dynamic-range kernels):
  about 1.4x faster a face, a quarter of the size, accuracy within 0.1 point
  (docs/REALTIME.md).
Both start in milliseconds where importing Keras takes seconds, and both record
the SHA-256 of the .h5 they were exported from, so that they can never silently
drift apart from it.

Nothing here imports Keras or TensorFlow unless the Keras runtime is chosen:
the app's LiteRT path never pays for them.
"""
import sys
from pathlib import Path

import numpy as np

import data
from artefacts import (TWIN_RUNTIMES, ModelError, check_classifier, litert_path, load_class_names,
                       twin_problem)
from common.native_logs import import_keras_quietly, quiet_stderr


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
    for candidate in TWIN_RUNTIMES:
        problem = twin_problem(model_path, candidate)
        if problem is None:
            return candidate
        if litert_path(model_path, candidate).is_file():
            stale.append(problem)
    if stale:
        print(f"warning: {stale[0]}; using Keras (re-export with `python export.py --model {model_path}`)",
              file=sys.stderr)
    return "keras"


def load_classifier(model_path, runtime="auto", threads=2):
    """(classifier, class_names, runtime chosen) for the model at `model_path`."""
    model_path = Path(model_path)
    if not model_path.is_file() and not any(litert_path(model_path, r).is_file() for r in TWIN_RUNTIMES):
        raise FileNotFoundError(f"model not found: {model_path} (train one with `python train.py`)")
    chosen = choose_runtime(model_path, runtime)
    class_names = load_class_names(model_path)
    if chosen != "keras":
        classifier = LiteRTClassifier(litert_path(model_path, chosen), threads)
        check_classifier(classifier, litert_path(model_path, chosen), class_names)
        return classifier, class_names, chosen
    import_keras_quietly()
    from model import load_trained_model
    classifier, class_names = load_trained_model(model_path, class_names)
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
