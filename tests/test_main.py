"""main.py end to end: real faces in a generated video and an image, errors, interruption."""
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

import main
from app import detectors
from app.tracking import LABEL_MARGIN
from footage import background, compose_frame, match_detections, write_face_video
from helpers import ROOT
from app.outputs import csv_header


def run_main(*args, **kwargs):
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=300, **kwargs)


def frame_count(path):
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    return count


@pytest.mark.slow
def test_video_end_to_end_csv_matches_known_faces(tmp_path, fer_faces, app_model):
    model, names = app_model
    clip = tmp_path / "clip.mp4"
    truth = write_face_video(clip, fer_faces, frames=45, fps=15)
    result = run_main("--source", clip, "--model", model, "--csv", tmp_path / "f.csv",
                      "--output", tmp_path / "out.mp4", "--plot", tmp_path / "p.png",
                      "--smooth", "--no-display")
    assert result.returncode == 0, result.stderr
    assert "frames: 45" in result.stdout and "emotions:" in result.stdout
    assert "people:" in result.stdout and "\n  #1 " in result.stdout
    table = pd.read_csv(tmp_path / "f.csv")
    assert table["face"].min() == 1     # track numbers
    first = table[table["frame"] == 0]
    assert (table.loc[table["x"] < first["x"].min() + 100, "face"] == 1).all()   # the first face stays #1
    assert list(table.columns) == csv_header(names)
    np.testing.assert_allclose(table[names].sum(axis=1), 1.0, atol=1e-3)
    # the label shown is the most probable one, or one that the most probable does not lead clearly
    shown = table[names].to_numpy()[np.arange(len(table)), [names.index(n) for n in table["label"]]]
    assert (table[names].max(axis=1) - shown < LABEL_MARGIN).all()
    np.testing.assert_allclose(table["confidence"], shown, atol=1e-3)
    assert table.groupby("face").frame.apply(lambda f: f.is_monotonic_increasing).all()
    assert table["frame"].is_monotonic_increasing
    found = 0
    for index, boxes in enumerate(truth):
        rows = table[table["frame"] == index]
        detected = list(rows[["x", "y", "w", "h"]].itertuples(index=False, name=None))
        assert match_detections(detected, boxes) == len(detected)   # no face where there is none
        found += match_detections(boxes, detected)
    assert found >= 0.9 * sum(len(b) for b in truth)
    assert frame_count(tmp_path / "out.mp4") == 45
    assert (tmp_path / "p.png").stat().st_size > 0


def test_image_end_to_end_writes_annotated_image_and_rows(tmp_path, fer_faces, app_model):
    model, names = app_model
    boxes = [(100, 150, 200, 200), (700, 200, 160, 160)]
    photo = tmp_path / "group.png"
    cv2.imwrite(str(photo), compose_frame(background(1280, 720), fer_faces[:2], boxes))
    result = run_main("--source", photo, "--model", model, "--csv", tmp_path / "f.csv",
                      "--output", tmp_path / "labelled.png", "--show-probs", "--no-display")
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(tmp_path / "f.csv")
    assert len(table) == 2 and (table["frame"] == 0).all()
    assert match_detections(boxes, list(table[["x", "y", "w", "h"]].itertuples(index=False, name=None))) == 2
    labelled = cv2.imread(str(tmp_path / "labelled.png"))
    assert labelled.shape == (720, 1280, 3)
    assert not np.array_equal(labelled, cv2.imread(str(photo)))


@pytest.mark.slow
def test_interrupted_run_keeps_a_readable_csv_and_video(tmp_path, fer_faces, app_model):
    model, names = app_model
    clip = tmp_path / "long.mp4"
    write_face_video(clip, fer_faces, frames=600, fps=30)
    csv_path, out = tmp_path / "f.csv", tmp_path / "out.mp4"
    process = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "--source", str(clip),
                                "--model", str(model), "--csv", str(csv_path), "--output", str(out),
                                "--no-display"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and (not csv_path.exists() or csv_path.stat().st_size < 2000):
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "Interrupted" in stdout
    table = pd.read_csv(csv_path)
    assert list(table.columns) == csv_header(names) and len(table) > 0
    written = frame_count(out)
    assert table["frame"].max() < written < 600


