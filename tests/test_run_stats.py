"""What a run counts."""
import numpy as np

from app.run_stats import RunStats

NAMES = ["angry", "happy", "sad"]


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
