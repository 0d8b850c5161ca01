"""Run an iterator in a worker thread, a few items ahead of its consumer.

The app reads and tracks frames in one thread while it classifies, draws and
writes them in another: OpenCV and the LiteRT interpreter release the GIL, so on
two cores the two halves overlap (docs/REALTIME.md, Two threads).
"""
import queue
import threading

_DONE = object()


class _Failure:
    def __init__(self, error):
        self.error = error


def read_ahead(items, depth=3):
    """Yield the items of `items`, produced in a worker thread up to `depth` ahead.

    An exception in the worker is raised here; leaving the loop early stops the worker.
    """
    ready = queue.Queue(depth)
    cancelled = threading.Event()

    def put(item):
        while not cancelled.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work():
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as error:   # handed to the consumer, which raises it
            put(_Failure(error))

    worker = threading.Thread(target=work, name="read-and-track", daemon=True)
    worker.start()
    try:
        while True:
            item = ready.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        cancelled.set()
        worker.join()
