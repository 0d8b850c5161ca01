"""The pipeline's frame loop: how a run is stopped."""
import cv2
import numpy as np
import pytest

from app import outputs, pipeline
from app.run_stats import RunStats
from app.sources import parse_source
from common.stopping import StopRequest


def test_a_stop_request_ends_the_stream_after_the_current_frame(tmp_path):
    clip = tmp_path / "c.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for _ in range(10):
        writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.release()
    stop = StopRequest()

    class NoFaces:
        def detections(self, gray):
            return np.zeros((0, 4), int), np.zeros(0, bool)

    class StopAtThirdFrame:
        class_names = ["a", "b"]
        detector = NoFaces()
        embedder = None
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




def csv_of_clip(tmp_path, plan, embedder=None):
    """Run the pipeline (YuNet, a full scan every frame, a stand-in classifier) over a clip of
    the 640x360 frames of `plan`; (the CSV as a table, the run's stats)."""
    from app.detectors import make_detector
    clip = tmp_path / "c.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, (640, 360))
    for frame in plan:
        writer.write(frame if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()
    recognizer = pipeline.Recognizer(make_detector("yunet"), None, ["a", "b"], embedder=embedder)
    recognizer.classify = lambda gray, boxes: np.tile([[0.3, 0.7]], (len(boxes), 1))
    stats = RunStats()
    pipeline.run_stream(parse_source(str(clip)), recognizer,
                        outputs.Outputs(csv=tmp_path / "f.csv", progress=False),
                        pipeline.Settings(scan_every=1), stats)
    return np.genfromtxt(tmp_path / "f.csv", delimiter=",", names=True, dtype=None, encoding=None), stats


def test_a_blip_writes_no_row_and_a_confirmed_track_writes_its_first_frames_in_order(tmp_path, fer_faces):
    from footage import background, compose_frame
    back = background(640, 360)
    face = compose_frame(back, fer_faces[:1], [(200, 100, 150, 150)])
    plan = [back] * 4 + [face] * 2 + [back] * 4 + [face] * 6 + [back] * 2   # a blip, then a face
    table, stats = csv_of_clip(tmp_path, plan)
    assert list(table["frame"]) == list(range(10, 16))   # no row of the blip; the face's first two frames too
    assert set(table["face"]) == {1} and stats.frames == len(plan) and stats.faces == 6


def test_with_persons_every_frame_of_a_face_is_written_under_its_number_once_identified(tmp_path, fer_faces):
    # Identified a few frames after it appears (tracking.IDENTIFY_AT), or when it leaves
    # before that: either way its rows come from its first frame, in frame order.
    from app.reid import FaceEmbedder
    from footage import background, compose_frame
    back = background(640, 360)
    first, second = (compose_frame(back, [face], [(200, 100, 150, 150)]) for face in fer_faces[:2])
    plan = [back] * 2 + [first] * 5 + [back] * 4 + [second] * 12 + [back] * 2   # 5 frames: gone before identified
    table, _ = csv_of_clip(tmp_path, plan, embedder=FaceEmbedder())
    assert list(table["frame"]) == list(range(2, 7)) + list(range(11, 23))
    assert list(table["face"]) == [1] * 5 + [2] * 12
