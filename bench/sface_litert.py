"""SFace in LiteRT: convert its ONNX file to the twin the app runs, and compare the two.

    python bench/sface_litert.py                       # compare the shipped twin with OpenCV's
    python bench/sface_litert.py --convert --onnx2tf DIR   # maintainers: write the twin again

The comparison (no extra package): FER-2013 train/ faces, upscaled, their landmarks found
by YuNet; for OpenCV's FaceRecognizerSF on the ONNX file (alignCrop, feature) and for the
app's way (app/reid.py: align_face, the LiteRT twin) side by side: the cosine between the
two embeddings of each face, how far the similarity of every pair of faces moves, the
aligned crops' largest difference, milliseconds a face (2 threads) and the time to load.

--convert needs onnx2tf, which pins other versions of TensorFlow and NumPy than ours: put
it in a folder of its own and name it with --onnx2tf, e.g.
    pip install --target ../onnx2tf --no-deps onnx2tf==1.29.24 onnx onnx-graphsurgeon \\
        sng4onnx onnxsim tf_keras==2.21.0 psutil
It converts a copy of models/sface's ONNX file (onnx2tf rewrites its input file in place),
keeps its float16-weights output (half the size of float32, the same embeddings to 1e-3),
records the ONNX file's SHA-256 in it and prints the twin's SHA-256 to pin in app/reid.py.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

import data  # noqa: E402
from app.reid import (SFACE_MODEL, SFACE_SOURCE, SOURCE_KEY, FaceEmbedder, align_face,  # noqa: E402
                      check_sface_file)
from artefacts import fingerprint, read_litert_fingerprint  # noqa: E402
from inference.litert_export import record_fingerprint  # noqa: E402


def convert(onnx2tf_folder):
    """Write models/sface's LiteRT twin from its ONNX file with onnx2tf; its SHA-256."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        copy = tmp / SFACE_SOURCE.name
        shutil.copyfile(SFACE_SOURCE, copy)
        # onnx2tf checks its output on sample images it would download: give it some
        np.save(tmp / "calibration_image_sample_data_20x128x128x3_float32.npy",
                np.random.default_rng(0).random((20, 128, 128, 3), dtype=np.float32))
        environment = dict(os.environ, PYTHONPATH=str(Path(onnx2tf_folder).resolve()))
        done = subprocess.run([sys.executable, "-m", "onnx2tf.onnx2tf", "-i", str(copy), "-o", str(tmp / "out"), "-n"],
                              cwd=tmp, env=environment, capture_output=True, text=True)
        written = sorted((tmp / "out").glob("*_float16.tflite"))
        if done.returncode != 0 or not written:
            sys.exit(f"onnx2tf failed: {(done.stderr or done.stdout).strip().splitlines()[-1:]}")
        record_fingerprint(written[0], SFACE_MODEL, SOURCE_KEY, fingerprint(SFACE_SOURCE))
    return fingerprint(SFACE_MODEL)


def aligned_faces(embedder, count, root):
    """[(BGR image, YuNet row)] of `count` FER-2013 train/ faces where YuNet finds landmarks."""
    folder = data.resolve_root(root) / "train"
    rng = np.random.default_rng(0)
    faces = []
    for name in data.class_folders(folder):
        for path in rng.permutation(sorted((folder / name).iterdir()))[:count // 7]:
            gray = cv2.resize(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), (144, 144), interpolation=cv2.INTER_CUBIC)
            image = cv2.copyMakeBorder(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), 24, 24, 24, 24, cv2.BORDER_REFLECT)
            embedder.landmarks.setInputSize((image.shape[1], image.shape[0]))
            _, rows = embedder.landmarks.detect(image)
            if rows is not None:
                faces.append((image, rows[0]))
    return faces


def unit(rows):
    rows = np.array(rows, np.float64).reshape(len(rows), -1)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def compare(count, root):
    cv2.setNumThreads(2)
    start = time.perf_counter()
    opencv = cv2.FaceRecognizerSF.create(str(SFACE_SOURCE), "")
    opencv_load = time.perf_counter() - start
    start = time.perf_counter()
    embedder = FaceEmbedder()
    twin_load = time.perf_counter() - start
    faces = aligned_faces(embedder, count, root)
    crops = [(opencv.alignCrop(image, row), align_face(image, row[4:14].reshape(5, 2))) for image, row in faces]
    timings = {}
    features = {}
    for name, feature_of in (
            ("OpenCV FaceRecognizerSF (ONNX)", lambda pair: opencv.feature(pair[0])),
            ("LiteRT twin (app/reid.py)", lambda pair: embedder.network.predict_on_batch(
                cv2.cvtColor(pair[1], cv2.COLOR_BGR2RGB).astype(np.float32)[np.newaxis]))):
        feature_of(crops[0])   # the first call plans the network
        start = time.perf_counter()
        features[name] = unit([feature_of(pair) for pair in crops])
        timings[name] = (time.perf_counter() - start) / len(crops) * 1000
    reference, twin = features.values()
    cosine = (reference * twin).sum(axis=1)
    moved = np.abs(reference @ reference.T - twin @ twin.T)
    crop_difference = max(int(np.abs(a.astype(int) - b.astype(int)).max()) for a, b in crops)
    print(f"{len(crops)} FER-2013 train/ faces with landmarks; aligned crops differ by at most "
          f"{crop_difference} grey levels")
    print(f"cosine between the two embeddings of a face: min {cosine.min():.5f}, median {np.median(cosine):.5f}; "
          f"similarity of a pair of faces moves by at most {moved.max():.4f} (mean {moved.mean():.5f})")
    print(f"{'':34}{'ms a face':>10}{'load s':>8}{'file MB':>9}")
    for (name, ms), load, path in zip(timings.items(), (opencv_load, twin_load), (SFACE_SOURCE, SFACE_MODEL)):
        print(f"{name:34}{ms:10.1f}{load:8.2f}{path.stat().st_size / 1e6:9.1f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--convert", action="store_true", help="write the twin again from the ONNX file")
    parser.add_argument("--onnx2tf", type=Path, help="the folder onnx2tf is installed in (with --convert)")
    parser.add_argument("--faces", type=int, default=420)
    parser.add_argument("--data", type=Path, default=data.DEFAULT_DATA)
    args = parser.parse_args()
    if args.convert:
        print(f"wrote {SFACE_MODEL.relative_to(ROOT)}: sha256 {convert(args.onnx2tf or '.')}; pin it in "
              f"app/reid.py (SFACE_SHA256), then compare: python bench/sface_litert.py")
        return
    recorded = read_litert_fingerprint(SFACE_MODEL, SOURCE_KEY)
    print(f"the twin records its ONNX file's sha256 {recorded[:12] if recorded else None}...; "
          f"the ONNX file's is {fingerprint(SFACE_SOURCE)[:12]}...")
    check_sface_file(SFACE_MODEL)
    compare(args.faces, args.data)


if __name__ == "__main__":
    main()
