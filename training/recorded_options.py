"""The options a training run was started with, recorded beside its output so that a
later sitting's `--resume` continues the same run (recipe, schedule, data) without the
user retyping them, and without silently dropping one."""
import json
from pathlib import Path

# options of one sitting, not of the run: never recorded
SITTING_OPTIONS = ("output", "resume", "time_limit", "workers", "no_litert")

# options added after runs were first recorded, with the value that continues such a run as
# it began: a record without --soft-labels was made when training read folder labels only
ADDED_LATER = {"--soft-labels": "none"}


def flag(dest):
    return "--" + dest.replace("_", "-")


def run_options(args):
    """{flag: value as typed} for every option that shapes the run."""
    options = {}
    for dest, value in vars(args).items():
        if dest in SITTING_OPTIONS or value is None:
            continue
        options[flag(dest)] = str(value)
    return options


def save_run_options(path, args):
    Path(path).write_text(json.dumps(run_options(args), indent=1) + "\n")


def recorded_argv(path):
    """The recorded options as command-line arguments; [] where there is no record."""
    path = Path(path)
    if not path.is_file():
        return []
    try:
        options = json.loads(path.read_text())
    except ValueError as error:
        raise ValueError(f"{path} is not a run's options: {error}") from None
    options = {**ADDED_LATER, **options}
    return [text for option, value in options.items() for text in (option, value)]


def changed_options(before, after):
    """'--epochs 200 (was 150)' for every run option that differs between two parses."""
    old, new = run_options(before), run_options(after)
    return [f"{option} {value} (was {old.get(option, 'not set')})"
            for option, value in new.items() if old.get(option) != value]
