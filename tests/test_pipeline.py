import cv2
import numpy as np
import pandas as pd
import pytest

from app import sources
from app.detectors import HaarDetector, iou
from app.drawing import BOX_COLOR, draw_faces
from common.stopping import StopRequest
from app.sources import SourceError, parse_source
from app import outputs, pipeline
from app.outputs import csv_header, csv_rows, image_output_path
from app.run_stats import RunStats
from app.window import RecentRate

NAMES = ["angry", "happy", "sad"]


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


def test_csv_rows_have_the_documented_columns_and_values():
    probs = np.array([[0.1, 0.7, 0.2], [0.5, 0.25, 0.25]], np.float32)
    rows = csv_rows(12, 0.4, [3, 7], [(10, 20, 30, 40), (100, 5, 50, 50)], probs, NAMES)
    assert csv_header(NAMES) == ["frame", "time_s", "face", "x", "y", "w", "h", "label",
                                 "confidence", "angry", "happy", "sad"]
    assert rows[0][:9] == [12, 0.4, 3, 10, 20, 30, 40, "happy", pytest.approx(0.7)]
    assert rows[1][:9] == [12, 0.4, 7, 100, 5, 50, 50, "angry", pytest.approx(0.5)]
    assert rows[1][9:] == [pytest.approx(0.5), pytest.approx(0.25), pytest.approx(0.25)]
    assert csv_rows(3, 0.1, [], np.zeros((0, 4), int), np.zeros((0, 3)), NAMES) == []


def test_csv_log_is_readable_by_pandas(tmp_path):
    log = outputs.CsvLog(tmp_path / "f.csv", NAMES)
    log.write(csv_rows(0, 0.0, [1], [(1, 2, 3, 4)], np.array([[0.2, 0.3, 0.5]]), NAMES))
    log.close()
    table = pd.read_csv(tmp_path / "f.csv")
    assert list(table.columns) == csv_header(NAMES)
    assert table.loc[0, "label"] == "sad"


def test_draw_faces_draws_box_and_label_only_around_the_face():
    frame = np.zeros((200, 300, 3), np.uint8)
    draw_faces(frame, [1], [(100, 80, 60, 60)], np.array([[0.1, 0.8, 0.1]]), NAMES)
    assert tuple(frame[110, 100]) == BOX_COLOR               # left edge of the box
    assert frame[60:80, 100:160].any()                          # label above the box
    assert not frame[150:, :90].any()                           # nothing far away
    plain, with_bars = np.zeros((2, 200, 300, 3), np.uint8)
    draw_faces(plain, [1], [(20, 80, 60, 60)], np.array([[0.1, 0.8, 0.1]]), NAMES)
    draw_faces(with_bars, [1], [(20, 80, 60, 60)], np.array([[0.1, 0.8, 0.1]]), NAMES, show_probs=True)
    right_of_box = (slice(90, 190), slice(86, 250))
    assert with_bars[right_of_box].any() and not plain[right_of_box].any()


def test_iou():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)


def test_image_output_path_is_a_file_for_one_image_and_a_folder_otherwise(tmp_path):
    assert image_output_path(tmp_path / "out.jpg", "a.png", 1) == tmp_path / "out.jpg"
    assert image_output_path(tmp_path / "out", "a.png", 3) == tmp_path / "out" / "a.png"
    assert (tmp_path / "out").is_dir()
    (tmp_path / "v1.2").mkdir()   # an existing folder keeps working whatever its name
    assert image_output_path(tmp_path / "v1.2", "a.png", 1) == tmp_path / "v1.2" / "a.png"


@pytest.mark.parametrize("name, count, message", [
    ("labelled.jpg", 3, "one image but the source has 3"),
    ("labelled.jgp", 1, ".jgp is not an image format"),
])
def test_an_output_name_that_cannot_be_meant_is_refused_without_making_a_folder(tmp_path, name, count, message):
    with pytest.raises(SourceError, match=message):
        image_output_path(tmp_path / name, "a.png", count)
    assert not (tmp_path / name).exists()


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


def test_detector_finds_real_faces_at_their_known_positions(fer_faces):
    from footage import background, compose_frame, match_detections
    boxes = [(100, 200, 180, 180), (700, 150, 140, 140)]
    frame = compose_frame(background(1280, 720), fer_faces[:2], boxes)
    detector = HaarDetector(video_cascade())
    assert match_detections(boxes, detector.detect(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))) == 2


def video_cascade():
    from helpers import ROOT
    return ROOT / "haarcascade_frontalface_default.xml"


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


def test_run_stats_count_faces_and_labels_and_keep_rows_only_when_asked():
    probs = np.array([[0.1, 0.7, 0.2], [0.6, 0.2, 0.2]])
    boxes = [(0, 0, 10, 10), (20, 0, 10, 10)]
    lean = RunStats()
    rows = lean.record(0, 0.0, [1, 2], boxes, probs, NAMES)
    assert len(rows) == 2 and lean.rows == []
    assert (lean.frames, lean.faces, lean.label_counts) == (1, 2, {"happy": 1, "angry": 1})
    keeping = RunStats(keep_rows=True)
    keeping.record(0, 0.0, [1, 2], boxes, probs, NAMES)
    assert keeping.rows == rows


def test_a_stop_request_ends_the_stream_after_the_current_frame(tmp_path):
    clip = tmp_path / "c.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for _ in range(10):
        writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.release()
    stop = StopRequest()

    class NoFaces:
        def detect(self, gray):
            return np.zeros((0, 4), int)

    class StopAtThirdFrame:
        class_names = ["a", "b"]
        detector = NoFaces()
        calls = 0

        def classify(self, gray, boxes):
            self.calls += 1
            if self.calls == 3:
                stop.request()      # what Ctrl-C does
            return np.zeros((0, 2), np.float32)

    stats = RunStats()
    pipeline.run_stream(parse_source(str(clip)), StopAtThirdFrame(), outputs.Outputs(progress=False),
                        pipeline.Settings(), stats, stop)
    assert stats.frames == 3
    with pytest.raises(KeyboardInterrupt):   # a second Ctrl-C stops at once
        stop.request()


def test_the_fps_overlay_shows_the_last_second_not_the_mean_since_start():
    rate = RecentRate(window=1.0)
    for i in range(20):                   # a slow start: 5 frames/s for 4 s
        rate.tick(i * 0.2)
    now = 3.8
    for _ in range(60):                   # then 30 frames/s
        now += 1 / 30
        shown = rate.tick(now)
    assert shown == pytest.approx(30, rel=0.05)
