"""The app's runtimes: the LiteRT twins agree with the .h5, belong to it, and start without TensorFlow."""
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

import main
from helpers import FER2013, ROOT, SHIPPED_MODEL
from model import build_model, save_trained_model
from artefacts import (ModelError, fingerprint, labels_path, litert_path, load_class_names,
                       read_litert_fingerprint)
from inference.litert_export import export_litert
from inference.runtimes import choose_runtime, load_classifier, predict_proba


def blank_photo(folder):
    import cv2
    path = folder / "blank.png"
    cv2.imwrite(str(path), np.zeros((64, 64), np.uint8))
    return path


@pytest.fixture(scope="module")
def real_faces():
    """200 preprocessed validation faces, or skip where FER-2013 is absent."""
    if not (FER2013 / "validation").is_dir():
        pytest.skip(f"FER-2013 not found at {FER2013}")
    import data
    split = data.load_split(FER2013 / "validation", class_names=load_class_names(SHIPPED_MODEL))
    picked = np.random.default_rng(0).choice(len(split.y), 200, replace=False)
    return split.x[picked]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A small untrained model saved as .h5 with its float32 LiteRT twin."""
    path = tmp_path_factory.mktemp("exported") / "m.h5"
    save_trained_model(build_model(3), path, ["a", "b", "c"])
    from model import load_trained_model
    export_litert(load_trained_model(path)[0], path)
    return path


@pytest.mark.slow
@pytest.mark.skipif(not litert_path(SHIPPED_MODEL).is_file(), reason="no shipped LiteRT twin")
def test_shipped_twins_give_the_probabilities_of_the_h5_on_real_faces(real_faces):
    keras_model, _, _ = load_classifier(SHIPPED_MODEL, "keras")
    float_twin, _, runtime = load_classifier(SHIPPED_MODEL, "litert")
    expected = predict_proba(keras_model, real_faces)
    assert runtime == "litert"
    np.testing.assert_allclose(predict_proba(float_twin, real_faces), expected, atol=1e-4)
    int8_twin, _, _ = load_classifier(SHIPPED_MODEL, "litert-int8")
    quantised = predict_proba(int8_twin, real_faces)
    assert np.abs(quantised - expected).max() < 0.1
    assert (quantised.argmax(axis=1) == expected.argmax(axis=1)).mean() >= 0.95


def test_shipped_twins_belong_to_the_shipped_h5():
    for runtime in ("litert", "litert-int8"):
        twin = litert_path(SHIPPED_MODEL, runtime)
        if twin.is_file():
            assert read_litert_fingerprint(twin) == fingerprint(SHIPPED_MODEL)


@pytest.mark.slow
def test_export_records_the_fingerprint_and_auto_takes_the_twin(exported):
    assert read_litert_fingerprint(litert_path(exported)) == fingerprint(exported)
    assert choose_runtime(exported) == "litert"     # no int8 twin here: the float32 one
    faces = np.random.default_rng(1).random((5, 48, 48, 1), dtype=np.float32)
    keras_model, _, _ = load_classifier(exported, "keras")
    twin, names, _ = load_classifier(exported)
    assert names == ["a", "b", "c"]
    np.testing.assert_allclose(predict_proba(twin, faces), predict_proba(keras_model, faces), atol=1e-4)


def test_a_twin_of_another_model_is_refused_or_skipped_with_a_warning(exported, tmp_path, capsys):
    other = tmp_path / "other.h5"
    save_trained_model(build_model(3), other, ["a", "b", "c"])   # new weights: another fingerprint
    shutil.copy(litert_path(exported), litert_path(other))
    with pytest.raises(ModelError, match="exported from another model"):
        choose_runtime(other, "litert")
    assert choose_runtime(other) == "keras"
    assert "exported from another model" in capsys.readouterr().err
    assert main.main(["--source", str(blank_photo(tmp_path)), "--model", str(other), "--runtime", "litert",
                      "--no-display"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "exported from another model" in err and "\n" not in err


def test_labelling_a_photo_with_litert_never_imports_tensorflow(tmp_path, fer_faces):
    import cv2
    from footage import background, compose_frame
    photo = tmp_path / "face.png"
    cv2.imwrite(str(photo), compose_frame(background(640, 480), fer_faces[:1], [(200, 120, 200, 200)]))
    code = ("import sys, main; main.main(['--source', sys.argv[1], '--no-display']); "
            "print('imported:', sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code, str(photo)], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "(LiteRT, int8)" in result.stdout and "faces: 1" in result.stdout
    assert "imported: []" in result.stdout


def test_a_model_that_is_not_a_48x48_grey_classifier_is_a_one_line_error(tmp_path, capsys):
    import keras
    colour = keras.Sequential([keras.Input((64, 64, 3)), keras.layers.Flatten(), keras.layers.Dense(3)])
    path = tmp_path / "colour.h5"
    save_trained_model(colour, path, ["a", "b", "c"])
    assert main.main(["--source", str(blank_photo(tmp_path)), "--model", str(path), "--no-display"]) == 2
    err = capsys.readouterr().err.strip()
    assert "colour.h5" in err and "(64, 64, 3)" in err and "(48, 48, 1)" in err and "\n" not in err


def test_a_bare_list_of_class_names_is_accepted(exported, tmp_path):
    path = tmp_path / "m.h5"
    shutil.copy(exported, path)
    labels_path(path).write_text(json.dumps(["a", "b", "c"]))
    assert load_classifier(path, "keras")[1] == ["a", "b", "c"]


@pytest.mark.parametrize("content, message", [
    (["a", "b"], "3 outputs but"),
    ({"names": ["a", "b", "c"]}, "must hold"),
    (42, "must hold"),
    (["a", "a", "b"], "names a class twice"),
    ("{not json", "not valid JSON"),
])
def test_class_names_of_another_shape_or_count_are_one_line_errors(exported, tmp_path, capsys, content,
                                                                   message):
    path = tmp_path / "m.h5"
    shutil.copy(exported, path)
    labels_path(path).write_text(content if isinstance(content, str) else json.dumps(content))
    assert main.main(["--source", str(blank_photo(tmp_path)), "--model", str(path), "--runtime", "keras",
                      "--no-display"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "m.labels.json" in err and "\n" not in err
