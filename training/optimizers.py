"""The optimizers a run can use, and compiling the network for training."""

OPTIMIZERS = ("sgd", "adam")


def make_optimizer(name="adam", learning_rate=1e-3, weight_decay=0.0):
    """sgd: SGD with Nesterov momentum 0.9; adam: Adam. weight_decay: decoupled, per step."""
    import keras   # here, not at import: train.py's --help lists OPTIMIZERS without Keras
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9, nesterov=True,
                                    weight_decay=weight_decay or None)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=learning_rate, weight_decay=weight_decay or None)
    raise ValueError(f"unknown optimizer {name!r} (choose from {', '.join(OPTIMIZERS)})")


def compile_for_training(model, optimizer="adam", learning_rate=1e-3, weight_decay=0.0, label_smoothing=0.0):
    """Compile `model` (as model.build_model makes it) with cross-entropy on soft targets and accuracy."""
    import keras
    model.compile(optimizer=make_optimizer(optimizer, learning_rate, weight_decay),
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing),
                  metrics=["accuracy"])
    return model
