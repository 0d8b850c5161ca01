"""Per-person summaries: one row per track of a video (main.py --people, batch.py's
NAME.people.csv)."""
import csv


def people_header(class_names):
    return ["person", "first_s", "last_s", "frames", "dominant"] + list(class_names)


def people_rows(tracks, class_names):
    """One row per track that was labelled: its number, first and last time, frames, dominant
    emotion and the share of each emotion among its frames."""
    rows = []
    for track in sorted(tracks, key=lambda t: t.number):
        total = sum(track.label_counts.values())
        if not total:
            continue
        rows.append([track.number, round(track.first_time, 3), round(track.last_time, 3), track.frames,
                     track.dominant] + [round(track.label_counts.get(name, 0) / total, 4) for name in class_names])
    return rows


def write_people(path, class_names, rows):
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(people_header(class_names))
        writer.writerows(rows)
