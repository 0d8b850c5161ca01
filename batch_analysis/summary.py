"""The batch's summary.csv: one row per video of the folder, rebuilt from every video's
record there (this run's and earlier ones')."""
import pandas as pd

from batch_analysis.video_files import read_records, replace_with

COLUMNS = ["name", "path", "status", "error", "frames", "duration_s", "people", "faces", "seconds", "fps"]


def summary_table(folder, statuses=None):
    """A DataFrame of every video recorded in `folder`; `statuses` ({name: status}) overrides
    a record's status for this run (skipped: its outputs were already there). Then one
    column per emotion: its share of the video's labelled faces."""
    rows, emotions = [], []
    for name, record in read_records(folder).items():
        row = {key: record.get(key) for key in COLUMNS}
        row["status"] = (statuses or {}).get(name, record["status"])
        seconds = record.get("seconds")
        row["fps"] = record["frames"] / seconds if seconds and record.get("frames") else None
        counts = record.get("label_counts") or {}
        for emotion in record.get("class_names") or []:
            if emotion not in emotions:
                emotions.append(emotion)
        total = sum(counts.values())
        row.update({emotion: counts.get(emotion, 0) / total for emotion in counts} if total else {})
        rows.append(row)
    table = pd.DataFrame(rows, columns=COLUMNS + emotions)
    for emotion in emotions:
        table[emotion] = table[emotion].where(table["status"] == "failed", table[emotion].fillna(0.0))
    return table.round({"duration_s": 2, "seconds": 2, "fps": 1, **{e: 4 for e in emotions}})


def write_summary(folder, table):
    path = folder / "summary.csv"
    replace_with(path, lambda partial: table.to_csv(partial, index=False))
    return path
