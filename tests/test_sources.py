"""Streams that drop, cameras that go away and sources that never open."""
import subprocess
import sys
import time

import cv2
import numpy as np
import pandas as pd
import pytest

from app import sources
from app.outputs import Outputs
from app.pipeline import Settings, run_stream
from app.run_stats import RunStats
from app.sources import SourceError, parse_source
from helpers import ROOT


class FakeCapture:
    """Delivers `count` frames, then fails like an unplugged camera or a dropped stream."""

    def __init__(self, count):
        self.count = count

    def read(self):
        if self.count <= 0:
            return False, None
        self.count -= 1
        return True, np.full((120, 160, 3), 90, np.uint8)

    def get(self, prop):
        return 30.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def isOpened(self):
        return True

    def release(self):
        pass


def scripted_opener(*captures):
    """An opener that hands out the given captures in turn; None stands for a failed open."""
    queue = list(captures)

    def open_next(source):
        capture = queue.pop(0) if queue else None
        if capture is None:
            raise sources.SourceError(f"cannot open stream {source.target}")
        return capture
    return open_next


@pytest.mark.slow
def test_a_dropped_stream_is_reopened_and_counted(capsys):
    stream = sources.Source("stream", "rtsp://camera.invalid/live")
    frames = sources.VideoInput(stream, reconnect=2.0,
                                opener=scripted_opener(FakeCapture(3), None, FakeCapture(2)))
    started = time.monotonic()
    assert len(list(frames.frames())) == 5
    assert frames.reconnects == 1
    assert time.monotonic() - started < 6    # bounded: gave up about 2 s after the second drop
    assert "no reconnection within 2 s" in capsys.readouterr().err
    assert frames.ended_by == "stream stopped delivering frames"


@pytest.mark.slow
def test_a_stream_that_reopens_but_never_delivers_gives_up_within_the_reconnect_time(capsys):
    stream = sources.Source("stream", "rtsp://camera.invalid/live")
    frames = sources.VideoInput(stream, reconnect=1.5,
                                opener=scripted_opener(FakeCapture(2), *[FakeCapture(0)] * 50))
    started = time.monotonic()
    assert len(list(frames.frames())) == 2
    assert time.monotonic() - started < 4
    assert "no reconnection within 1.5 s" in capsys.readouterr().err


def test_without_reconnect_a_dropped_stream_just_ends():
    stream = sources.Source("stream", "rtsp://camera.invalid/live")
    frames = sources.VideoInput(stream, reconnect=0, opener=scripted_opener(FakeCapture(3), FakeCapture(9)))
    assert len(list(frames.frames())) == 3 and frames.reconnects == 0


def test_a_camera_unplugged_mid_run_ends_cleanly_with_everything_written(tmp_path):
    class Detector:
        def detections(self, gray):
            return np.array([[10, 10, 60, 60]]), np.array([True])

        def detect_near(self, gray, box):
            return tuple(box), True

    class Recognizer:
        class_names = ["a", "b"]
        detector = Detector()
        embedder = None

        def classify(self, gray, boxes):
            return np.tile([[0.25, 0.75]], (len(boxes), 1))

    stats = RunStats()
    out = tmp_path / "out.avi"
    run_stream(sources.Source("camera", 0), Recognizer(), Outputs(csv=tmp_path / "f.csv", video=out, progress=False),
               Settings(), stats, opener=scripted_opener(FakeCapture(7)))
    assert stats.frames == 7 and stats.ended_by == "camera stopped delivering frames"
    table = pd.read_csv(tmp_path / "f.csv")
    assert len(table) == 7 and (table["face"] == 1).all() and (table["label"] == "b").all()
    capture = cv2.VideoCapture(str(out))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 7


def run_app(*args):
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args, "--no-display"],
                          capture_output=True, text=True, timeout=120)


def test_a_missing_camera_prints_our_line_and_nothing_from_opencv():
    result = run_app("--source", "7")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: cannot open camera 7"


