"""batch.py: inputs, outputs, failures and resumption, on the embedded cluster and on a real
Dask cluster started here as the README says (a scheduler and two worker machines on 127.0.0.1)."""
import os
import signal
import socket
import subprocess
import sys
import time

import pandas as pd
import pytest

import batch
import main
from batch_analysis.inputs import expand_inputs, output_names
from footage import write_face_video
from helpers import ROOT


def make_videos(folder, faces, count, frames=30, width=640, height=360):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"clip{i}.avi"
        write_face_video(path, faces[i % len(faces):] + faces[:i % len(faces)], frames=frames, fps=15,
                         width=width, height=height, sizes=(120, 90, 70))
        paths.append(path)
    return paths


def test_inputs_are_files_folders_and_lists_and_names_never_collide(tmp_path):
    (tmp_path / "a" / "deeper").mkdir(parents=True)
    for name in ("a/x.mp4", "a/deeper/y.avi", "a/notes.txt", "b/x.mp4"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    listing = tmp_path / "list.txt"
    listing.write_text("# recordings\nb/x.mp4\n\nrtsp://camera.local/live\n")
    sources = expand_inputs([tmp_path / "a", listing, tmp_path / "a" / "x.mp4"])
    assert sources == [str(tmp_path / "a/deeper/y.avi"), str(tmp_path / "a/x.mp4"), str(tmp_path / "b/x.mp4"),
                       "rtsp://camera.local/live"]
    assert list(output_names(sources).values()) == ["y", "x", "x-2", "live"]


@pytest.mark.parametrize("argv, message", [
    (["--out", "OUT"], "no inputs"),
    (["clip.mp4", "--out", "OUT", "--workers", "0"], "--workers: 0 is out of range"),
    (["missing-folder", "--out", "OUT"], "no videos found"),
    (["clip.mp4", "--out", "/proc/no-such-place/out"], "cannot make --out"),
    (["clip.mp4", "--out", "OUT", "--model", "OUT/missing.h5"], "model not found"),
])
def test_bad_arguments_are_one_line_errors(tmp_path, capsys, argv, message):
    (tmp_path / "missing-folder").mkdir()
    argv = [a.replace("OUT", str(tmp_path / "out")).replace("clip.mp4", str(tmp_path / "clip.mp4"))
            .replace("missing-folder", str(tmp_path / "missing-folder")) for a in argv]
    try:
        code = batch.main(argv)
    except SystemExit as stop:   # argparse's errors
        code = stop.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err


@pytest.mark.slow
def test_a_scheduler_that_does_not_answer_is_a_one_line_error(tmp_path, capsys, fer_faces):
    (clip,) = make_videos(tmp_path / "in", fer_faces, 1, frames=3)
    assert batch.main([str(clip), "--out", str(tmp_path / "out"), "--scheduler", "tcp://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no Dask scheduler answers at tcp://127.0.0.1:9") and "\n" not in err


@pytest.mark.slow
def test_a_web_server_given_as_scheduler_is_a_one_line_error_also_through_dasks_variable(tmp_path, fer_faces):
    (clip,) = make_videos(tmp_path / "in", fer_faces, 1, frames=3)
    port = free_port()
    web = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], cwd=tmp_path,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        command = [sys.executable, str(ROOT / "batch.py"), str(clip), "--out", str(tmp_path / "out")]
        for extra, env in (([f"--scheduler=tcp://127.0.0.1:{port}"], {}),
                           ([], {"DASK_SCHEDULER_ADDRESS": f"tcp://127.0.0.1:{port}"})):
            result = subprocess.run(command + extra, capture_output=True, text=True, timeout=60,
                                    env={**os.environ, **env})
            assert result.returncode == 2
            assert result.stderr.strip().splitlines() == [
                f"error: something answers at tcp://127.0.0.1:{port} but it is not a Dask scheduler "
                f"(no handshake within 5 s)"]
    finally:
        stop(web)


@pytest.mark.slow
def test_a_batch_on_the_embedded_cluster_writes_what_main_py_writes_and_resumes(tmp_path, capsys, fer_faces,
                                                                                  app_model):
    clips = make_videos(tmp_path / "in", fer_faces, 2)
    (tmp_path / "in" / "broken.mp4").write_bytes(b"\0" * 100)
    out = tmp_path / "out"
    argv = [str(tmp_path / "in"), "--out", str(out), "--workers", "2", "--model", str(app_model[0])]
    assert batch.main(argv) == 1   # one input failed
    summary = pd.read_csv(out / "summary.csv").set_index("name")
    assert summary["status"].to_dict() == {"broken": "failed", "clip0": "ok", "clip1": "ok"}
    assert "cannot open video file" in summary.loc["broken", "error"]
    assert summary.loc["clip0", "frames"] == 30 and summary.loc["clip0", "people"] >= 1
    assert summary.loc["clip0", list(app_model[1])].sum() == pytest.approx(1, abs=1e-3)
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 3 and "broken" in page and "http" not in page
    # NAME.csv and NAME.people.csv are main.py's own --csv and --people, to the byte
    assert main.main(["--source", str(clips[0]), "--model", str(app_model[0]), "--no-display",
                      "--csv", str(tmp_path / "main.csv"), "--people", str(tmp_path / "main.people.csv")]) == 0
    assert (out / "clip0.csv").read_bytes() == (tmp_path / "main.csv").read_bytes()
    assert (out / "clip0.people.csv").read_bytes() == (tmp_path / "main.people.csv").read_bytes()
    assert not list(out.glob("*partial*"))
    capsys.readouterr()
    (tmp_path / "in" / "broken.mp4").unlink()
    assert batch.main(argv) == 0   # everything done already: nothing to analyse
    assert "2 videos: 2 already done, 0 to analyse" in capsys.readouterr().out
    summary = pd.read_csv(out / "summary.csv").set_index("name")
    assert summary.loc[["clip0", "clip1"], "status"].tolist() == ["skipped", "skipped"]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def readme_cluster_recipe(port, dashboard):
    """The README's cluster commands as worded, only host and port changed: one shell line
    each for the scheduler, a worker machine and batch.py, each with the exports before it."""
    text = (ROOT / "README.md").read_text()
    block = text.split("**On a cluster.**")[1].split("```bash")[1].split("```")[0]
    steps, exports = [], []
    for line in block.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        line = (line.replace("scheduler.lab:8786", f"127.0.0.1:{port}").replace("--host 0.0.0.0", "--host 127.0.0.1")
                .replace("--port 8786", f"--port {port}").replace("--dashboard-address :8787",
                                                                   f"--dashboard-address 127.0.0.1:{dashboard}"))
        if line.startswith("export "):
            exports.append(line)
        else:
            steps.append("; ".join(exports + [line]))
            exports = []
    return steps


def shell(command, folder, log=None, **options):
    """`command` in bash from `folder`, as a user in an activated environment would run it:
    this Python's bin folder first on PATH, and no PYTHONPATH. Its own session (process group)."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["PATH"] = f"{os.path.dirname(sys.executable)}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.Popen(["bash", "-c", command], cwd=folder, env=env, start_new_session=True,
                            stdout=log or subprocess.PIPE, stderr=subprocess.STDOUT if log else subprocess.PIPE,
                            text=True, **options)


def stop(process):
    """End a process and everything it started (its session), by process id."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=30)


@pytest.mark.slow
def test_the_readme_cluster_recipe_run_as_worded_survives_a_killed_worker_machine(tmp_path, fer_faces):
    from distributed import Client
    port, dashboard = free_port(), free_port()
    scheduler_line, worker_line, batch_line = readme_cluster_recipe(port, dashboard)
    assert batch_line.startswith("python batch.py recordings/ --out results/ --scheduler")
    clips = make_videos(tmp_path / "in", fer_faces, 6, frames=150, width=960, height=540)
    out = tmp_path / "out"
    log = open(tmp_path / "cluster.log", "w")
    machines = []
    for name in ("scheduler", "worker-a", "worker-b"):   # each in a folder of its own, none a checkout
        (tmp_path / name).mkdir()
    try:
        machines.append(shell(scheduler_line, tmp_path / "scheduler", log))
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        machines += [shell(worker_line, tmp_path / name, log) for name in ("worker-a", "worker-b")]
        with Client(f"tcp://127.0.0.1:{port}", timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        run = shell(batch_line.replace("recordings/", str(tmp_path / "in")).replace("results/", str(out)), ROOT)
        deadline = time.time() + 180
        while not list(out.glob("clip*.json")) and time.time() < deadline and run.poll() is None:
            time.sleep(0.1)
        stop(machines[1])   # mid-batch, a whole worker machine: its videos run again on the other one
        stdout, stderr = run.communicate(timeout=300)
    finally:
        for process in reversed(machines):
            stop(process)
        log.close()
    assert run.returncode == 0, stderr + (tmp_path / "cluster.log").read_text()[-3000:]
    assert f"dashboard http://127.0.0.1:{dashboard}/status" in stdout
    summary = pd.read_csv(out / "summary.csv")
    assert sorted(summary["name"]) == [f"clip{i}" for i in range(len(clips))]
    assert (summary["status"] == "ok").all() and (summary["frames"] == 150).all()
    for i in range(len(clips)):
        rows = pd.read_csv(out / f"clip{i}.csv")
        assert not rows.duplicated(["frame", "face"]).any()   # no video's rows twice
        assert rows["frame"].max() == 149
    assert not list(out.glob("*partial*"))


@pytest.mark.slow
def test_ctrl_c_keeps_only_whole_videos_and_the_next_run_goes_on(tmp_path, fer_faces, app_model):
    make_videos(tmp_path / "in", fer_faces, 4, frames=240, width=960, height=540)
    out = tmp_path / "out"
    command = [sys.executable, str(ROOT / "batch.py"), str(tmp_path / "in"), "--out", str(out), "--workers", "2",
               "--model", str(app_model[0])]
    run = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           start_new_session=True)
    deadline = time.time() + 120
    while not list(out.glob("clip*.json")) and time.time() < deadline and run.poll() is None:
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGINT)   # what Ctrl-C in a terminal does: the batch and its workers
    stdout, stderr = run.communicate(timeout=120)
    assert run.returncode == 130, stderr
    assert "Traceback" not in stderr
    finished = {path.stem for path in out.glob("clip*.json")}
    assert 1 <= len(finished) < 4
    for name in finished:   # whole outputs only
        assert all((out / f"{name}{suffix}").is_file() for suffix in (".csv", ".people.csv", ".png"))
    assert not list(out.glob("*partial*"))
    again = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"{len(finished)} already done, {4 - len(finished)} to analyse" in again.stdout
    assert set(pd.read_csv(out / "summary.csv")["status"]) <= {"ok", "skipped"}


