"""Fixtures: small datasets and models made on the spot, and real faces where present."""
import os

import pytest

from helpers import FER2013, SHIPPED_MODEL, make_dataset

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture
def pattern_dataset(tmp_path):
    return make_dataset(tmp_path / "patterns")


@pytest.fixture(scope="session")
def app_model(tmp_path_factory):
    """(model path, class names): the shipped model when present, else an untrained one.

    The app's tests check the pipeline (boxes, rows, files), not the labels' accuracy.
    """
    from artefacts import load_class_names
    from model import build_model, save_trained_model
    if SHIPPED_MODEL.is_file():
        return SHIPPED_MODEL, load_class_names(SHIPPED_MODEL)
    names = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
    path = tmp_path_factory.mktemp("model") / "model.h5"
    save_trained_model(build_model(len(names)), path, names)
    return path, names


@pytest.fixture(scope="session")
def fer_faces():
    """Real FER-2013 faces (48x48 grey) that Haar finds, or skip where the data set is absent."""
    if not (FER2013 / "validation").is_dir():
        pytest.skip(f"FER-2013 not found at {FER2013}")
    from footage import load_fer_faces
    return load_fer_faces(FER2013, 4)
