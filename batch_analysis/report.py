"""The batch's report.html: one self-contained page (charts embedded, no file or network it
needs) with the batch's table, a chart of each video's emotions, and per video its
timeline and its people."""
import base64
import html
import io

import pandas as pd

from batch_analysis.video_files import replace_with, video_paths

STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;padding:0 1em;max-width:1000px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}.failed{color:#b00}
img{max-width:100%}h2{margin-top:2em;border-bottom:1px solid #ddd}"""


def embedded_png(data):
    return f'<img src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def shares_chart(table, emotions):
    """A stacked bar per video of its emotions' shares, as PNG bytes."""
    from common.plots import plot_emotion_shares
    buffer = io.BytesIO()
    plot_emotion_shares(table.set_index("name")[emotions], buffer)
    return buffer.getvalue()


# how numbers are shown; any other number column holds shares (shown as percentages)
FORMATS = {"frames": "{:.0f}", "people": "{:.0f}", "faces": "{:.0f}", "person": "{:.0f}", "fps": "{:.0f}",
           "duration_s": "{:.1f}", "seconds": "{:.1f}", "first_s": "{:.1f}", "last_s": "{:.1f}"}


def table_html(frame):
    header = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for _, row in frame.iterrows():
        cells = []
        for column, value in row.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                text = "" if pd.isna(value) else FORMATS.get(column, "{:.0%}").format(value)
            else:
                text = html.escape("" if pd.isna(value) else str(value))
            cells.append(f"<td>{text}</td>")
        status = row.get("status", "")
        rows.append(f'<tr class="{status}">' + "".join(cells) + "</tr>")
    return f"<div style='overflow-x:auto'><table><tr>{header}</tr>{''.join(rows)}</table></div>"


def build_report(folder, table):
    """The page's HTML for the summary `table` of the videos in `folder`."""
    emotions = [c for c in table.columns if c not in ("name", "path", "status", "error", "frames", "duration_s",
                                                      "people", "faces", "seconds", "fps")]
    done = table[table["status"] != "failed"]
    counts = table["status"].value_counts().to_dict()
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>Emotion report</title>"
             f"<style>{STYLE}</style></head><body><h1>Emotion report</h1>",
             f"<p>{len(table)} videos: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + ".</p>",
             table_html(table.drop(columns=["path"]))]
    if len(done) and emotions:
        parts.append("<h2>Emotions by video</h2>" + embedded_png(shares_chart(done, emotions)))
    for _, row in table.iterrows():
        parts.append(f"<h2 id='{html.escape(row['name'])}'>{html.escape(row['name'])}</h2>"
                     f"<p>{html.escape(str(row['path']))}</p>")
        if row["status"] == "failed":
            parts.append(f"<p class='failed'>failed: {html.escape(str(row['error']))}</p>")
            continue
        paths = video_paths(folder, row["name"])
        if paths["timeline"].is_file():
            parts.append(embedded_png(paths["timeline"].read_bytes()))
        if paths["people"].is_file():
            parts.append("<h3>People</h3>" + table_html(pd.read_csv(paths["people"])))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(folder, table):
    path = folder / "report.html"
    page = build_report(folder, table)
    replace_with(path, lambda partial: partial.write_text(page))
    return path