def analyse_or_crash(source, annotate_to=None):
    """A task for the test below: the worker process dies on a 'poison' video, as one that
    crashes OpenCV would make it."""
    if "poison" in source:
        os._exit(1)
    from batch_analysis.worker import analyse_on_worker
    return analyse_on_worker(source, annotate_to)


@pytest.mark.slow
def test_a_video_that_kills_its_workers_fails_alone(tmp_path, fer_faces, app_model):
    from batch_analysis.engine import analyse_all, start_local
    from batch_analysis.worker import AnalysisOptions
    clips = make_videos(tmp_path / "in", fer_faces, 2, frames=10)
    poison = tmp_path / "in" / "poison.avi"
    poison.write_bytes(clips[0].read_bytes())
    client, cluster = start_local(2)
    ended = {}
    try:
        with client:
            analyse_all(client, AnalysisOptions(model=app_model[0]),
                        [(path.stem, str(path), None) for path in [poison] + clips],
                        lambda name, result, error: ended.setdefault(name, (result, error)), task=analyse_or_crash)
    finally:
        cluster.close()
    assert set(ended) == {"poison", "clip0", "clip1"}
    assert ended["poison"][0] is None and "KilledWorker" in ended["poison"][1]
    assert all(ended[name][1] is None and ended[name][0]["frames"] == 10 for name in ("clip0", "clip1"))
