"""Soft labels (knowledge distillation): saved by face, aligned by face, and learned from."""
import sys

import keras
import numpy as np
import pytest

import data
from training import distillation
import train
from artefacts import artefact_paths
from training.batches import TrainingBatches
from helpers import FER2013, make_dataset
from training.distillation import choose_soft_labels, load_soft_labels, save_soft_labels
from inference.runtimes import predict_proba


def permuted_labels(split, permutation):
    """One-hot soft labels that name class permutation[c] for every face of class c."""
    return np.eye(len(split.class_names), dtype=np.float32)[np.asarray(permutation)[split.y]]


def test_soft_labels_follow_their_faces_whatever_the_order(pattern_dataset, tmp_path):
    split = data.load_split(pattern_dataset / "train")
    probabilities = np.random.default_rng(0).dirichlet(np.ones(3), len(split.y)).astype(np.float32)
    reverse = data.Split(split.x[::-1], split.y[::-1], split.class_names, [], split.files[::-1])
    save_soft_labels(tmp_path / "soft.npz", reverse, probabilities[::-1])
    loaded = load_soft_labels(tmp_path / "soft.npz", split)
    np.testing.assert_allclose(loaded, probabilities, atol=2e-3)   # stored as float16
    np.testing.assert_allclose(loaded.sum(axis=1), 1.0, rtol=1e-6)


def test_soft_labels_of_another_dataset_are_clear_errors(pattern_dataset, tmp_path):
    split = data.load_split(pattern_dataset / "train")
    part = data.Split(split.x[:10], split.y[:10], split.class_names, [], split.files[:10])
    save_soft_labels(tmp_path / "part.npz", part, permuted_labels(part, [0, 1, 2]))
    with pytest.raises(data.DatasetError, match="no soft labels for 110 of 120 faces"):
        load_soft_labels(tmp_path / "part.npz", split)
    renamed = data.Split(split.x, split.y, ["a", "b", "c"], [], split.files)
    save_soft_labels(tmp_path / "renamed.npz", renamed, permuted_labels(split, [0, 1, 2]))
    with pytest.raises(data.DatasetError, match="for \\['a', 'b', 'c'\\]"):
        load_soft_labels(tmp_path / "renamed.npz", split)
    with pytest.raises(FileNotFoundError):
        load_soft_labels(tmp_path / "missing.npz", split)


def test_targets_mix_the_soft_label_of_each_face_with_its_folder_label(pattern_dataset):
    split = data.load_split(pattern_dataset / "train")
    soft = permuted_labels(split, [1, 2, 0])
    batches = TrainingBatches(split, batch_size=32, seed=3, soft_labels=soft, soft_weight=0.25)
    batches.set_epoch(4)   # shuffled: each target must still be its own face's
    x, y = batches[1]
    rows = batches.order[32:64]
    np.testing.assert_array_equal(x, split.x[rows])
    folder = np.eye(3, dtype=np.float32)[split.y[rows]]
    np.testing.assert_allclose(y, 0.75 * folder + 0.25 * soft[rows])


@pytest.mark.slow
def test_a_model_trained_on_soft_labels_alone_learns_what_they_say(tmp_path, capsys):
    dataset = make_dataset(tmp_path / "patterns", per_class=(60, 20))
    split = data.load_split(dataset / "train")
    save_soft_labels(tmp_path / "soft.npz", split, permuted_labels(split, [1, 2, 0]))
    output = tmp_path / "m.h5"
    assert train.main(["--data", str(dataset), "--output", str(output), "--batch-size", "8",
                       "--epochs", "3", "--mixed-precision", "off", "--no-litert",
                       "--soft-labels", str(tmp_path / "soft.npz"), "--soft-weight", "1"]) == 0
    assert "Soft labels:" in capsys.readouterr().out
    # the last epoch: the saved model is the epoch that best matched the folder labels
    last = keras.models.load_model(artefact_paths(output)["resume"])
    validation = data.load_split(dataset / "validation", split.class_names)
    predicted = predict_proba(last, validation.x).argmax(axis=1)
    assert (predicted == np.array([1, 2, 0])[validation.y]).mean() >= 0.8   # the teachers' classes


