"""What a run counts as it goes: frames, faces, labels, tracks, and how it ended."""
from dataclasses import dataclass, field

import numpy as np

from app.outputs import csv_rows


@dataclass
class RunStats:
    frames: int = 0
    faces: int = 0
    corrupt_frames: int = 0
    reconnects: int = 0
    seconds: float = 0.0
    video_fps: float = 0.0                       # the source's frame rate (video files and streams)
    label_counts: dict = field(default_factory=dict)
    tracks: list = field(default_factory=list)   # every track of a video run, by number
    ended_by: str = ""
    keep_rows: bool = False                      # keep every CSV row (for --plot): memory grows
    rows: list = field(default_factory=list)

    def record(self, frame_index, time_s, numbers, boxes, probs, class_names, labels=None):
        """Count a processed frame and return its CSV rows (`labels`: the class index shown
        for each face; default: the most probable)."""
        labels = labels if labels is not None else [int(np.argmax(p)) for p in probs]
        self.frames += 1
        self.faces += len(probs)
        for best in labels:
            self.label_counts[class_names[best]] = self.label_counts.get(class_names[best], 0) + 1
        rows = csv_rows(frame_index, time_s, numbers, boxes, probs, class_names, labels)
        if self.keep_rows:
            self.rows += rows
        return rows

    @property
    def fps(self):
        return self.frames / self.seconds if self.seconds else 0.0
