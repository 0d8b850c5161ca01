"""Peak memory (RSS) of training on full FER-2013 at several batch sizes.

    python bench/train_memory.py [--batch-sizes 16 32 64 128] [--steps 30]

Each batch size runs in a fresh process that loads the whole dataset as
train.py does and trains for --steps steps with augmentation and the default
precision; the process reports its own peak resident memory.
"""
import argparse
import os
import resource
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import data  # noqa: E402


def child(data_root, batch_size, steps):
    import keras
    import data
    from model import build_model, choose_precision
    from training.batches import TrainingBatches
    from training.optimizers import compile_for_training
    dataset = data.load_dataset(data_root)
    keras.config.set_dtype_policy(choose_precision("auto"))
    model = compile_for_training(build_model(len(dataset.class_names)), label_smoothing=0.1)
    batches = TrainingBatches(dataset.train, batch_size, augment="on")
    model.fit(batches, epochs=1, steps_per_epoch=steps, verbose=0)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(f"PEAK_MIB {peak_kib / 1024:.0f} {model.dtype_policy.name}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data", type=Path, default=data.DEFAULT_DATA)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 32, 64, 128])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.data, args.child, args.steps)
    print("batch size | peak RSS")
    for batch_size in args.batch_sizes:
        result = subprocess.run([sys.executable, __file__, "--data", str(args.data), "--steps",
                                 str(args.steps), "--child", str(batch_size)],
                                capture_output=True, text=True, check=True)
        line = next(l for l in result.stdout.splitlines() if l.startswith("PEAK_MIB"))
        _, mib, policy = line.split()
        print(f"{batch_size:10d} | {int(mib) / 1024:.2f} GiB ({policy})")


if __name__ == "__main__":
    main()