@pytest.mark.parametrize("source, message", [
    ("missing.mp4", "source not found"),
    ("notes.txt", "unsupported file type '.txt'"),
    ("broken.mp4", "cannot open video file"),
    ("99", "cannot open camera 99"),
    ("broken.jpg", "cannot read image"),
])
def test_bad_sources_are_one_line_errors_with_exit_code_2(tmp_path, capsys, app_model, source, message):
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 100)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    target = source if source.isdigit() else tmp_path / source
    assert main.main(["--source", str(target), "--model", str(app_model[0]), "--no-display"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err


@pytest.mark.parametrize("option, message", [("--csv", "cannot write CSV"), ("--plot", "cannot write plot")])
def test_unwritable_outputs_are_one_line_errors_before_any_frame(tmp_path, capsys, app_model, option, message):
    photo = tmp_path / "a.png"
    cv2.imwrite(str(photo), np.zeros((64, 64), np.uint8))
    (tmp_path / "taken").mkdir()   # a folder where the file would go
    assert main.main(["--source", str(photo), "--model", str(app_model[0]), "--no-display",
                      option, str(tmp_path / "taken")]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("error: ") and message in err and "\n" not in err.strip()
    assert "frames:" not in out


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
def test_a_csv_on_a_full_disk_is_a_one_line_error(tmp_path, capsys, fer_faces, app_model):
    clip = tmp_path / "clip.avi"
    write_face_video(clip, fer_faces, frames=5, fps=15)
    assert main.main(["--source", str(clip), "--model", str(app_model[0]), "--no-display",
                      "--csv", "/dev/full"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: cannot write CSV /dev/full: No space left on device"


def test_a_missing_yunet_file_is_a_one_line_error_that_names_haar(tmp_path, capsys, app_model, monkeypatch):
    monkeypatch.setattr(detectors, "YUNET_MODEL", tmp_path / "yunet.onnx")
    photo = tmp_path / "a.png"
    cv2.imwrite(str(photo), np.zeros((64, 64), np.uint8))
    assert main.main(["--source", str(photo), "--model", str(app_model[0]), "--no-display"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: YuNet model not found") and "--detector haar" in err and "\n" not in err
    assert main.main(["--source", str(photo), "--model", str(app_model[0]), "--no-display",
                      "--detector", "haar"]) == 0


@pytest.mark.parametrize("detector", ["yunet", "haar"])
def test_each_detector_labels_the_faces_of_a_video_and_only_them(tmp_path, fer_faces, app_model, detector):
    clip = tmp_path / "clip.avi"
    truth = write_face_video(clip, fer_faces, frames=30, fps=15)
    assert main.main(["--source", str(clip), "--model", str(app_model[0]), "--no-display",
                      "--detector", detector, "--csv", str(tmp_path / "f.csv")]) == 0
    table = pd.read_csv(tmp_path / "f.csv")
    found = 0
    for index, boxes in enumerate(truth):
        detected = list(table.loc[table["frame"] == index, ["x", "y", "w", "h"]].itertuples(index=False, name=None))
        assert match_detections(detected, boxes) == len(detected)   # no box where there is no face
        found += match_detections(boxes, detected)
    assert found >= 0.9 * sum(len(boxes) for boxes in truth)


def test_a_mistyped_image_output_is_a_one_line_error(tmp_path, capsys, app_model):
    photo = tmp_path / "a.png"
    cv2.imwrite(str(photo), np.zeros((64, 64), np.uint8))
    assert main.main(["--source", str(photo), "--model", str(app_model[0]), "--no-display",
                      "--output", str(tmp_path / "labelled.jgp")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "not an image format" in err and "\n" not in err
    assert not (tmp_path / "labelled.jgp").exists()


def test_plot_of_a_run_without_faces_says_so_without_warnings(tmp_path, app_model):
    photo = tmp_path / "empty.png"
    cv2.imwrite(str(photo), background(320, 240))
    result = run_main("--source", photo, "--model", app_model[0], "--plot", tmp_path / "p.png", "--no-display")
    assert result.returncode == 0, result.stderr
    assert "faces: 0" in result.stdout and "Warning" not in result.stderr
    assert cv2.imread(str(tmp_path / "p.png")) is not None


@pytest.mark.parametrize("cascade", ["missing.xml", "not-a-cascade.xml"])
def test_a_cascade_that_will_not_load_is_a_one_line_error(tmp_path, capsys, app_model, cascade):
    (tmp_path / "not-a-cascade.xml").write_text("<x/>")
    photo = tmp_path / "a.png"
    cv2.imwrite(str(photo), np.zeros((64, 64), np.uint8))
    assert main.main(["--source", str(photo), "--model", str(app_model[0]), "--no-display",
                      "--detector", "haar", "--cascade", str(tmp_path / cascade)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: cannot load face cascade {tmp_path / cascade}"


def test_missing_model_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "a.png").write_bytes(cv2.imencode(".png", np.zeros((8, 8), np.uint8))[1].tobytes())
    assert main.main(["--source", str(tmp_path / "a.png"), "--model", str(tmp_path / "none.h5")]) == 2
    assert "model not found" in capsys.readouterr().err


def test_summary_piped_into_a_closed_reader_ends_without_a_traceback(tmp_path, fer_faces, app_model):
    photo = tmp_path / "face.png"
    cv2.imwrite(str(photo), compose_frame(background(640, 480), fer_faces[:1], [(200, 120, 200, 200)]))
    process = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "--source", str(photo),
                                "--model", str(app_model[0]), "--no-display"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdout.close()   # like `| head -0`: the summary meets a closed pipe
    stderr = process.stderr.read()
    assert process.wait(timeout=300) == 1, stderr
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr


def test_help_lists_the_options():
    result = run_main("--help")
    for option in ("--source", "--csv", "--output", "--smooth", "--show-probs", "--no-display",
                   "--scale-factor", "--min-neighbors", "--min-face-size", "--plot"):
        assert option in result.stdout
