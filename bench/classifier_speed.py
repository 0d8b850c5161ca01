"""Speed of the emotion classifier alone on this CPU, in each runtime: one face, and batches.

    python bench/classifier_speed.py [--model models/modelTrained.h5]

Single-face latency is the median of many `predict_proba` calls with one face
(what the app pays per frame with one face), also with `--tta` (8 views of the
face in one call); batched throughput is faces per second at batch 256 (what
evaluate.py pays). Runtimes: Keras float32, Keras mixed bfloat16 (fast only on
CPUs with native bfloat16), and the LiteRT twins (float32 and int8) the app runs.
Also prints how long each runtime takes to load, in a fresh process.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from artefacts import DEFAULT_MODEL  # noqa: E402


def latency_ms(model, faces, calls, tta=False):
    from inference.runtimes import predict_proba
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


def load_seconds(model_path, runtime):
    """Seconds for a fresh Python process to import what it needs and load the model."""
    code = ("import sys, time; start = time.perf_counter(); from inference.runtimes import load_classifier; "
            "load_classifier(sys.argv[1], sys.argv[2]); print(time.perf_counter() - start)")
    result = subprocess.run([sys.executable, "-c", code, str(model_path), runtime], cwd=ROOT,
                            capture_output=True, text=True, check=True)
    return float(result.stdout.split()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--calls", type=int, default=200, help="timed single-face calls")
    args = parser.parse_args()
    from common.native_logs import import_keras_quietly
    import_keras_quietly()
    from inference.runtimes import load_classifier
    model, _, _ = load_classifier(args.model, "keras")
    variants = [("keras float32", model, "keras"), ("keras bfloat16", bfloat16_copy(model), None)]
    for runtime in ("litert", "litert-int8"):
        try:
            variants.append((runtime, load_classifier(args.model, runtime)[0], runtime))
        except (FileNotFoundError, ValueError) as error:
            print(f"{runtime}: skipped ({error})")
    rng = np.random.default_rng(0)
    print(f"{'runtime':16}{'1 face':>10}{'3 faces':>10}{'1 face tta':>12}{'batch 256':>14}{'load':>9}")
    for name, variant, runtime in variants:
        one = latency_ms(variant, rng.random((1, 48, 48, 1), dtype=np.float32), args.calls)
        three = latency_ms(variant, rng.random((3, 48, 48, 1), dtype=np.float32), args.calls)
        tta = latency_ms(variant, rng.random((1, 48, 48, 1), dtype=np.float32), args.calls // 4, tta=True)
        batch = 256 / latency_ms(variant, rng.random((256, 48, 48, 1), dtype=np.float32), 10) * 1000
        load = f"{load_seconds(args.model, runtime):8.2f}s" if runtime else f"{'':9}"
        print(f"{name:16}{one:8.2f}ms{three:8.2f}ms{tta:10.2f}ms{batch:8.0f} faces/s{load}")


if __name__ == "__main__":
    main()
