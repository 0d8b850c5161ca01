"""Where the app's recall goes on the synthetic footage: for every true face-frame the app
misses, what a full YuNet scan of that frame finds there.

    python bench/recall_breakdown.py [--starts 0.7 0.5] [--data ../shared/data/fer2013]

Builds bench/video_fps.py's footage (continuous and cuts, full and half light; 450 frames),
runs the tracker as main.py does (YuNet, re-identification off: it changes numbers, not
recall) at each start level, and sorts each true face-frame into: found (by a track that is
confirmed), found by a track never confirmed (a blip), missed where a full scan finds the
face confidently, only weakly (a score below the start level), or not at all. Tracking
only, no classifier: no speed figures. 2-3 minutes a start level.
"""
import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402

import data  # noqa: E402
from app.detectors import YUNET_SCORE, iou, make_detector  # noqa: E402
from app.tracking import FaceTracker  # noqa: E402
from tests.footage import load_labelled_faces, write_scene_video  # noqa: E402

# found by a confirmed track; by a track never confirmed (a blip); missed where the frame's
# full scan finds the face confidently, only weakly, or not at all
KINDS = ("found", "blip", "missed: confident", "missed: weak", "missed: nothing")


def breakdown(video, footage, start):
    """{kind: true face-frames} for the tracker at start level `start` on `video`."""
    detector = make_detector("yunet", score_threshold=start)
    scan = make_detector("yunet", score_threshold=start)   # a second one: the tracker's keeps its state
    tracker = FaceTracker(detector)
    capture = cv2.VideoCapture(str(video))
    seen, scans = [], []
    index = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        seen.append([(t.box, t) for t in tracker.update(gray, index / 30)])
        squares, confident = scan.detections(gray)
        scans.append(list(zip((tuple(s) for s in squares), confident)))
        index += 1
    capture.release()
    counts = dict.fromkeys(KINDS, 0)
    for boxes, tracks, found in zip(footage.boxes, seen, scans):
        for box in boxes:
            best = max(tracks, key=lambda row: iou(box, row[0]), default=None)
            if best is not None and iou(box, best[0]) >= 0.3:
                kind = KINDS[0] if best[1].confirmed else KINDS[1]
            else:
                there = [strong for square, strong in found if iou(box, square) >= 0.3]
                kind = KINDS[2] if any(there) else KINDS[3] if there else KINDS[4]
            counts[kind] += 1
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data", type=Path, default=data.DEFAULT_DATA)
    parser.add_argument("--frames", type=int, default=450)
    parser.add_argument("--starts", type=float, nargs="+", default=[YUNET_SCORE, 0.5],
                        help="YuNet start levels (--score-threshold) to compare")
    args = parser.parse_args()
    faces, _ = load_labelled_faces(args.data, per_class=10, split="validation")
    print(f"{'':34}" + "".join(f"{kind:>19}" for kind in KINDS))
    with tempfile.TemporaryDirectory() as tmp:
        for name, cut_every, brightness in (("continuous", 0, 1.0), ("cuts", 15, 1.0),
                                            ("continuous, half light", 0, 0.5), ("cuts, half light", 15, 0.5)):
            video = Path(tmp) / "footage.mp4"
            footage = write_scene_video(video, faces, frames=args.frames, cut_every=cut_every,
                                        faces_per_frame=None, brightness=brightness)
            total = sum(len(boxes) for boxes in footage.boxes)
            for start in args.starts:
                counts = breakdown(video, footage, start)
                print(f"{name + f', start {start:g}':34}" + "".join(f"{counts[k] / total:19.1%}" for k in KINDS),
                      flush=True)


if __name__ == "__main__":
    main()
