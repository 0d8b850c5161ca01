"""Frames per second of the recognition pipeline on a 720p video with 1-3 real faces.

    python bench/video_fps.py [--frames 240] [--data ../shared/data/fer2013]

Makes its own test video (FER-2013 faces pasted onto a background, positions
known), then times (a) decoding alone, (b) a straightforward loop: full-frame
Haar with default parameters and one `model.predict` call per face, as tutorials
do, and (c) main.py's pipeline, headless, writing the CSV. Prints frames per
second, detection recall against the known faces, and the ratios.
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402

from bench.scene import load_fer_faces, match_detections, write_face_video  # noqa: E402


def decode_only(path):
    capture = cv2.VideoCapture(str(path))
    frames, start = 0, time.perf_counter()
    while capture.read()[0]:
        frames += 1
    return frames / (time.perf_counter() - start)


def straightforward(path, model, cascade_path, truth):
    """Full-resolution Haar and one predict() per face: the tutorial loop."""
    from data import preprocess_face
    cascade = cv2.CascadeClassifier(str(cascade_path))
    capture = cv2.VideoCapture(str(path))
    found = frames = 0
    start = time.perf_counter()
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        boxes = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5)
        for x, y, w, h in boxes:
            model.predict(preprocess_face(gray[y:y + h, x:x + w])[None], verbose=0)
        found += match_detections(truth[frames], boxes)
        frames += 1
    return frames / (time.perf_counter() - start), found


def pipeline(path, model, class_names, cascade_path, truth, csv_path):
    """main.py's pipeline with its default settings, headless, writing the CSV."""
    from video import FaceDetector, Outputs, Recognizer, RunStats, parse_source, run_stream
    recognizer = Recognizer(FaceDetector(cascade_path), model, class_names)
    stats = RunStats(keep_rows=True)
    run_stream(parse_source(path), recognizer, Outputs(csv=csv_path, progress=False), stats)
    boxes_by_frame = {}
    for row in stats.rows:
        boxes_by_frame.setdefault(row[0], []).append(tuple(row[3:7]))
    found = sum(match_detections(t, boxes_by_frame.get(i, [])) for i, t in enumerate(truth))
    return stats.fps, found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--frames", type=int, default=240, help="length of the test video")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "fer2013")
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "modelTrained.h5")
    args = parser.parse_args()
    from model import load_trained_model
    model, class_names = load_trained_model(args.model)
    cascade = ROOT / "haarcascade_frontalface_default.xml"
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "faces720p.mp4"
        truth = write_face_video(video, load_fer_faces(args.data), frames=args.frames)
        faces = sum(len(t) for t in truth)
        print(f"test video: {args.frames} frames, 1280x720, {faces} faces (1-3 per frame)")
        decode_fps = decode_only(video)
        simple_fps, simple_found = straightforward(video, model, cascade, truth)
        fast_fps, fast_found = pipeline(video, model, class_names, cascade, truth, Path(tmp) / "f.csv")
    print(f"(a) decoding alone:                         {decode_fps:8.1f} fps")
    print(f"(b) full-frame Haar + predict() per face:   {simple_fps:8.1f} fps   "
          f"recall {simple_found}/{faces} = {simple_found / faces:.1%}")
    print(f"(c) main.py pipeline (headless, --csv):     {fast_fps:8.1f} fps   "
          f"recall {fast_found}/{faces} = {fast_found / faces:.1%}")
    print(f"(c)/(b) speed-up: {fast_fps / simple_fps:.1f}x   (c)/(a) share of decode speed: "
          f"{fast_fps / decode_fps:.1%}")


if __name__ == "__main__":
    main()
