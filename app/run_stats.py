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

    def record(self, frame_index, time_s, numbers, boxes, probs, class_names):
        """Count a processed frame and return its CSV rows."""
        self.frames += 1
        self.faces += len(probs)
        for p in probs:
            label = class_names[int(np.argmax(p))]
            self.label_counts[label] = self.label_counts.get(label, 0) + 1
        rows = csv_rows(frame_index, time_s, numbers, boxes, probs, class_names)
        if self.keep_rows:
            self.rows += rows
        return rows

    @property
    def fps(self):
        return self.frames / self.seconds if self.seconds else 0.0
