"""Train recipe candidates side by side (on one GPU: each run is a `train.py` process) and
print their progress; docs/journal/ ("Recipe v2 on a GPU" and each lease's section) quotes what it printed.

    python bench/recipe_runs.py --data DATA --runs RUNS --deadline 480 --plan second
    python bench/recipe_runs.py --data DATA --runs RUNS --deadline 200 --plan second --resume

--plan first: two full-length runs and six short ones that change one thing at a time;
whenever the full runs would miss the deadline at their current pace, a short run is
stopped (SIGTERM: train.py ends its epoch, saves and finishes it). --plan second: six full-length runs.
--plan third: eight full-length runs, each adding regularisation to the recipe.
--plan fourth: four full-length runs: weight averaging at a held rate, batch 128, label
smoothing 0.2, soft labels of seven trained models.
--plan fifth: four full-length runs of the distilled recipe (today's defaults): a second
seed, stronger teachers (two seeds), a larger share of soft labels.
--plan sixth: two full-length runs of the recipe 1.5 times as wide, teachers for the next
soft labels (pack with --models 1: two such models are more than a lease sends back).
Each run pauses after its last whole epoch before the deadline (train.py --time-limit:
no finish step, which its resumed run does at its end); one still running at the
deadline is stopped (SIGTERM: train.py ends the epoch in progress and saves), and a second
SIGTERM skips its finish step (bench/batchnorm_recompute.py for a model left
unfinished); --resume continues the unfinished ones from their per-epoch checkpoints
(--only NAME ...: just these). With
--pack DIR, the logs and histories go into DIR/runs.tar.gz, the .h5 of the best runs
into 15 MB parts (what a lent GPU machine may send back), and then the training faces'
probabilities of every finished run (python -m training.soft_labels --each) into runs.tar.gz too.
"""
import argparse
import csv
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from training.distillation import SHIPPED_TEACHERS as TEACHERS  # noqa: E402   docs/TRAINING.md, "Soft labels"
RECIPE = ["--optimizer", "sgd", "--learning-rate", "0.01", "--weight-decay", "1e-3", "--batch-size", "64",
          "--crop", "40", "--erase", "0.5", "--patience", "0", "--average-from", "121", "--epochs", "150",
          "--soft-labels", "none"]   # none: what these runs trained on before soft labels became the default
ADAM = ["--optimizer", "adam", "--learning-rate", "1e-3", "--weight-decay", "0", "--crop", "48", "--erase", "0"]
WARP = ["--crop", "48", "--erase", "0"]   # the old augmentation: no crops, no erasing
TEACHERS8 = ROOT / "experiments" / "teachers8.npz"   # docs/journal/, "The fourth lease"
LONG = ["--optimizer", "adam", "--learning-rate", "1e-3", "--weight-decay", "0", "--batch-size", "64",
        "--augment", "on", "--crop", "48", "--erase", "0", "--dropout", "0.25", "--label-smoothing", "0.1",
        "--lr-schedule", "cosine", "--patience", "0", "--epochs", "150", "--soft-labels", "none"]


