import keras
import pytest

from model import build_model
from training.optimizers import compile_for_training


def test_the_default_compile_is_adam_at_1e_3_on_cross_entropy():
    model = compile_for_training(build_model())
    assert model.loss.name == "categorical_crossentropy"
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3)


def test_sgd_optimizer_has_nesterov_momentum_and_weight_decay():
    model = compile_for_training(build_model(num_classes=3), optimizer="sgd", learning_rate=0.01, weight_decay=1e-3)
    optimizer = model.optimizer
    assert type(optimizer).__name__ == "SGD"
    assert optimizer.nesterov and optimizer.momentum == 0.9 and optimizer.weight_decay == 1e-3
    assert float(keras.ops.convert_to_numpy(optimizer.learning_rate)) == pytest.approx(0.01)
    with pytest.raises(ValueError, match="unknown optimizer"):
        compile_for_training(build_model(num_classes=3), optimizer="rmsprop")
