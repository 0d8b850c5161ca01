"""Speed of the emotion classifier alone on this CPU: one face, and faces in batches.

    python bench/classifier_speed.py [--model models/modelTrained.h5]

Single-face latency is the median of many `predict_proba` calls with one face
(what the app pays per frame with one face), also with `--tta` (8 views of the
face in one call); batched throughput is faces per second at batch 256 (what
evaluate.py pays), in float32 and in mixed bfloat16.
"""
import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402


def latency_ms(model, faces, calls, tta=False):
    from model import predict_proba
    for _ in range(5):
        predict_proba(model, faces, tta=tta)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        predict_proba(model, faces, tta=tta)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def bfloat16_copy(model):
    import keras
    from model import build_model
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        copy = build_model(num_classes=model.output_shape[-1])
    finally:
        keras.config.set_dtype_policy("float32")
    copy.set_weights(model.get_weights())
    return copy


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "modelTrained.h5")
    parser.add_argument("--calls", type=int, default=200, help="timed single-face calls")
    args = parser.parse_args()
    from model import load_trained_model
    model, _ = load_trained_model(args.model)
    rng = np.random.default_rng(0)
    for name, variant in (("float32", model), ("mixed_bfloat16", bfloat16_copy(model))):
        for faces in (1, 3):
            ms = latency_ms(variant, rng.random((faces, 48, 48, 1), dtype=np.float32), args.calls)
            print(f"{name:15s} {faces} face(s) per call: {ms:6.2f} ms")
        ms = latency_ms(variant, rng.random((1, 48, 48, 1), dtype=np.float32), args.calls // 4, tta=True)
        print(f"{name:15s} 1 face with --tta:   {ms:6.2f} ms")
        batch = rng.random((256, 48, 48, 1), dtype=np.float32)
        ms = latency_ms(variant, batch, 10)
        print(f"{name:15s} batch of 256:        {256 / ms * 1000:6.0f} faces/s")


if __name__ == "__main__":
    main()
