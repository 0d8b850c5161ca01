"""Training throughput on FER-2013: float32 vs mixed bfloat16, with and without augmentation.

    python bench/train_speed.py [--steps 60] [--batch-size 32] [--data ../shared/data/fer2013]
    python bench/train_speed.py --widths 1 1.5 2 --policies float32 --augment on   # wider teachers

Times `model.fit` on the real training split through the same TrainingBatches
pipeline as train.py, after a warm-up, and prints images per second.
"""
import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import data  # noqa: E402


def images_per_second(split, policy, augment, batch_size, steps, width=1.0, warmup=5):
    import keras
    from model import build_model
    from training.batches import TrainingBatches
    from training.optimizers import compile_for_training
    keras.config.set_dtype_policy(policy)
    model = compile_for_training(build_model(num_classes=len(split.class_names), width=width), label_smoothing=0.1)
    batches = TrainingBatches(split, batch_size, augment=augment, seed=0)
    model.fit(batches, epochs=1, steps_per_epoch=warmup, verbose=0)
    start = time.perf_counter()
    model.fit(batches, epochs=1, steps_per_epoch=steps, verbose=0)
    return steps * batch_size / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data", type=Path, default=data.DEFAULT_DATA)
    parser.add_argument("--steps", type=int, default=60, help="timed training steps per setting")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2, help="runs of each setting; the best counts")
    parser.add_argument("--widths", type=float, nargs="+", default=[1.0], help="network widths (train.py --width)")
    parser.add_argument("--policies", nargs="+", default=["float32", "mixed_bfloat16"],
                        choices=["float32", "mixed_bfloat16"])
    parser.add_argument("--augment", nargs="+", default=["off", "on"], choices=["off", "on"])
    args = parser.parse_args()
    import data
    start = time.perf_counter()
    split = data.load_split(data.resolve_root(args.data) / "train")
    print(f"loaded {len(split.y)} training images in {time.perf_counter() - start:.1f} s "
          f"({split.x.nbytes / 2**20:.0f} MiB as float32)")
    # Each setting runs --repeats times, interleaved, and keeps its best rate: a shared
    # 2-core machine has pauses that would otherwise decide the comparison.
    results = {}
    settings = [(width, policy, augment) for width in args.widths for policy in args.policies
                for augment in args.augment]
    for _ in range(args.repeats):
        for setting in settings:
            rate = images_per_second(split, setting[1], setting[2], args.batch_size, args.steps, setting[0])
            results[setting] = max(rate, results.get(setting, 0))
    several = len(args.widths) > 1   # one width prints as this script did before --widths
    for (width, policy, augment), rate in results.items():
        relative = f" ({rate / results[args.widths[0], policy, augment]:.2f} of width {args.widths[0]:g})"
        print(f"{f'width {width:<4g} ' if several else ''}{policy:15s} augmentation {augment:3s}: "
              f"{rate:6.1f} images/s{relative if several else ''}")
    if set(args.augment) == {"off", "on"}:
        for width in args.widths:
            for policy in args.policies:
                cost = 1 - results[width, policy, "on"] / results[width, policy, "off"]
                print(f"{f'width {width:g} ' if several else ''}{policy}: augmentation costs {cost:.1%} of throughput")


if __name__ == "__main__":
    main()