def test_soft_labels_for_another_dataset_are_a_one_line_error(pattern_dataset, tmp_path, capsys):
    other = data.load_split(make_dataset(tmp_path / "other", per_class=(5, 2), seed=1) / "train")
    save_soft_labels(tmp_path / "soft.npz", other, permuted_labels(other, [0, 1, 2]))
    assert train.main(["--data", str(pattern_dataset), "--output", str(tmp_path / "m.h5"),
                       "--soft-labels", str(tmp_path / "soft.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "no soft labels for" in err and "\n" not in err


def test_by_default_a_run_learns_from_the_shipped_teachers_where_they_hold_its_faces(
        pattern_dataset, tmp_path, monkeypatch):
    assert train.parse_args([]).soft_labels == "auto"
    split = data.load_split(pattern_dataset / "train")
    teachers = tmp_path / "teachers.npz"
    save_soft_labels(teachers, split, permuted_labels(split, [1, 2, 0]))
    monkeypatch.setattr(distillation, "SHIPPED_TEACHERS", teachers)
    probabilities, source = choose_soft_labels("auto", split)
    np.testing.assert_allclose(probabilities, permuted_labels(split, [1, 2, 0]))
    assert source == str(teachers)
    # another dataset (the user's own faces): folder labels only, and the run says why
    classes = ("happy", "sad", "surprise")
    other = data.load_split(make_dataset(tmp_path / "other", classes, per_class=(5, 2)) / "train")
    probabilities, source = choose_soft_labels("auto", other)
    assert probabilities is None and source.startswith("none, since") and "not ['happy', 'sad', 'surprise']" in source
    assert choose_soft_labels("none", split) == (None, "none")


def test_the_shipped_teachers_hold_every_usable_fer2013_training_face():
    if not (FER2013 / "train").is_dir():
        pytest.skip(f"FER-2013 not found at {FER2013}")
    with np.load(distillation.SHIPPED_TEACHERS) as saved:
        files, class_names = set(saved["files"].tolist()), saved["class_names"].tolist()
    assert class_names == data.class_folders(FER2013 / "train")
    on_disk = {f"{path.parent.name}/{path.name}" for path in (FER2013 / "train").glob("*/*") if path.is_file()}
    assert files <= on_disk
    # the faces without a soft label are those load_split skips, so "auto" finds every face
    for name in on_disk - files:
        assert data.read_image(FER2013 / "train" / name)[0] is None, name


def run_soft_labels(monkeypatch, *arguments):
    from training import soft_labels
    monkeypatch.setattr(sys, "argv", ["soft_labels.py", *map(str, arguments)])
    soft_labels.main()


@pytest.mark.slow
def test_ensembles_grow_from_saved_soft_labels_weighed_by_their_models(pattern_dataset, tmp_path, monkeypatch):
    from model import build_model, save_trained_model
    split = data.load_split(pattern_dataset / "train")
    save_trained_model(build_model(3), tmp_path / "student.h5", split.class_names)
    teachers = permuted_labels(split, [1, 2, 0])
    save_soft_labels(tmp_path / "teachers3.npz", split, teachers, models=3)
    run_soft_labels(monkeypatch, "--data", pattern_dataset, "--each", "--output", tmp_path / "four.npz",
                    tmp_path / "teachers3.npz", tmp_path / "student.h5")
    # --each: the model's own probabilities, beside it, for ensembles made without it later
    student = load_soft_labels(tmp_path / "student.probs.npz", split)
    assert distillation.models_averaged(tmp_path / "student.probs.npz") == 1
    assert distillation.models_averaged(tmp_path / "four.npz") == 4
    np.testing.assert_allclose(load_soft_labels(tmp_path / "four.npz", split),
                               (3 * teachers + student) / 4, atol=2e-3)


def test_soft_labels_that_do_not_say_how_many_models_they_average_are_refused(pattern_dataset, tmp_path,
                                                                               monkeypatch):
    split = data.load_split(pattern_dataset / "train")
    np.savez(tmp_path / "old.npz", files=np.array(split.files), class_names=np.array(split.class_names),
             probabilities=permuted_labels(split, [0, 1, 2]))
    with pytest.raises(SystemExit, match="does not say how many models it averages"):
        run_soft_labels(monkeypatch, "--data", pattern_dataset, "--output", tmp_path / "new.npz",
                        tmp_path / "old.npz")
    assert not (tmp_path / "new.npz").exists()
