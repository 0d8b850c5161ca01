"""Export a trained Keras model for the app's fast LiteRT runtimes.

    python export.py                                # models/modelTrained.h5 -> .tflite, .int8.tflite
    python export.py --model runs/other.h5

train.py does this by itself when training ends; use this for a model trained
before, or where training ran without TensorFlow (the exporter needs it). Each
.tflite records the fingerprint of the .h5 it came from: main.py and evaluate.py
use it only while that .h5 is unchanged.
"""
import sys
from pathlib import Path

from artefacts import DEFAULT_MODEL, ModelError
from common.arguments import Parser
from common.entry_point import run_main
from common.native_logs import import_keras_quietly
from inference.litert_export import export_twins
from inference.runtimes import load_classifier, predict_proba


def main(argv=None):
    parser = Parser(description="Export a trained model to LiteRT (NAME.tflite and NAME.int8.tflite beside it).")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                        help="trained Keras model")
    args = parser.parse_args(argv)
    import_keras_quietly()
    import numpy as np

    from model import load_trained_model
    try:
        model, _ = load_trained_model(args.model)
        print(f"Exporting {args.model} ...", flush=True)
        targets = export_twins(model, args.model)
    except (FileNotFoundError, ModelError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    faces = np.random.default_rng(0).random((16, 48, 48, 1), dtype=np.float32)
    expected = predict_proba(model, faces)
    for runtime, target in zip(("litert", "litert-int8"), targets):
        twin, _, _ = load_classifier(args.model, runtime=runtime)
        difference = np.abs(predict_proba(twin, faces) - expected).max()
        print(f"{target} ({target.stat().st_size / 1e6:.1f} MB): largest difference from Keras "
              f"on 16 random inputs {difference:.1e}")
    return 0


if __name__ == "__main__":
    run_main(main)
