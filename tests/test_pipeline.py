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


