import keras
import numpy as np
import pytest

import data
from artefacts import labels_path
from inference.runtimes import predict_proba
from model import (build_model, choose_precision, load_trained_model,
                   recalibrate_batchnorm, save_trained_model, to_float32)
from training.optimizers import compile_for_training


def layer_types(model):
    return [type(layer).__name__ for layer in model.layers]


def test_architecture_blocks_and_parameter_count():
    model = build_model()
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [(c.filters, c.kernel_size) for c in convs] == [(64, (3, 3)), (128, (5, 5)),
                                                           (512, (3, 3)), (512, (3, 3))]
    assert all(c.padding == "same" for c in convs)
    block = ["Conv2D", "BatchNormalization", "Activation", "MaxPooling2D", "Dropout"]
    dense = ["Dense", "BatchNormalization", "Activation", "Dropout"]
    assert layer_types(model) == block * 4 + ["Flatten"] + dense * 2 + ["Dense"]
    assert [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)] == [256, 512, 7]
    assert model.count_params() == 4_478_727
    assert model.output_shape == (None, 7)
    assert not model.compiled   # the training run compiles it (tests/test_optimizers.py)


def test_dropout_and_classes_are_parameters():
    model = build_model(num_classes=3, dropout=0.4)
    assert model.output_shape == (None, 3)
    assert {layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)} == {0.4}


def test_width_widens_every_layer_but_the_classifier():
    model = build_model(width=2)
    assert [c.filters for c in model.layers if isinstance(c, keras.layers.Conv2D)] == [128, 256, 1024, 1024]
    assert [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)] == [512, 1024, 7]
    assert model.count_params() == 17_886_727


def test_softmax_stays_float32_under_mixed_precision():
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = build_model()
    finally:
        keras.config.set_dtype_policy("float32")
    assert model.layers[0].compute_dtype == "bfloat16"
    assert model.layers[-1].compute_dtype == "float32"
    assert to_float32(model).layers[0].compute_dtype == "float32"


@pytest.mark.slow
def test_a_model_resumed_in_mixed_precision_is_saved_in_float32(tmp_path):
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = compile_for_training(build_model(num_classes=3))
        model.optimizer.build(model.trainable_variables)   # as after training steps: its state is saved too
        model.save(tmp_path / "run.resume.keras")
    finally:
        keras.config.set_dtype_policy("float32")
    resumed = keras.models.load_model(tmp_path / "run.resume.keras")   # as train.py --resume does
    save_trained_model(resumed, tmp_path / "best.h5", ["a", "b", "c"])
    saved, _ = load_trained_model(tmp_path / "best.h5")
    assert {layer.compute_dtype for layer in saved.layers} == {"float32"}


def test_choose_precision_off_is_float32():
    assert choose_precision("off") == "float32"
    assert choose_precision("on") in ("mixed_bfloat16", "mixed_float16")


@pytest.mark.slow
def test_saved_model_reloads_with_names_and_predicts_the_same(tmp_path):
    model = build_model(num_classes=3)
    names = ["calm", "joy", "rage"]
    x = np.random.default_rng(0).random((5, 48, 48, 1), dtype=np.float32)
    before = predict_proba(model, x)
    path = tmp_path / "m.h5"
    save_trained_model(model, path, names)
    assert labels_path(path).is_file()
    assert path.stat().st_size < 20_000_000  # no optimizer state
    loaded, loaded_names = load_trained_model(path)
    assert loaded_names == names
    np.testing.assert_array_equal(predict_proba(loaded, x), before)
    assert not list(tmp_path.glob("*partial*"))


def test_tta_averages_the_views_of_each_face_including_its_mirror():
    model = build_model(num_classes=3)
    x = np.random.default_rng(1).random((4, 48, 48, 1), dtype=np.float32)
    views = data.tta_views(x)
    assert views.shape == (len(data.TTA_VIEWS), 4, 48, 48, 1)
    np.testing.assert_array_equal(views[0], x)
    assert any(np.array_equal(view, x[:, :, ::-1]) for view in views)
    expected = np.mean([predict_proba(model, view) for view in views], axis=0)
    tta = predict_proba(model, x, tta=True)
    np.testing.assert_allclose(tta, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tta.sum(axis=1), 1, rtol=1e-5)
    assert not np.allclose(tta, predict_proba(model, x), atol=1e-4)


def test_missing_model_or_labels_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="model not found"):
        load_trained_model(tmp_path / "none.h5")
    model_path = tmp_path / "m.h5"
    build_model(num_classes=3).save(model_path)
    with pytest.raises(FileNotFoundError, match="class names"):
        load_trained_model(model_path)


def test_saving_does_not_log_the_legacy_h5_warning(tmp_path, caplog):
    save_trained_model(build_model(num_classes=3), tmp_path / "m.h5", ["a", "b", "c"])
    assert "legacy" not in caplog.text


def test_recalibrated_batchnorm_holds_the_plain_mean_of_the_batch_statistics():
    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Conv2D(2, 1),
                              keras.layers.BatchNormalization(momentum=0.9)])
    x = np.random.default_rng(0).normal(3.0, 2.0, (100, 4, 4, 1)).astype(np.float32)
    recalibrate_batchnorm(model, x, batch_size=32)   # batches of 32, 32, 32, 4
    features = np.asarray(model.layers[0](x))
    batches = [features[i:i + 32] for i in range(0, 100, 32)]
    norm = model.layers[1]
    np.testing.assert_allclose(np.asarray(norm.moving_mean),
                               np.mean([b.mean(axis=(0, 1, 2)) for b in batches], axis=0), rtol=1e-4)
    np.testing.assert_allclose(np.asarray(norm.moving_variance),
                               np.mean([b.var(axis=(0, 1, 2)) for b in batches], axis=0), rtol=1e-4)
    assert norm.momentum == 0.9


def test_recalibrated_batchnorm_learns_what_it_sees_at_inference_with_dropout_off():
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dropout(0.5),
                              keras.layers.BatchNormalization(momentum=0.9)])
    x = np.random.default_rng(0).normal(3.0, 1.0, (512, 8)).astype(np.float32)
    recalibrate_batchnorm(model, x, batch_size=64)
    norm = model.layers[1]
    # with dropout at 0.5 the mean square doubles: a variance near 11 instead of 1
    np.testing.assert_allclose(np.asarray(norm.moving_variance), x.var(axis=0), rtol=0.05)
    np.testing.assert_allclose(np.asarray(norm.moving_mean), x.mean(axis=0), rtol=0.02)
