"""A video's results in the batch's folder, written by the client as they come back:

    NAME.csv          one row per face per frame: exactly main.py --csv's columns and rows
    NAME.people.csv   one row per person: main.py --people's file
    NAME.png          the emotion timeline
    NAME.mp4          with --annotate: the annotated video (written by the worker)
    NAME.json         the record the summary is rebuilt from (status, frames, timing, counts)

Every file is written under a temporary name and renamed, so a folder only ever holds
whole files; leftovers of an attempt that was killed end in .partial and are removed.
"""
import json
import os
from pathlib import Path

import pandas as pd

from app.outputs import csv_header, write_csv
from app.people import people_rows, write_people
from common import plots

RECORD_SUFFIX = ".json"


def video_paths(folder, name):
    folder = Path(folder)
    return {"csv": folder / f"{name}.csv", "people": folder / f"{name}.people.csv",
            "timeline": folder / f"{name}.png", "video": folder / f"{name}.mp4",
            "record": folder / f"{name}{RECORD_SUFFIX}"}


def is_complete(folder, name, annotate=False):
    """Whether the video's outputs are all there from a run that succeeded."""
    paths = video_paths(folder, name)
    record = read_record(paths["record"])
    needed = ["csv", "people", "timeline"] + (["video"] if annotate else [])
    return record is not None and record.get("status") == "ok" and all(paths[key].is_file() for key in needed)


def write_results(folder, name, source, result):
    """Write NAME.csv, NAME.people.csv, NAME.png and, last, NAME.json (which marks them complete)."""
    paths = video_paths(folder, name)
    names = result["class_names"]
    replace_with(paths["csv"], lambda partial: write_csv(partial, names, result["rows"]))
    fps = result["frames"] / result["duration_s"] if result.get("duration_s") else 0.0
    people = people_rows(result["tracks"], names, fps)
    replace_with(paths["people"], lambda partial: write_people(partial, names, people))
    faces = pd.DataFrame(result["rows"], columns=csv_header(names))
    replace_with(paths["timeline"], lambda partial: plots.plot_emotion_timeline(faces, names, partial))
    labels = faces["label"].value_counts().to_dict() if len(faces) else {}
    write_record(paths["record"], {
        "name": name, "path": source, "status": "ok", "error": "", "frames": result["frames"],
        "duration_s": result["duration_s"], "people": len(people), "faces": len(faces),
        "seconds": result["seconds"], "class_names": names,
        "label_counts": {label: int(count) for label, count in labels.items()}})


def write_failure(folder, name, source, error):
    write_record(video_paths(folder, name)["record"], {"name": name, "path": source, "status": "failed",
                                                       "error": error})


def write_record(path, record):
    replace_with(path, lambda partial: Path(partial).write_text(json.dumps(record, indent=1) + "\n"))


def read_record(path):
    """A video's record, or None where there is none (or it is not one of ours)."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and "status" in record and "name" in record else None


def read_records(folder):
    """Every video's record in the folder, by name."""
    records = (read_record(path) for path in sorted(Path(folder).glob(f"*{RECORD_SUFFIX}")))
    return {record["name"]: record for record in records if record is not None}


def replace_with(path, write):
    """Call write(partial path) and rename the partial file to `path`."""
    path = Path(path)
    partial = path.with_name(f"{path.stem}.partial{path.suffix}")
    try:
        write(partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def remove_partials(folder):
    """Leftovers of attempts that were killed or interrupted; returns how many."""
    leftovers = list(Path(folder).glob("*.partial*"))
    for path in leftovers:
        path.unlink(missing_ok=True)
    return len(leftovers)
