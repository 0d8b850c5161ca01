"""Dask as the batch's engine: an embedded cluster on this machine, or a running one.

One task per video; each result is read, handed on, and its future released at once (a
result still held on a worker that dies would be computed again). A video whose task
kills workers ends in KilledWorker after Dask's retries: it is that video's failure, not
the batch's. A worker lost mid-task has its videos run elsewhere by the scheduler.
"""
import logging
import os
import signal
import uuid

import dask
from distributed import Client, KilledWorker, LocalCluster, as_completed

from batch_analysis.worker import PLUGIN, RecognizerPlugin, analyse_on_worker

CONNECT_TIMEOUT_S = 5
# Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536, which turns off glibc's adaptive mmap
# threshold: every decoded frame is then mapped and unmapped anew, and a worker analyses a
# video 30-40% slower than a plain process. Its profiler costs 5% more. And videos must wait
# on the scheduler until a worker is free (saturation 1.0, and one task group: see the
# keys below); assigned up front, one worker got three of four videos while the other idled
# (12.5 s against 10 s for the batch).
CLUSTER_CONFIG = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
                  "distributed.worker.profile.enabled": False,
                  "distributed.scheduler.worker-saturation": 1.0}


class EngineError(RuntimeError):
    """A cluster that cannot be started or reached; the message says which."""


def start_local(workers):
    """(client, cluster): `workers` single-threaded worker processes on this machine, with no
    dashboard (nothing listens beyond the loopback)."""
    saved = {key: os.environ.get(key) for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    # The workers start with Ctrl-C ignored: in a terminal it reaches every process of the
    # group, and this process, not each worker, stops the batch (and them) cleanly.
    interrupt = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with dask.config.set(CLUSTER_CONFIG):
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address=None, silence_logs=logging.CRITICAL)
    except Exception as error:
        raise EngineError(f"cannot start {workers} local workers: {first_line(error)}") from None
    finally:   # LocalCluster leaves OMP_NUM_THREADS=1 and the like in this process's environment
        signal.signal(signal.SIGINT, interrupt)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return Client(cluster), cluster


def connect(address):
    """A client of the running cluster at `address`, or EngineError within a few seconds."""
    try:
        return Client(address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as error:
        raise EngineError(f"no Dask scheduler answers at {address} within {CONNECT_TIMEOUT_S} s "
                          f"({first_line(error)})") from None


def analyse_all(client, options, jobs, on_done, task=analyse_on_worker):
    """Analyse every (name, source, annotate_to) of `jobs` on the cluster with `task`; call
    on_done(name, result or None, error or None) as each one ends, in the order they end.
    Ctrl-C cancels what is left and raises KeyboardInterrupt."""
    try:
        client.register_plugin(RecognizerPlugin(options), name=PLUGIN)
    except Exception as error:   # a worker cannot load the model (another machine without the file?)
        raise EngineError(f"the workers cannot load the model: {first_line(error)}") from None
    futures = {}
    for name, source, annotate_to in jobs:
        # one task group ("analyse-video"): queued on the scheduler, handed out as workers free up
        future = client.submit(task, source, annotate_to, key=f"analyse-video-{uuid.uuid4().hex}",
                               pure=False)
        futures[future] = name
    try:
        for future in as_completed(list(futures)):
            name = futures.pop(future)
            try:
                result, error = future.result(), None
            except KilledWorker:
                result, error = None, "it ended the workers that ran it (KilledWorker): a crash while reading it?"
            except Exception as exception:   # the video's own failure (unreadable, corrupt): one line
                result, error = None, first_line(exception)
            future.release()
            del future
            on_done(name, result, error)
    except KeyboardInterrupt:
        client.cancel(list(futures))
        raise


def first_line(error):
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
