"""Stopping a long run cleanly on Ctrl-C or SIGTERM.

A KeyboardInterrupt raised wherever the signal happens to land (inside a
TensorFlow op, an OpenCV call, the data pipeline or a save) can be swallowed
there, so the signal only sets a flag that the work loop checks between steps.
A second Ctrl-C raises KeyboardInterrupt at once.
"""
import contextlib
import signal


class StopRequest:
    """A request to stop: Ctrl-C or SIGTERM sets `requested`, which the work loop checks
    between steps; a second one raises KeyboardInterrupt at once."""

    def __init__(self, message=None, signals=(signal.SIGINT, signal.SIGTERM)):
        self.message = message
        self.signals = signals
        self.requested = False
        self.previous = {}

    def install(self):
        """Route the signals here (main thread only)."""
        self.previous = {signum: signal.signal(signum, self.request) for signum in self.signals}

    def restore(self):
        """Give the signals back their earlier handlers."""
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        self.previous = {}

    def request(self, signum=None, frame=None):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        message = self.message() if callable(self.message) else self.message
        if message:
            print(message, flush=True)


@contextlib.contextmanager
def terminate_as_ctrl_c():
    """Within: SIGTERM raises KeyboardInterrupt, as Ctrl-C does, so that `kill` cuts
    short an optional step that the caller skips on KeyboardInterrupt (by default
    SIGTERM ends the program, skipping what comes after the step as well)."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
