"""Choose the tracker's region level (app/tracking.py REGION_LEVEL) on FER-2013's train/ faces.

    python bench/region_level.py [--pairs 600] [--data ../shared/data/fer2013]

A track ends when its own region, compared with the frame before (an 8x8 patch, brightness
and contrast removed), differs by more than the level both in place and where the track's
last motion would take it: then it shows another face. Too low a level ends a person's
track when they move in a way the last motion does not predict (a new number for the same
person); too high keeps the old number for a new person who appears where another just was.
This pastes train/ faces at 80-220 pixels and measures the difference for the same face
moved by 2, 4 and 6% of its size, unpredicted (4% is fast motion at 30 frames/s), and for
two different faces in one place, in full and half light. The level printed is halfway between
the 99th percentile of the same face moved by 4% and the 1st percentile of two faces.
"""
import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import data  # noqa: E402
from app.tracking import REGION_LEVEL, region_difference  # noqa: E402
from bench.crop_calibration import sample_faces  # noqa: E402
from tests.footage import background, compose_frame  # noqa: E402

MOVES = (0.02, 0.04, 0.06)   # shift between two frames, in face sizes


def frame_with(back, face, x, y, side, brightness):
    """A grey frame: `face` pasted onto `back` at (x, y), `side` pixels wide, at `brightness`."""
    frame = data.to_gray(compose_frame(back, [face], [(x, y, side, side)]))
    return np.clip(frame * brightness, 0, 255).astype(np.uint8)


def measure(faces, pairs, brightness, seed=0):
    """({move: differences of the same face moved}, differences of two faces in one place)."""
    rng = np.random.default_rng(seed)
    back = background(1280, 720, seed=seed)
    moved, swapped = {move: [] for move in MOVES}, []
    x, y = 300, 200
    for _ in range(pairs):
        first, second = (faces[i] for i in rng.integers(len(faces), size=2))
        side = int(rng.integers(80, 221))
        box = (x, y, side, side)
        before = frame_with(back, first, x, y, side, brightness)
        for move in MOVES:
            angle = rng.uniform(0, 2 * np.pi)
            dx, dy = (int(round(move * side * f(angle))) for f in (np.cos, np.sin))
            moved[move].append(region_difference(before, frame_with(back, first, x + dx, y + dy, side, brightness), box))
        swapped.append(region_difference(before, frame_with(back, second, x, y, side, brightness), box))
    return {move: np.array(v) for move, v in moved.items()}, np.array(swapped)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data", type=Path, default=data.DEFAULT_DATA)
    parser.add_argument("--pairs", type=int, default=600, help="pairs of frames measured in each light")
    args = parser.parse_args()
    faces, _ = sample_faces(args.data, "train", 1400, seed=5)
    same_p99, two_p1 = [], []
    print(f"{len(faces)} train/ faces; the level now: {REGION_LEVEL}\n")
    print(f"{'':26}{'p95':>7}{'p99':>7}   share over 0.40 / 0.45 / 0.50")
    for brightness in (1.0, 0.5):
        moved, swapped = measure(faces, args.pairs, brightness)
        for move, values in moved.items():
            print(f"{f'light {brightness}, moved {move:.0%}':26}{np.percentile(values, 95):7.3f}"
                  f"{np.percentile(values, 99):7.3f}   "
                  + " / ".join(f"{np.mean(values > level):.1%}" for level in (0.4, 0.45, 0.5)))
        same_p99.append(np.percentile(moved[0.04], 99))
        two_p1.append(np.percentile(swapped, 1))
        print(f"{f'light {brightness}, two faces':26}{'p1':>7}{'p5':>7}   share under 0.40 / 0.45 / 0.50")
        print(f"{'':26}{np.percentile(swapped, 1):7.3f}{np.percentile(swapped, 5):7.3f}   "
              + " / ".join(f"{np.mean(swapped <= level):.1%}" for level in (0.4, 0.45, 0.5)))
    level = (max(same_p99) + min(two_p1)) / 2
    print(f"\nhalfway between the same face moved by 4% (p99 {max(same_p99):.3f}) and two faces "
          f"(p1 {min(two_p1):.3f}): REGION_LEVEL = {level:.2f}")


if __name__ == "__main__":
    main()
