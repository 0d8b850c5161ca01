"""The emotion CNN: building it, choosing its precision, saving and loading it.

Library code only; the training run (training/), evaluation and the app's Keras runtime
import from here. A trained model is stored as `NAME.h5` (weights and architecture, no
optimizer state) with its class names beside it in `NAME.labels.json` (artefacts.py), so
no other code ever retypes a label order.
"""
import logging
import os
from pathlib import Path

import keras
from keras import layers

from artefacts import ModelError, check_classifier, load_class_names, save_class_names

DEFAULT_DROPOUT = 0.25
# Keras' default BatchNorm momentum (0.99) needs ~500 steps before its moving statistics
# forget their initial values; on a small dataset the model then scores chance at
# inference while training accuracy is high. 0.9 (PyTorch's default) settles in ~50.
BN_MOMENTUM = 0.9


def build_model(num_classes=7, input_shape=(48, 48, 1), dropout=DEFAULT_DROPOUT, width=1.0):
    """Return the 4-block CNN, uncompiled (4,478,727 parameters for 7 classes); the training
    run compiles it with its optimizer and loss.

    width multiplies every layer's filters and units: a wider copy of the network is a
    stronger teacher for distillation (train.py --soft-labels), not the app's model.
    Layers follow the global Keras dtype policy, except the softmax, which stays
    float32 so mixed-precision training keeps a numerically stable loss.
    """
    model = keras.Sequential(name="emotion_cnn")
    model.add(keras.Input(shape=input_shape))
    for filters, kernel in ((64, 3), (128, 5), (512, 3), (512, 3)):
        model.add(layers.Conv2D(round(filters * width), kernel, padding="same"))
        model.add(layers.BatchNormalization(momentum=BN_MOMENTUM))
        model.add(layers.Activation("relu"))
        model.add(layers.MaxPooling2D(2))
        model.add(layers.Dropout(dropout))
    model.add(layers.Flatten())
    for units in (256, 512):
        model.add(layers.Dense(round(units * width)))
        model.add(layers.BatchNormalization(momentum=BN_MOMENTUM))
        model.add(layers.Activation("relu"))
        model.add(layers.Dropout(dropout))
    model.add(layers.Dense(num_classes, activation="softmax", dtype="float32"))
    return model


def recalibrate_batchnorm(model, x, batch_size=256, dropout=False):
    """Recompute every BatchNorm layer's moving mean and variance over the images `x`.

    train.py does this when training ends: the moving statistics gathered during
    training average only the last few augmented batches, and for weights averaged
    over epochs (--average-from) they belong to none of them. Momentum is set per
    batch so that the result is the plain mean over all batches. Dropout stays off,
    as at inference: with it on, every BatchNorm after a Dropout would learn the wider
    variance of dropped-out inputs (dropout=True: the way it was done before, for
    bench/batchnorm_recompute.py). `model` is a Sequential, as build_model makes.
    """
    norms = [layer for layer in model.layers if isinstance(layer, layers.BatchNormalization)]
    momenta = [layer.momentum for layer in norms]
    try:
        for seen, start in enumerate(range(0, len(x), batch_size)):
            for layer in norms:
                layer.momentum = seen / (seen + 1)
            features = x[start:start + batch_size]
            for layer in model.layers:
                features = layer(features, training=dropout or isinstance(layer, layers.BatchNormalization))
    finally:
        for layer, momentum in zip(norms, momenta):
            layer.momentum = momentum


def cpu_supports_bfloat16():
    """True when the CPU has native bfloat16 instructions (AMX or AVX512_BF16)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def gpu_available():
    """True when the active Keras backend sees a GPU."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf
        return bool(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax
        return any(d.platform == "gpu" for d in jax.devices())
    return False


def choose_precision(mode="auto"):
    """Map --mixed-precision {auto,on,off} to a Keras dtype policy name.

    auto: float16 on a GPU, bfloat16 on a CPU that has it natively, else float32
    (emulated bfloat16 is slower than float32). on: the mixed policy for the device.
    """
    if mode == "off":
        return "float32"
    if gpu_available():
        return "mixed_float16"
    if mode == "on" or cpu_supports_bfloat16():
        return "mixed_bfloat16"
    return "float32"


def to_float32(model):
    """A float32 copy of `model`, so a saved model runs fast on any CPU."""
    # the layers, not the model: a Sequential reloaded for --resume reports float32 for itself
    if all(layer.dtype_policy.name == "float32" for layer in model.layers):
        return model
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        copy = keras.Sequential.from_config(_float32_config(model.get_config()))
    finally:
        keras.config.set_dtype_policy(previous)
    copy.set_weights(model.get_weights())
    return copy


def _float32_config(config):
    for layer in config["layers"]:
        layer["config"]["dtype"] = "float32"
    return config


def save_trained_model(model, path, class_names):
    """Save weights+architecture (no optimizer state) and class names, atomically.

    Both files are written to temporary names first and then renamed, so an
    interrupted save never leaves a half-written model in place of a good one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_model = path.with_name(path.stem + ".partial.h5")
    # .h5 is the format this project ships on purpose; Keras logs a "legacy format"
    # warning on every save, which would fill training logs at each best epoch.
    absl_log = logging.getLogger("absl")
    level = absl_log.level
    absl_log.setLevel(logging.ERROR)
    try:
        to_float32(model).save(tmp_model, include_optimizer=False)
    finally:
        absl_log.setLevel(level)
    os.replace(tmp_model, path)
    save_class_names(path, class_names)


def load_trained_model(path, class_names=None):
    """Load a model saved by `save_trained_model`; returns (model, class_names).

    The model must be a 48x48 greyscale classifier with one output per class name
    (`class_names`: those already read from beside it; None: read them here).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model not found: {path} (train one with `python train.py`)")
    if class_names is None:
        class_names = load_class_names(path)
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as error:   # h5py, Keras and TF raise many kinds for a file that is no model
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ModelError(f"cannot load Keras model {path}: {reason}") from None
    check_classifier(model, path, class_names)
    return model, class_names


