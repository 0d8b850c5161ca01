"""What a run writes: CSV rows and the annotated image paths."""
import numpy as np
import pandas as pd
import pytest

from app import outputs
from app.outputs import csv_header, csv_rows, image_output_path
from app.sources import SourceError

NAMES = ["angry", "happy", "sad"]


def test_csv_rows_have_the_documented_columns_and_values():
    probs = np.array([[0.1, 0.7, 0.2], [0.5, 0.25, 0.25]], np.float32)
    rows = csv_rows(12, 0.4, [3, 7], [(10, 20, 30, 40), (100, 5, 50, 50)], probs, NAMES)
    assert csv_header(NAMES) == ["frame", "time_s", "face", "x", "y", "w", "h", "label",
                                 "confidence", "angry", "happy", "sad"]
    assert rows[0][:9] == [12, 0.4, 3, 10, 20, 30, 40, "happy", pytest.approx(0.7)]
    assert rows[1][:9] == [12, 0.4, 7, 100, 5, 50, 50, "angry", pytest.approx(0.5)]
    assert rows[1][9:] == [pytest.approx(0.5), pytest.approx(0.25), pytest.approx(0.25)]
    assert csv_rows(3, 0.1, [], np.zeros((0, 4), int), np.zeros((0, 3)), NAMES) == []


def test_csv_log_is_readable_by_pandas(tmp_path):
    log = outputs.CsvLog(tmp_path / "f.csv", NAMES)
    log.write(csv_rows(0, 0.0, [1], [(1, 2, 3, 4)], np.array([[0.2, 0.3, 0.5]]), NAMES))
    log.close()
    table = pd.read_csv(tmp_path / "f.csv")
    assert list(table.columns) == csv_header(NAMES)
    assert table.loc[0, "label"] == "sad"


def test_image_output_path_is_a_file_for_one_image_and_a_folder_otherwise(tmp_path):
    assert image_output_path(tmp_path / "out.jpg", "a.png", 1) == tmp_path / "out.jpg"
    assert image_output_path(tmp_path / "out", "a.png", 3) == tmp_path / "out" / "a.png"
    assert (tmp_path / "out").is_dir()
    (tmp_path / "v1.2").mkdir()   # an existing folder keeps working whatever its name
    assert image_output_path(tmp_path / "v1.2", "a.png", 1) == tmp_path / "v1.2" / "a.png"


@pytest.mark.parametrize("name, count, message", [
    ("labelled.jpg", 3, "one image but the source has 3"),
    ("labelled.jgp", 1, ".jgp is not an image format"),
])
def test_an_output_name_that_cannot_be_meant_is_refused_without_making_a_folder(tmp_path, name, count, message):
    with pytest.raises(SourceError, match=message):
        image_output_path(tmp_path / name, "a.png", count)
    assert not (tmp_path / name).exists()
