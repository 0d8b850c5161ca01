"""Dask as the batch's engine: an embedded cluster on this machine, or a running one.

One task per video; each result is read, handed on, and its future released at once (a
result still held on a worker that dies would be computed again). A video whose task
kills workers ends in KilledWorker after Dask's retries: it is that video's failure, not
the batch's. A worker lost mid-task has its videos run elsewhere by the scheduler.
"""
import dataclasses
import logging
import os
import signal
import socket
import tempfile
import uuid
from pathlib import Path

import dask
from distributed import Client, KilledWorker, LocalCluster, as_completed
from distributed.diagnostics.plugin import SchedulerUploadFile, UploadFile

from batch_analysis.shipping import code_archive, model_files
from batch_analysis.worker import PLUGIN, RecognizerPlugin, analyse_on_worker
from inference.runtimes import choose_runtime

CONNECT_TIMEOUT_S = 5
CODE_PLUGIN = "emotion-code"
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


def scheduler_address(given=None):
    """The scheduler to use: `given` (--scheduler), else Dask's own DASK_SCHEDULER_ADDRESS
    (its config key scheduler-address), else None (the embedded cluster)."""
    return given or dask.config.get("scheduler-address", None) or None


def check_speaks_dask(address, timeout=CONNECT_TIMEOUT_S):
    """Raise EngineError, within `timeout` seconds, unless a Dask scheduler answers at a
    tcp:// `address`: a Dask server sends its handshake as soon as a connection opens, while a
    web server (or anything else) waits for a request, and Dask's client would then wait for
    minutes. Other protocols (tls://, ...) are left to Dask."""
    scheme, _, rest = address.rpartition("://")
    if scheme not in ("", "tcp"):
        return
    host, _, port = rest.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout) as connection:
            connection.settimeout(timeout)
            if len(connection.recv(8)) < 8:   # Dask's frames open with an 8-byte count
                raise EngineError(f"{address} closed the connection: not a Dask scheduler")
    except ValueError:
        raise EngineError(f"{address} is not an address (tcp://HOST:PORT)") from None
    except socket.timeout:
        raise EngineError(f"something answers at {address} but it is not a Dask scheduler "
                          f"(no handshake within {timeout} s)") from None
    except OSError as error:
        raise EngineError(f"no Dask scheduler answers at {address} ({error.strerror or error})") from None


def connect(address):
    """A client of the running cluster at `address`, or EngineError within a few seconds."""
    check_speaks_dask(address)
    try:
        return Client(address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as error:
        raise EngineError(f"no Dask scheduler answers at {address} within {CONNECT_TIMEOUT_S} s "
                          f"({first_line(error)})") from None


def send_code(client, with_keras=False):
    """Upload the project's code to the scheduler and every worker, those that join later too
    (Dask's upload plugins, under one name: a later batch replaces it)."""
    name, data = code_archive(with_keras)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        client.register_plugin(SchedulerUploadFile(str(path), load=True), name=CODE_PLUGIN)
        client.register_plugin(UploadFile(str(path), load=True), name=CODE_PLUGIN)


def analyse_all(client, options, jobs, on_done, task=analyse_on_worker, remote=False):
    """Analyse every (name, source, annotate_to) of `jobs` on the cluster with `task`; call
    on_done(name, result or None, error or None) as each one ends, in the order they end.
    A `remote` cluster (started elsewhere) is sent the code and the model first
    (shipping.py); the embedded cluster's scheduler runs in this process and its workers
    start from this checkout, so they read both where they are.
    `options.runtime` is the runtime chosen on this machine (auto: chosen here now). Ctrl-C
    cancels what is left and raises KeyboardInterrupt."""
    if options.runtime == "auto":
        options = dataclasses.replace(options, runtime=choose_runtime(options.model))
    try:
        files = None
        if remote:
            send_code(client, with_keras=options.runtime == "keras")
            files = model_files(options.model, options.runtime, options.detector, options.reid == "on")
        client.register_plugin(RecognizerPlugin(options, files), name=PLUGIN)
    except Exception as error:   # a worker cannot load the model or the code
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