def test_a_stream_that_never_opens_fails_fast_with_one_line():
    started = time.monotonic()
    result = run_app("--source", "http://127.0.0.1:9/live.mjpg")   # nothing listens on port 9
    assert result.returncode == 2
    assert result.stderr.strip() == "error: cannot open stream http://127.0.0.1:9/live.mjpg"
    assert time.monotonic() - started < 30


def test_parse_source_recognises_every_kind(tmp_path):
    assert parse_source("0") == sources.Source("camera", 0)
    assert parse_source("2").target == 2
    assert parse_source("rtsp://cam.local/stream").kind == "stream"
    clip = tmp_path / "clip.MP4"
    clip.write_bytes(b"x")
    assert parse_source(str(clip)).kind == "video"
    photo = tmp_path / "face.png"
    cv2.imwrite(str(photo), np.zeros((8, 8), np.uint8))
    assert parse_source(str(photo)) == sources.Source("images", [photo])
    (tmp_path / "b.jpg").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in parse_source(str(tmp_path)).target] == ["b.jpg", "face.png"]


def test_parse_source_errors_name_the_problem(tmp_path):
    with pytest.raises(SourceError, match="source not found: .*missing.mp4"):
        parse_source(str(tmp_path / "missing.mp4"))
    doc = tmp_path / "report.pdf"
    doc.write_bytes(b"%PDF")
    with pytest.raises(SourceError, match="unsupported file type '.pdf'"):
        parse_source(str(doc))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SourceError, match="no images"):
        parse_source(str(empty))


def test_unopenable_camera_and_unreadable_video_are_source_errors(tmp_path):
    with pytest.raises(SourceError, match="cannot open camera 99"):
        sources.open_capture(sources.Source("camera", 99))
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"not a video at all")
    with pytest.raises(SourceError, match="cannot open video file"):
        sources.open_capture(parse_source(str(fake)))


def test_a_video_opened_for_a_batch_worker_decodes_every_frame_on_one_thread(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (64, 48))
    for value in range(0, 200, 20):
        writer.write(np.full((48, 64, 3), value, np.uint8))
    writer.release()
    default, single = (sources.open_capture(parse_source(str(path)), **kwargs)
                       for kwargs in ({}, {"decode_threads": 1}))
    assert single.get(cv2.CAP_PROP_N_THREADS) == 1          # not one a core: a worker is one core
    frames = [[capture.read()[1][0, 0, 0] for _ in range(10)] for capture in (default, single)]
    assert frames[0] == frames[1]                           # the same frames, in order


def test_corrupt_frames_are_skipped_and_counted():
    class FlakyCapture:
        """Frames 0-4 with frame 2 unreadable, as OpenCV reports a corrupt frame."""
        def __init__(self):
            self.position = 0

        def read(self):
            self.position += 1
            ok = self.position != 3 and self.position <= 5
            return ok, np.zeros((4, 4, 3), np.uint8) if ok else None

        def get(self, prop):
            return {cv2.CAP_PROP_FRAME_COUNT: 5, cv2.CAP_PROP_POS_FRAMES: self.position,
                    cv2.CAP_PROP_FPS: 30}[prop]

    clip = sources.VideoInput(sources.Source("video", "clip.mp4"), opener=lambda source: FlakyCapture())
    assert len(list(clip.frames())) == 4
    assert clip.corrupt_frames == 1


def test_unreadable_image_in_a_folder_is_skipped_named_and_counted(tmp_path, capsys):
    good = tmp_path / "a.png"
    cv2.imwrite(str(good), np.zeros((8, 8, 3), np.uint8))
    bad = tmp_path / "b.jpg"
    bad.write_bytes(b"junk")
    stats = RunStats()
    assert [path for path, _ in sources.read_images([good, bad], stats)] == [good]
    assert stats.corrupt_frames == 1
    assert "skipped" in capsys.readouterr().err
    with pytest.raises(SourceError, match="cannot read image"):
        list(sources.read_images([bad], RunStats()))
