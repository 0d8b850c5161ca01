import json

import keras
import numpy as np
import pandas as pd
import pytest

from training import callbacks
import train
import training.run
from training.run import learning_rate_schedule
from artefacts import artefact_paths
from model import load_trained_model
from inference.runtimes import choose_runtime, predict_proba
from helpers import make_dataset
from data import load_split


def run_train(dataset, output, *extra, litert=False, width=0.5):
    """A short training run, of the network at half width unless a test asks for the real
    one (the same mechanics at about a quarter of the work); the LiteRT export (~30 s)
    only where a test asks for it."""
    return train.main(["--data", str(dataset), "--output", str(output), "--batch-size", "16",
                       "--mixed-precision", "off", "--width", str(width), *extra]
                      + ([] if litert else ["--no-litert"]))


@pytest.mark.slow
def test_train_end_to_end_writes_every_artefact_and_resumes(pattern_dataset, tmp_path, capsys):
    output = tmp_path / "out" / "m.h5"
    assert run_train(pattern_dataset, output, "--epochs", "2", litert=True, width=1) == 0
    paths = artefact_paths(output)
    for name in ("model", "labels", "history", "curves", "classes", "resume", "litert", "litert-int8"):
        assert paths[name].is_file(), name
    assert choose_runtime(output) == "litert-int8"   # both twins carry this .h5's fingerprint
    assert choose_runtime(output, "litert") == "litert"
    assert json.loads(paths["labels"].read_text())["class_names"] == ["disc", "horizontal", "vertical"]
    history = pd.read_csv(paths["history"])
    assert history["epoch"].tolist() == [0, 1]
    assert {"accuracy", "val_accuracy", "loss", "val_loss", "learning_rate"} <= set(history.columns)
    out = capsys.readouterr().out
    assert "Class distribution" in out and "best validation accuracy" in out

    assert run_train(pattern_dataset, output, "--epochs", "3", "--resume", width=1) == 0
    history = pd.read_csv(paths["history"])
    assert history["epoch"].tolist() == [0, 1, 2]
    out = capsys.readouterr().out
    assert "Resuming" in out and "changed here: --epochs 3 (was 2)" in out
    model, names = load_trained_model(output)
    assert model.output_shape == (None, 3)

    paths["resume"].unlink()   # a fresh clone has only the committed model and history
    assert run_train(pattern_dataset, output, "--epochs", "4", "--resume", width=1) == 0
    assert pd.read_csv(paths["history"])["epoch"].tolist() == [0, 1, 2, 3]
    assert "fresh optimizer" in capsys.readouterr().out


@pytest.mark.slow
def test_model_learns_a_separable_set_well_above_chance(tmp_path):
    # Enough steps for BatchNorm's moving statistics (momentum 0.99) to settle.
    dataset = make_dataset(tmp_path / "patterns", per_class=(60, 20))
    output = tmp_path / "m.h5"
    assert train.main(["--data", str(dataset), "--output", str(output), "--batch-size", "8",
                       "--epochs", "5", "--mixed-precision", "off", "--no-litert"]) == 0
    model, names = load_trained_model(output)
    validation = load_split(dataset / "validation", names)
    accuracy = (predict_proba(model, validation.x).argmax(axis=1) == validation.y).mean()
    assert accuracy >= 0.8  # chance is 0.33


@pytest.mark.slow
def test_recipe_options_train_a_whole_run(pattern_dataset, tmp_path):
    output = tmp_path / "m.h5"
    assert run_train(pattern_dataset, output, "--epochs", "2", "--optimizer", "sgd", "--learning-rate", "0.01",
                     "--weight-decay", "1e-3", "--crop", "40", "--erase", "0.5", "--mixup", "0.2",
                     "--workers", "2", "--patience", "0", "--frame-jitter", "1", "--degrade", "0.5") == 0
    history = pd.read_csv(artefact_paths(output)["history"])
    assert history["epoch"].tolist() == [0, 1]
    assert history["learning_rate"].iloc[0] == pytest.approx(0.01)


@pytest.mark.slow
def test_init_fine_tunes_from_a_trained_model(pattern_dataset, tmp_path, capsys):
    first = tmp_path / "first.h5"
    assert run_train(pattern_dataset, first, "--epochs", "1") == 0
    tuned = tmp_path / "tuned.h5"
    # no step to speak of (learning rate ~0): the fine-tune keeps the weights it started from
    assert run_train(pattern_dataset, tuned, "--epochs", "1", "--init", str(first), "--learning-rate", "1e-12") == 0
    assert "Starting from the weights of" in capsys.readouterr().out
    kernels = [[layer.get_weights()[0] for layer in load_trained_model(path)[0].layers
                if isinstance(layer, keras.layers.Conv2D)] for path in (first, tuned)]
    for before, after in zip(*kernels):
        np.testing.assert_allclose(after, before, atol=1e-6)


