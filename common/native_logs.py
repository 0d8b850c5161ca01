"""Keep C++ libraries' start-up notices off stderr, so a one-line error stays one line.

TensorFlow prints oneDNN/CUDA notices and LiteRT an "XNNPACK delegate" line from
C++, before (or outside) Python logging, so they cannot be filtered: stderr is
pointed at /dev/null while they load.
"""
import os
from contextlib import contextmanager


@contextmanager
def quiet_stderr():
    """Point file descriptor 2 at /dev/null for the duration of the block."""
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)


def import_keras_quietly():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with quiet_stderr():
        import keras  # noqa: F401
