"""The LiteRT twins of a trained model: the same network for the app's fast runtime, each
carrying the fingerprint of the .h5 it came from (artefacts.py). Needs TensorFlow: Keras'
exporter converts through it. `record_fingerprint` also marks SFace's twin with its ONNX
file's (bench/sface_litert.py)."""
from pathlib import Path

import numpy as np

from artefacts import FINGERPRINT_KEY, fingerprint, litert_path
from common.native_logs import quiet_stderr


def export_litert(model, h5_path, runtime="litert"):
    """Write a LiteRT twin (runtime litert or litert-int8) of the Keras model saved at
    `h5_path`, carrying the .h5's fingerprint; returns the path written."""
    target = litert_path(h5_path, runtime)
    partial = target.with_name(target.stem + ".partial.tflite")
    options = {}
    if runtime == "litert-int8":
        import tensorflow as tf
        options["optimizations"] = [tf.lite.Optimize.DEFAULT]   # int8 weights, float activations
    with quiet_stderr():   # the converter's C++ log lines
        model.export(str(partial), format="litert", verbose=False, **options)
    record_fingerprint(partial, target, FINGERPRINT_KEY, fingerprint(h5_path))
    return target


def record_fingerprint(partial, target, key, value):
    """Write the .tflite at `partial` to `target` with `value` (a source file's SHA-256) in
    its metadata under `key`; `partial` is replaced, so `target` is never half written."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    partial, target = Path(partial), Path(target)
    tree = schema.ModelT.InitFromObj(schema.Model.GetRootAs(partial.read_bytes(), 0))
    entry = schema.BufferT()
    entry.data = np.frombuffer(value.encode(), np.uint8)
    tree.buffers.append(entry)
    metadata = schema.MetadataT()
    metadata.name, metadata.buffer = key, len(tree.buffers) - 1
    tree.metadata = (tree.metadata or []) + [metadata]
    builder = flatbuffers.Builder(partial.stat().st_size + 1024)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    partial.write_bytes(builder.Output())
    partial.replace(target)


def export_twins(model, h5_path):
    """Both LiteRT twins (float32 and int8) of the model saved at `h5_path`; their paths."""
    return [export_litert(model, h5_path, runtime) for runtime in ("litert", "litert-int8")]
