"""Ctrl-C (and SIGTERM) as a request to stop cleanly, for training and the app.

A KeyboardInterrupt raised wherever the signal happens to land (inside a
TensorFlow op, an OpenCV call, the data pipeline or a save) can be swallowed
there, so the signal only sets a flag that the work loop checks between steps.
A second Ctrl-C raises KeyboardInterrupt at once.
"""
import signal


class StopRequest:
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
        if self.message:
            print(self.message, flush=True)
