"""How a run gets cut short: Ctrl-C or SIGTERM, and a reader that closes our output.

A KeyboardInterrupt raised wherever the signal happens to land (inside a
TensorFlow op, an OpenCV call, the data pipeline or a save) can be swallowed
there, so the signal only sets a flag that the work loop checks between steps.
A second Ctrl-C raises KeyboardInterrupt at once.
"""
import contextlib
import os
import signal
import sys


def run_main(main):
    """`sys.exit(main())` for the entry scripts, except that a reader that closed our
    stdout early (`python evaluate.py ... | head`) ends the program with status 1, as
    Python's documentation recommends, instead of a BrokenPipeError traceback, and a
    Ctrl-C that no step of the script handles (while evaluating, loading data, exporting)
    ends it with one line and the shell's usual status 130, instead of a traceback."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr, flush=True)
        sys.exit(130)
    except BrokenPipeError:
        # stdout is gone: point it at /dev/null so the flush at exit cannot fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)


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
