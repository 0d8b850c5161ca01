import json
import subprocess
import sys

import numpy as np
import pytest

import evaluate
from helpers import ROOT, SHIPPED_MODEL, make_dataset
from data import fix_light, load_split, preprocess_face
from model import build_model, load_trained_model, save_trained_model
from inference.runtimes import predict_proba


@pytest.fixture
def scored(tmp_path):
    """A small dataset and an (untrained) model with the same classes."""
    root = make_dataset(tmp_path / "d", per_class=(2, 10))
    path = tmp_path / "m.h5"
    save_trained_model(build_model(num_classes=3), path, ["disc", "horizontal", "vertical"])
    return root, path


@pytest.mark.slow
def test_json_report_matches_an_independent_count(scored, tmp_path):
    root, model_path = scored
    out = tmp_path / "r.json"
    heatmap = tmp_path / "cm.png"
    assert evaluate.main(["--data", str(root), "--model", str(model_path), "--json", str(out),
                          "--heatmap", str(heatmap)]) == 0
    report = json.loads(out.read_text())
    assert {"accuracy", "macro_f1", "per_class", "confusion_matrix"} <= set(report)
    model, names = load_trained_model(model_path)
    split = load_split(root / "validation", names)
    # evaluate.py applies the app's default light fix, so the independent count must too.
    faces = fix_light(split.x, report["light_fix"])
    expected = (predict_proba(model, faces).argmax(axis=1) == split.y).mean()
    assert report["light_fix"] == "stretch"
    assert report["accuracy"] == pytest.approx(expected)
    matrix = np.array(report["confusion_matrix"])
    assert matrix.shape == (3, 3) and matrix.sum() == 30
    assert np.trace(matrix) / matrix.sum() == pytest.approx(expected)
    assert [report["per_class"][n]["support"] for n in names] == [10, 10, 10]
    assert heatmap.stat().st_size > 0


def test_default_heatmap_goes_to_the_current_folder_not_beside_the_model(scored, tmp_path, monkeypatch):
    root, model_path = scored
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert evaluate.main(["--data", str(root), "--model", str(model_path)]) == 0
    assert (work / "confusion_matrix.png").stat().st_size > 0
    assert not list(model_path.parent.glob("*.png"))


def test_per_class_table_and_macro_f1_by_hand():
    matrix = np.array([[3, 1], [0, 4]])
    table = evaluate.per_class_table(matrix, ["a", "b"])
    assert table.loc["a", "precision"] == 1.0 and table.loc["a", "recall"] == 0.75
    assert table.loc["b", "precision"] == 0.8 and table.loc["b", "recall"] == 1.0
    assert table.loc["a", "f1"] == pytest.approx(2 * 0.75 / 1.75)
    assert evaluate.confusion_matrix(np.array([0, 0, 1]), np.array([0, 1, 1]), 2).tolist() == [[1, 1], [0, 1]]


def test_class_mismatch_is_a_one_line_error(scored, tmp_path, capsys):
    root, model_path = scored
    (root / "validation" / "disc").rename(root / "validation" / "dots")
    assert evaluate.main(["--data", str(root), "--model", str(model_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: class folders") and "missing disc" in err and "\n" not in err


def test_a_folder_without_some_of_the_models_classes_is_scored_on_those_present(scored, tmp_path, capsys):
    root, model_path = scored
    (root / "validation" / "horizontal").rename(tmp_path / "elsewhere")     # like CK+ without neutral
    for image in (root / "validation" / "vertical").iterdir():
        image.unlink()                                                     # an empty folder: absent too
    out = tmp_path / "r.json"
    assert evaluate.main(["--data", str(root), "--model", str(model_path), "--json", str(out),
                          "--heatmap", str(tmp_path / "cm.png")]) == 0
    report = json.loads(out.read_text())
    assert report["images"] == 10 and report["absent"] == ["horizontal", "vertical"]
    assert np.array(report["confusion_matrix"]).shape == (3, 3)             # the model's full class list
    assert report["class_names"] == ["disc", "horizontal", "vertical"]
    assert report["macro_f1"] == pytest.approx(report["per_class"]["disc"]["f1"])
    assert "absent from the data: horizontal, vertical" in capsys.readouterr().out


@pytest.mark.parametrize("option", ["--json", "--heatmap"])
def test_unwritable_report_is_a_one_line_error_before_scoring(scored, tmp_path, capsys, option):
    root, model_path = scored
    (tmp_path / "taken").mkdir()   # a folder where the file would go
    assert evaluate.main(["--data", str(root), "--model", str(model_path), "--heatmap", str(tmp_path / "cm.png"),
                          option, str(tmp_path / "taken")]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("error: cannot write") and "\n" not in err.strip()
    assert "accuracy" not in out and not (tmp_path / "cm.png").exists()


@pytest.mark.slow
def test_output_piped_into_a_closed_reader_ends_without_a_traceback(scored, tmp_path):
    root, model_path = scored
    process = subprocess.Popen([sys.executable, str(ROOT / "evaluate.py"), "--data", str(root),
                                "--model", str(model_path), "--heatmap", str(tmp_path / "cm.png")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdout.close()   # like `| head -0`: the first line printed meets a closed pipe
    stderr = process.stderr.read()
    assert process.wait(timeout=300) == 1, stderr
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr


@pytest.mark.slow
def test_low_light_and_tta_change_what_is_scored(scored, tmp_path):
    root, model_path = scored
    model, names = load_trained_model(model_path)
    split = load_split(root / "validation", names)
    dark = evaluate.score(model, split, low_light=0.5, light_fix="none")
    expected = (predict_proba(model, split.x * 0.5).argmax(axis=1) == split.y).mean()
    assert dark["accuracy"] == pytest.approx(expected) and dark["low_light"] == 0.5
    assert evaluate.score(model, split, tta=True)["tta"] is True


@pytest.mark.skipif(not SHIPPED_MODEL.is_file(), reason="no shipped model yet")
def test_shipped_model_maps_a_face_to_probabilities_over_its_classes():
    model, names = load_trained_model(SHIPPED_MODEL)
    assert len(names) == 7 and names == sorted(names)
    assert SHIPPED_MODEL.stat().st_size < 20_000_000
    face = preprocess_face(np.random.default_rng(0).integers(0, 255, (48, 48), dtype=np.uint8))
    probs = predict_proba(model, face[np.newaxis])
    assert probs.shape == (1, 7)
    assert probs.sum() == pytest.approx(1.0, abs=1e-5)
