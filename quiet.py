"""Import Keras/TensorFlow without TensorFlow's C++ start-up messages.

TensorFlow prints oneDNN/CUDA notices on stderr from C++ before Python logging
exists, so they cannot be filtered: stderr is pointed at /dev/null for the import.
Entry scripts call this first, so a one-line error stays one line.
"""
import os


def import_keras_quietly():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import keras  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)