def candidates(plan, short):
    """{name: train.py options}; short runs' names start with "s-".

    first: what the first lease ran (docs/journal/, "Recipe v2 on a GPU").
    second: what that suggested: Adam over 150 epochs, alone, with its last 20 epochs
    on light augmentation (two seeds), with dropout 0.1 as well (two seeds), and with
    crop jitter from 44 pixels.
    third: what that suggested: the recipe (the second plan's adam-light, today's
    defaults) overfits from epoch 90 on, so each run adds regularisation: decoupled
    weight decay (two strengths), mixup, random erasing, all three (two seeds), and SGD
    with Nesterov momentum at a tenth of the first plan's weight decay; and the recipe
    itself with a third seed, this lease's baseline. Every run also averages the
    weights of its 20 light epochs, to learn whether that average (its BatchNorm
    statistics recomputed with dropout off) beats the best epoch.
    fourth: what that suggested: the regularisers did not lift the recipe, and no run
    reached its average. So the recipe's seed 1337 (the same data order and schedule as
    the shipped run up to epoch 110) averaging its last 40 epochs at a learning rate held
    at 1e-4 (SWA; the cosine is at 1.7e-4 there); two candidates of issue 13 not yet
    tried, batch 128 and label smoothing 0.2; and distillation: half of each target the
    mean probabilities of the seven models trained so far (TEACHERS).
    fifth: what that suggested: distillation lifted the recipe by a point, the only
    change that did, and became the default. So its second seed; soft
    labels of the eight models kept so far, whose ensemble scores 70.35% against the
    seven teachers' 70.12% (TEACHERS8; two seeds); and 0.8 of each target the soft label.
    sixth: what the fifth's candidates scored when trained on the CPU instead: none lifted
    the recipe, and ensembles of this network's runs top out at 70.1-70.35%, too weak a
    teacher to lift one copy to 70.5%. So stronger teachers: the recipe 1.5 times as wide
    (10.1M parameters, about twice an epoch's work), two seeds; what comes back is their
    probabilities for the training faces and the better one's model.
    """
    if plan == "first":
        cut = ["--epochs", str(short), "--average-from", str(short - short // 5 + 1)]
        return {
            "recipe": RECIPE,
            "recipe-seed2": RECIPE + ["--seed", "2"],
            "s-adam": RECIPE + cut + ADAM,
            "s-sgd": RECIPE + cut + WARP,
            "s-crop": RECIPE + cut + ["--erase", "0"],
            "s-recipe": RECIPE + cut,
            "s-mixup": RECIPE + cut + ["--mixup", "0.2"],
            "s-wd1e-4": RECIPE + cut + ["--weight-decay", "1e-4"],
        }
    light = LONG + ["--light-last", "20"]
    distilled = light + ["--soft-labels", str(TEACHERS), "--soft-weight", "0.5"]   # today's defaults
    if plan == "sixth":
        wide = distilled + ["--width", "1.5"]
        return {"wide1.5": wide, "wide1.5-seed2": wide + ["--seed", "2"]}
    if plan == "fifth":
        return {
            "seed2": distilled + ["--seed", "2"],
            "teachers8": distilled + ["--soft-labels", str(TEACHERS8)],
            "teachers8-seed2": distilled + ["--soft-labels", str(TEACHERS8), "--seed", "2"],
            "w0.8": distilled + ["--soft-weight", "0.8"],
        }
    if plan == "fourth":
        swa = light + ["--average-from", "111"]
        return {
            "swa1e-4": swa + ["--average-lr", "1e-4"],
            "distill7": distilled,
            "batch128": light + ["--batch-size", "128"],
            "ls0.2": light + ["--label-smoothing", "0.2"],
        }
    if plan == "third":
        averaged = light + ["--average-from", "131"]
        everything = averaged + ["--weight-decay", "0.02", "--mixup", "0.2", "--erase", "0.25"]
        return {
            "wd0.01": averaged + ["--weight-decay", "0.01"],
            "wd0.05": averaged + ["--weight-decay", "0.05"],
            "mixup0.2": averaged + ["--mixup", "0.2"],
            "erase0.25": averaged + ["--erase", "0.25"],
            "all": everything,
            "all-seed2": everything + ["--seed", "2"],
            "sgd-wd1e-4": averaged + ["--optimizer", "sgd", "--learning-rate", "0.01", "--weight-decay", "1e-4"],
            "recipe-seed3": averaged + ["--seed", "3"],
        }
    return {
        "adam": LONG,
        "adam-light": light,
        "adam-light-seed2": light + ["--seed", "2"],
        "adam-light-d0.1": light + ["--dropout", "0.1"],
        "adam-light-d0.1-seed2": light + ["--dropout", "0.1", "--seed", "2"],
        "adam-light-crop44": light + ["--crop", "44"],
    }


class Run:
    """One train.py process; with resume, continues the run in its folder, if unfinished."""

    def __init__(self, name, options, args):
        self.name, self.folder = name, args.runs / name
        self.folder.mkdir(parents=True, exist_ok=True)
        self.epochs = int(options[max(i for i, o in enumerate(options) if o == "--epochs") + 1])
        self.process, self.stopped_at, self.finish_skipped = None, None, False
        done = len(self.history()) if args.resume else 0   # a run stopped before its first epoch starts anew
        if done >= self.epochs:
            return
        command = [sys.executable, str(ROOT / "train.py"), "--data", str(args.data),
                   "--output", str(self.folder / "model.h5"), "--no-litert",
                   "--workers", str(args.workers), "--time-limit", f"{(args.deadline - 5) / 60:.3f}",
                   ] + options + (["--resume"] if done else [])
        with open(self.folder / "command.txt", "a") as record:
            record.write(" ".join(command[1:]) + "\n")
        self.process = subprocess.Popen(command, stdout=open(self.folder / "log", "a"),
                                        stderr=subprocess.STDOUT, cwd=ROOT)

    def history(self):
        path = self.folder / "model.history.csv"
        return list(csv.DictReader(path.open())) if path.is_file() else []

    def seconds_left(self):
        """At the pace of its last five epochs (not the first, which compiles); None: too early."""
        rows = self.history()[1:]
        if len(rows) < 3:
            return None
        pace = sorted(float(r["seconds"]) for r in rows[-5:])[len(rows[-5:]) // 2]
        return (self.epochs - len(rows) - 1) * pace

    def running(self):
        return self.process is not None and self.process.poll() is None

    def stop(self):
        """SIGTERM: train.py ends the epoch in progress, validates, saves and finishes."""
        log = self.folder / "log"
        self.stopped_at = log.stat().st_size if log.is_file() else 0
        self.process.send_signal(signal.SIGTERM)

    def skip_finish(self):
        """Once a stopped run recomputes BatchNorm statistics, SIGTERM again: train.py
        skips that step (its resumed run redoes it at the end). True when it did."""
        if self.stopped_at is None or self.finish_skipped or not self.running():
            return False
        with open(self.folder / "log", "rb") as log:
            log.seek(self.stopped_at)
            if b"Recomputing BatchNorm" not in log.read():
                return False
        self.process.send_signal(signal.SIGTERM)
        self.finish_skipped = True
        return True

    def finished(self):
        """Trained to its last epoch and no longer running, its model saved."""
        return not self.running() and len(self.history()) >= self.epochs and (self.folder / "model.h5").is_file()

    def best(self):
        """The score of the model it saved: its finish step's, else its best epoch's."""
        log = self.folder / "log"
        lines = log.read_text().splitlines() if log.is_file() else []
        kept = [line for line in lines if "<- saved as the model" in line]
        scores = [float(r["val_accuracy"]) for r in self.history()]
        if kept:   # an epoch trained after that finish step is saved only where it beats it
            scores.append(float(kept[-1].split("<-")[0].split()[-1]))
        return max(scores, default=0.0)

    def status(self):
        rows = self.history()
        if not rows:
            return f"{self.name}:-"
        return f"{self.name}:{len(rows)}ep {self.best():.3f}{'' if self.running() else '!'}"


def pack_records(runs, folder):
    """The logs and histories of every run, and the training faces' probabilities of the
    finished ones, into folder/runs.tar.gz (written whole or not at all)."""
    partial = folder / "runs.tar.gz.partial"
    with tarfile.open(partial, "w:gz") as tar:
        for path in sorted(runs.rglob("*")):
            small = path.suffix not in (".h5", ".keras", ".npz") or path.name.endswith(".probs.npz")
            if path.is_file() and small:
                tar.add(path, arcname=str(path.relative_to(runs)))
    partial.replace(folder / "runs.tar.gz")


def write_probabilities(runs, folder, data_root):
    """Each finished run's probabilities for the training faces (RUN/model.probs.npz), and
    their mean (finished.probs.npz): what the next teachers need, from every run, where
    only the best runs' models come back."""
    models = [str(run.folder / "model.h5") for run in runs if run.finished()]
    if models:
        subprocess.run([sys.executable, "-m", "training.soft_labels", "--data", str(data_root),
                        "--each", "--output", str(folder / "finished.probs.npz")] + models,
                       cwd=ROOT)


def pack_models(runs, names, folder):
    """The models of `names` in 15 MB parts."""
    part = 15 << 20
    for name in names:
        model = runs / name / "model.h5"
        if model.is_file():
            blob = model.read_bytes()
            for i in range(0, len(blob), part):
                (folder / f"{name}.h5.part{i // part}").write_bytes(blob[i:i + part])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--runs", type=Path, required=True, help="one folder per run goes here")
    parser.add_argument("--deadline", type=float, default=480, help="seconds until every run is stopped")
    parser.add_argument("--plan", choices=["first", "second", "third", "fourth", "fifth", "sixth"], default="second",
                        help="which runs (see candidates())")
    parser.add_argument("--short", type=int, default=40, help="epochs of the short runs")
    parser.add_argument("--workers", type=int, default=3, help="batch threads per run")
    parser.add_argument("--resume", action="store_true", help="continue the unfinished runs in --runs")
    parser.add_argument("--only", nargs="+", metavar="NAME",
                        help="run only these of the plan (with --resume: when the time left "
                             "finishes only a few, which ones)")
    parser.add_argument("--pack", type=Path, help="folder for what comes back")
    parser.add_argument("--models", type=int, default=3, help="how many of the best runs' models to pack")
    args = parser.parse_args()

    start = time.time()
    plan = candidates(args.plan, args.short)
    unknown = set(args.only or []) - set(plan)
    if unknown:
        parser.error(f"not in plan {args.plan}: {', '.join(sorted(unknown))}")
    runs = [Run(name, options, args) for name, options in plan.items() if not args.only or name in args.only]
    full = [run for run in runs if not run.name.startswith("s-")]
    last_cut, last_print, stopping = 0.0, 0.0, False
    while any(run.running() for run in runs):
        time.sleep(3 if stopping else 15)
        elapsed = time.time() - start
        if elapsed - last_print >= 15:
            print(f"[{elapsed:4.0f}s] " + "  ".join(run.status() for run in runs), flush=True)
            last_print = elapsed
        needs = [run.seconds_left() for run in full if run.running()]
        late = any(need is not None and elapsed + need > args.deadline - 15 for need in needs)
        shorts = [run for run in runs if run.name.startswith("s-") and run.running()]
        if late and shorts and elapsed - last_cut > 45:
            print(f"the full runs would miss the deadline: stopping {shorts[-1].name}", flush=True)
            shorts[-1].stop()
            last_cut = elapsed
        if elapsed > args.deadline and not stopping:
            print("deadline: stopping every run", flush=True)
            for run in runs:
                if run.running():
                    run.stop()
            stopping = True
        if stopping:
            for run in runs:
                if run.skip_finish():
                    print(f"{run.name}: skipping its finish step", flush=True)
        if elapsed > args.deadline + 75:
            for run in runs:
                if run.running():
                    run.process.kill()
            break
    for run in runs:
        if run.process is not None:
            print(run.name, "exit code", run.process.wait(), flush=True)
    if args.pack:
        best = sorted(runs, key=Run.best, reverse=True)[:args.models]
        pack_records(args.runs, args.pack)
        pack_models(args.runs, [run.name for run in best], args.pack)
        write_probabilities(runs, args.runs, args.data)   # last: should the lease end during it, the rest is packed
        pack_records(args.runs, args.pack)


if __name__ == "__main__":
    main()