def test_init_with_another_network_is_a_one_line_error(pattern_dataset, tmp_path, capsys):
    first = tmp_path / "narrow.h5"
    assert run_train(pattern_dataset, first, "--epochs", "1", width=0.25) == 0
    capsys.readouterr()
    assert run_train(pattern_dataset, tmp_path / "m.h5", "--init", str(first)) == 2
    err = capsys.readouterr().err.strip()
    assert "give its --width" in err and "\n" not in err
    with pytest.raises(SystemExit):
        run_train(pattern_dataset, tmp_path / "m.h5", "--init", str(tmp_path / "missing.h5"))
    assert "--init: no such model" in capsys.readouterr().err


@pytest.mark.slow
def test_width_trains_and_saves_a_network_of_that_width(pattern_dataset, tmp_path):
    output = tmp_path / "teacher.h5"
    assert run_train(pattern_dataset, output, "--epochs", "1", width=0.25) == 0
    model, _ = load_trained_model(output)
    assert [c.filters for c in model.layers if isinstance(c, keras.layers.Conv2D)] == [16, 32, 128, 128]


def test_bad_dataset_is_a_one_line_error(tmp_path, capsys):
    assert train.main(["--data", str(tmp_path / "missing"), "--output", str(tmp_path / "m.h5")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: dataset folder not found") and "\n" not in err


def test_resume_without_checkpoint_is_a_clear_error(pattern_dataset, tmp_path, capsys):
    assert run_train(pattern_dataset, tmp_path / "m.h5", "--resume") == 2
    assert "nothing to resume" in capsys.readouterr().err


def start_training(pattern_dataset, output):
    """train.py in its own process (so that it can be sent Ctrl-C), returned once its
    first epoch's checkpoint is saved."""
    import subprocess
    import sys
    import time
    from helpers import ROOT
    process = subprocess.Popen([sys.executable, str(ROOT / "train.py"), "--data", str(pattern_dataset),
                                "--output", str(output), "--epochs", "500", "--batch-size", "16",
                                "--mixed-precision", "off", "--no-litert", "--width", "0.5"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 180
    while time.time() < deadline and not artefact_paths(output)["resume"].is_file():
        time.sleep(0.2)
    return process


def assert_every_epoch_whole(history):
    """Each recorded epoch trained on all 120 faces (8 steps of 16): none was cut short,
    so --resume goes on with the schedule and data order of an unbroken run."""
    assert history["steps"].tolist() == [8 * (epoch + 1) for epoch in history["epoch"]]


@pytest.mark.slow
def test_ctrl_c_stops_after_a_whole_epoch_keeping_the_best_model_and_the_history(pattern_dataset, tmp_path):
    import signal
    output = tmp_path / "m.h5"
    process = start_training(pattern_dataset, output)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert "Stopping at the end of epoch" in stdout
    assert "Interrupted" in stdout and "best validation accuracy" in stdout
    history = pd.read_csv(artefact_paths(output)["history"])
    assert len(history) >= 1
    assert_every_epoch_whole(history)
    model, names = load_trained_model(output)
    assert names == ["disc", "horizontal", "vertical"]


@pytest.mark.slow
def test_a_second_ctrl_c_stops_at_once_and_resume_trains_that_epoch_again(pattern_dataset, tmp_path, capsys):
    import signal
    import time
    output = tmp_path / "m.h5"
    process = start_training(pattern_dataset, output)
    process.send_signal(signal.SIGINT)
    time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert "Traceback" not in stderr, stderr
    paths = artefact_paths(output)
    history = pd.read_csv(paths["history"])
    assert_every_epoch_whole(history)
    stopped_after = len(history)
    assert train.main(["--data", str(pattern_dataset), "--output", str(output), "--resume",
                       "--epochs", str(stopped_after + 1), "--no-litert"]) == 0
    history = pd.read_csv(paths["history"])
    assert history["epoch"].tolist() == list(range(stopped_after + 1))
    assert_every_epoch_whole(history)


@pytest.mark.slow
def test_time_limit_pauses_after_a_whole_epoch_and_resume_finishes_the_run(pattern_dataset, tmp_path, capsys):
    output = tmp_path / "m.h5"
    paths = artefact_paths(output)
    assert run_train(pattern_dataset, output, "--epochs", "3", "--learning-rate", "0.01",
                     "--time-limit", "0.001") == 0
    out = capsys.readouterr().out
    assert "pausing after epoch 1 of 3" in out and "Recomputing" not in out   # the first epoch always runs
    history = pd.read_csv(paths["history"])
    assert history["epoch"].tolist() == [0]
    assert_every_epoch_whole(history)

    # later sittings need only --resume: the run's own options (3 epochs, rate 0.01) carry on
    resume = ["--data", str(pattern_dataset), "--output", str(output), "--resume", "--time-limit", "0.001",
              "--no-litert"]
    assert train.main(resume) == 0
    out = capsys.readouterr().out
    assert "Continuing with the run's options" in out and "changed here" not in out
    assert "pausing after epoch 2 of 3" in out
    assert train.main(resume) == 0
    out = capsys.readouterr().out
    assert "pausing" not in out and "Recomputing" in out   # the last epoch ends the run: finished
    history = pd.read_csv(paths["history"])
    assert history["epoch"].tolist() == [0, 1, 2]
    schedule = learning_rate_schedule(train.parse_args(["--epochs", "3", "--learning-rate", "0.01"]))
    assert history["learning_rate"].tolist() == pytest.approx([schedule.schedule(e, None) for e in range(3)])


@pytest.mark.slow
def test_resume_retrains_an_epoch_whose_checkpoint_a_stop_did_not_save(pattern_dataset, tmp_path, capsys):
    output = tmp_path / "m.h5"
    paths = artefact_paths(output)
    assert run_train(pattern_dataset, output, "--epochs", "1") == 0
    first = paths["resume"].read_bytes()
    assert run_train(pattern_dataset, output, "--epochs", "2", "--resume") == 0
    paths["resume"].write_bytes(first)   # killed after epoch 2's row, before its checkpoint
    capsys.readouterr()
    assert run_train(pattern_dataset, output, "--epochs", "3", "--resume") == 0
    assert "epoch 2 is trained again" in capsys.readouterr().out
    history = pd.read_csv(paths["history"])
    steps_per_epoch = 120 // 16 + 1   # 120 faces in batches of 16
    assert history["epoch"].tolist() == [0, 1, 2]
    assert history["steps"].tolist() == [steps_per_epoch, 2 * steps_per_epoch, 3 * steps_per_epoch]


def test_an_output_that_cannot_be_written_is_a_one_line_error_before_loading(pattern_dataset, tmp_path, capsys):
    (tmp_path / "m.h5").mkdir()   # a folder where the model would go
    assert train.main(["--data", str(pattern_dataset), "--output", str(tmp_path / "m.h5"), "--epochs", "1"]) == 2
    out, err = capsys.readouterr()
    assert err.strip() == f"error: cannot write model {tmp_path / 'm.h5'}: Is a directory"
    assert "Loading" not in out


def test_resume_with_a_damaged_options_record_is_a_one_line_error(tmp_path, capsys):
    output = tmp_path / "m.h5"
    artefact_paths(output)["options"].write_text("{not json")
    with pytest.raises(SystemExit) as stop:
        train.parse_args(["--output", str(output), "--resume"])
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and "is not a run's options" in err and "\n" not in err


def test_resume_with_another_width_is_a_one_line_error(tmp_path, capsys):
    output = tmp_path / "m.h5"
    artefact_paths(output)["options"].write_text(json.dumps({"--width": "1.5"}))
    with pytest.raises(SystemExit) as stop:
        train.parse_args(["--output", str(output), "--resume", "--width", "1"])
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and "network is 1.5 wide" in err and "\n" not in err
    assert train.parse_args(["--output", str(output), "--resume", "--width", "1.5"]).width == 1.5


def test_resume_keeps_a_run_recorded_before_soft_labels_on_folder_labels(tmp_path, capsys):
    output = tmp_path / "m.h5"
    record = artefact_paths(output)["options"]
    record.write_text(json.dumps({"--epochs": "150", "--seed": "2"}))   # written before --soft-labels existed
    args = train.parse_args(["--output", str(output), "--resume"])
    assert (args.soft_labels, args.epochs, args.seed) == ("none", 150, 2)
    assert "changed here" not in capsys.readouterr().out
    assert train.parse_args(["--output", str(output), "--resume", "--soft-labels", "auto"]).soft_labels == "auto"
    record.write_text(json.dumps({"--epochs": "150", "--soft-labels": "auto"}))
    assert train.parse_args(["--output", str(output), "--resume"]).soft_labels == "auto"


def test_time_limit_judges_the_next_epoch_by_the_longest_after_the_first(monkeypatch):
    durations = [60.0] + [3.0] * 100   # the first epoch compiles
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    stop = callbacks.StopBeforeTimeLimit(deadline=200.0)
    stop.set_model(model)
    model.stop_training = False   # as fit() sets it
    now = 0.0
    monkeypatch.setattr(callbacks.time, "perf_counter", lambda: now)
    for epoch, seconds in enumerate(durations):
        stop.on_epoch_begin(epoch)
        now += seconds
        stop.on_epoch_end(epoch)
        if model.stop_training:
            break
    assert stop.reached and now == 198.0   # the next would end at 201


def test_cosine_schedule_decays_from_the_initial_rate_to_the_floor():
    args = train.parse_args(["--lr-schedule", "cosine", "--epochs", "10", "--learning-rate", "1e-3"])
    schedule = learning_rate_schedule(args).schedule
    assert schedule(0, None) == pytest.approx(1e-3)
    assert schedule(5, None) == pytest.approx((1e-3 + 1e-5) / 2)
    assert schedule(9, None) < 5e-5


def test_constant_schedule_holds_the_learning_rate():
    args = train.parse_args(["--lr-schedule", "constant", "--epochs", "10", "--learning-rate", "1e-4"])
    schedule = learning_rate_schedule(args).schedule
    assert [schedule(epoch, 0.5) for epoch in (0, 5, 9)] == pytest.approx([1e-4] * 3)


def test_plateau_schedule_cuts_the_rate_after_five_epochs_without_a_better_one():
    accuracies = [0.50, 0.60, 0.60, 0.58, 0.60, 0.59, 0.60,   # five epochs not above 0.60: cut
                  0.61, 0.61, 0.61, 0.61, 0.61, 0.61]         # a rise counts afresh: five more, cut
    args = train.parse_args(["--lr-schedule", "plateau", "--learning-rate", "1e-3"])
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    schedule = learning_rate_schedule(args)
    schedule.set_model(model)
    rates = []
    for epoch, accuracy in enumerate(accuracies):
        schedule.on_epoch_begin(epoch)
        rates.append(float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)))
        logs = {"val_accuracy": accuracy}
        schedule.on_epoch_end(epoch, logs)
        assert logs["learning_rate"] == pytest.approx(rates[-1])   # printed with the epoch's figures
    assert rates == pytest.approx([1e-3] * 7 + [7.5e-4] * 6)
    # a run resumed after any epoch goes on at the rate the unbroken run had reached
    resumed = [learning_rate_schedule(args, accuracies[:epoch]).rate() for epoch in range(len(accuracies) + 1)]
    assert resumed == pytest.approx(rates + [1e-3 * 0.75 ** 2])
    assert learning_rate_schedule(args, [0.5] * 500).rate() == pytest.approx(1e-5)   # the floor


def test_averaging_rate_holds_from_the_first_averaged_epoch_after_the_cosine_decay():
    args = train.parse_args(["--epochs", "10", "--learning-rate", "1e-3", "--average-from", "8",
                             "--average-lr", "3e-4"])
    schedule = learning_rate_schedule(args).schedule
    cosine = learning_rate_schedule(train.parse_args(["--epochs", "10"])).schedule
    assert [schedule(epoch, None) for epoch in range(7)] == pytest.approx([cosine(e, None) for e in range(7)])
    assert [schedule(epoch, None) for epoch in (7, 8, 9)] == pytest.approx([3e-4] * 3)


def one_epoch_run_whose_history_scored(dataset, output, val_accuracy):
    """Train one epoch, then rewrite its history's validation accuracy; returns the paths."""
    assert run_train(dataset, output, "--epochs", "1") == 0
    paths = artefact_paths(output)
    history = pd.read_csv(paths["history"])
    history.loc[0, "val_accuracy"] = val_accuracy
    history.to_csv(paths["history"], index=False)
    return paths


@pytest.mark.slow
def test_resumed_run_without_a_better_epoch_leaves_the_saved_model_alone(pattern_dataset, tmp_path,
                                                                          monkeypatch, capsys):
    output = tmp_path / "m.h5"
    paths = one_epoch_run_whose_history_scored(pattern_dataset, output, 2.0)   # no later epoch beats it
    saved = output.read_bytes()
    # the run's end still has its finish step, which may only keep the model or improve it
    monkeypatch.setattr(training.run, "recalibrate_batchnorm", lambda model, images, **kwargs: None)
    capsys.readouterr()
    assert run_train(pattern_dataset, output, "--epochs", "2", "--resume",
                     "--lr-schedule", "constant", "--learning-rate", "3e-4") == 0
    assert output.read_bytes() == saved
    assert "Recomputing" in capsys.readouterr().out
    assert pd.read_csv(paths["history"])["learning_rate"].iloc[-1] == pytest.approx(3e-4)


@pytest.mark.slow
def test_resumed_run_keeps_a_saved_model_that_scores_above_its_history(pattern_dataset, tmp_path,
                                                                        monkeypatch):
    output = tmp_path / "m.h5"
    paths = one_epoch_run_whose_history_scored(pattern_dataset, output, 0.0)   # any later epoch beats it ...
    # ... but not the saved model, as after finish_model recomputed its statistics
    monkeypatch.setattr(training.run, "validation_accuracy", lambda model, validation: 2.0)
    saved = output.read_bytes()
    assert run_train(pattern_dataset, output, "--epochs", "2", "--resume") == 0
    assert output.read_bytes() == saved
    assert len(pd.read_csv(paths["history"])) == 2


def test_weight_average_is_the_mean_of_the_epochs_from_its_start_and_survives_resume(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    path = tmp_path / "m.average.npz"
    average = callbacks.WeightAverage(path, start=1)
    average.set_model(model)
    for epoch, value in enumerate((5.0, 1.0, 2.0)):
        model.set_weights([np.full_like(w, value) for w in model.get_weights()])
        average.on_epoch_end(epoch)
    assert average.count == 2   # epoch 0 comes before the start
    for mean in average.mean:
        np.testing.assert_allclose(mean, 1.5)

    resumed = callbacks.WeightAverage(path, start=1, resume=True)
    assert resumed.count == 2
    np.testing.assert_allclose(resumed.mean[0], 1.5)
    assert callbacks.WeightAverage(path, start=1).count == 0   # a fresh run starts over
    assert callbacks.WeightAverage(path, start=2, resume=True).count == 0   # another start: a new average


@pytest.mark.slow
def test_the_saved_model_is_the_best_of_best_epoch_recomputed_bn_and_average(pattern_dataset, tmp_path,
                                                                              capsys):
    output = tmp_path / "m.h5"
    assert run_train(pattern_dataset, output, "--epochs", "3", "--average-from", "2") == 0
    out = capsys.readouterr().out
    assert "best epoch, BatchNorm recomputed:" in out and "average of 2 epochs" in out
    assert "<- saved as the model" in out
    with np.load(artefact_paths(output)["average"]) as saved:
        assert int(saved["count"]) == 2
    model, names = load_trained_model(output)
    validation = load_split(pattern_dataset / "validation", names)
    accuracy = (predict_proba(model, validation.x).argmax(axis=1) == validation.y).mean()
    best_epoch = pd.read_csv(artefact_paths(output)["history"])["val_accuracy"].max()
    assert accuracy >= best_epoch - 1e-6


@pytest.mark.slow
def test_sigterm_while_recomputing_batchnorm_skips_it_and_keeps_the_saved_model(pattern_dataset, tmp_path,
                                                                                 monkeypatch, capsys):
    import os
    import signal

    class Killed(Exception):
        pass

    def killed(signum, frame):
        raise Killed   # what SIGTERM would do here if train.py left it alone: end the run

    def sigterm_midway(model, images, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)   # as bench/recipe_runs.py does at its deadline

    output = tmp_path / "m.h5"
    previous = signal.signal(signal.SIGTERM, killed)
    monkeypatch.setattr(training.run, "recalibrate_batchnorm", sigterm_midway)
    try:
        assert run_train(pattern_dataset, output, "--epochs", "1") == 0
    finally:
        restored = signal.signal(signal.SIGTERM, previous)
    assert restored is killed   # SIGTERM means what it meant before once the step is over
    out = capsys.readouterr().out
    assert "Skipped recomputing BatchNorm statistics" in out and "best validation accuracy" in out
    assert "<- saved as the model" not in out
    assert load_trained_model(output)[1] == ["disc", "horizontal", "vertical"]
