"""Per-person summaries: one row per person of a video (main.py --people, batch.py's
NAME.people.csv). A person is every track that carries their number: with
re-identification (app/reid.py) the same face seen again after a cut or after leaving the
picture; without it, one track."""
import csv


def people_header(class_names):
    return ["person", "first_s", "last_s", "on_screen_s", "frames", "dominant"] + list(class_names)


def people_of(tracks):
    """{person number: [their tracks]} of the tracks that were labelled, by number."""
    people = {}
    for track in sorted(tracks, key=lambda t: (t.number, t.first_time)):
        if sum(track.label_counts.values()):
            people.setdefault(track.number, []).append(track)
    return people


def people_rows(tracks, class_names, fps=0.0):
    """One row per person: their number, first and last time seen, time on screen (frames
    labelled / `fps`; empty without a frame rate), frames, dominant emotion and the share of
    each emotion among their frames."""
    rows = []
    for number, own in people_of(tracks).items():
        counts = {}
        for track in own:
            for label, count in track.label_counts.items():
                counts[label] = counts.get(label, 0) + count
        frames = sum(counts.values())
        rows.append([number, round(min(t.first_time for t in own), 3), round(max(t.last_time for t in own), 3),
                     round(frames / fps, 3) if fps else "", frames, max(counts, key=counts.get)]
                    + [round(counts.get(name, 0) / frames, 4) for name in class_names])
    return rows


def write_people(path, class_names, rows):
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(people_header(class_names))
        writer.writerows(rows)
