"""One progress line over a batch: videos done, frames per second, time left."""
import sys
import time


class BatchProgress:
    """Rewritten in place on a terminal; elsewhere (a log) a line per video."""

    def __init__(self, total, stream=None):
        self.total, self.done, self.frames = total, 0, 0
        self.stream = stream or sys.stderr
        self.terminal = self.stream.isatty()
        self.started = time.perf_counter()

    def update(self, frames=0):
        """One more video finished (or failed), with the frames it had."""
        self.done += 1
        self.frames += frames
        elapsed = time.perf_counter() - self.started
        left = elapsed / self.done * (self.total - self.done)
        line = (f"videos {self.done}/{self.total}  {self.frames / max(elapsed, 1e-9):.1f} frames/s  "
                f"{'done' if self.done == self.total else 'about ' + duration(left) + ' left'}")
        print(("\r" + line.ljust(60)) if self.terminal else line, end="" if self.terminal else "\n",
              file=self.stream, flush=True)

    def close(self):
        if self.terminal and self.done:
            print(file=self.stream)


def duration(seconds):
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
