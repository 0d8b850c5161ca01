"""Every numeric option is checked before any work starts: one line on stderr, exit 2."""
from pathlib import Path

import pytest

import evaluate
import main
import train


@pytest.mark.parametrize("script, argv, message", [
    (main, ["--min-neighbors", "-1"], "--min-neighbors"),
    (main, ["--min-face-size", "-10"], "--min-face-size"),
    (main, ["--detect-width", "-1"], "--detect-width"),
    (main, ["--detect-width", "50"], "--detect-width"),
    (main, ["--scale-factor", "1"], "--scale-factor"),
    (main, ["--smooth", "1.5"], "--smooth"),
    (main, ["--scan-every", "0"], "--scan-every"),
    (main, ["--reconnect", "-1"], "--reconnect"),
    (main, ["--scale-factor", "nan"], "--scale-factor"),
    (train, ["--learning-rate", "-1"], "--learning-rate"),
    (train, ["--epochs", "0"], "--epochs"),
    (train, ["--batch-size", "0"], "--batch-size"),
    (train, ["--dropout", "1"], "--dropout"),
    (train, ["--label-smoothing", "-0.1"], "--label-smoothing"),
    (train, ["--patience", "-1"], "--patience"),
    (train, ["--weight-decay", "-1e-4"], "--weight-decay"),
    (train, ["--crop", "49"], "--crop"),
    (train, ["--erase", "1.5"], "--erase"),
    (train, ["--mixup", "-0.2"], "--mixup"),
    (train, ["--workers", "0"], "--workers"),
    (train, ["--average-from", "-2"], "--average-from"),
    (train, ["--average-lr", "-1e-4", "--average-from", "5"], "--average-lr"),
    (train, ["--average-lr", "1e-4"], "--average-lr needs --average-from"),
    (train, ["--average-lr", "1e-4", "--average-from", "5", "--lr-schedule", "plateau"], "plateau"),
    (train, ["--soft-weight", "1.5"], "--soft-weight"),
    (train, ["--seed", "x"], "--seed"),
    (evaluate, ["--data", ".", "--low-light", "0"], "--low-light"),
    (evaluate, ["--data", ".", "--low-light", "1.5"], "--low-light"),
])
def test_out_of_range_numbers_are_one_line_errors(capsys, script, argv, message):
    with pytest.raises(SystemExit) as stop:
        script.parse_args(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err


def test_numbers_in_range_are_accepted():
    args = main.parse_args(["--min-neighbors", "0", "--detect-width", "0", "--smooth", "0", "--reconnect", "0"])
    assert (args.min_neighbors, args.detect_width, args.smooth, args.reconnect) == (0, 0, 0.0, 0.0)
    assert main.parse_args(["--smooth"]).smooth == main.DEFAULT_SMOOTH
    assert train.parse_args(["--learning-rate", "1e-4", "--dropout", "0"]).learning_rate == 1e-4


@pytest.mark.parametrize("script", [main, evaluate, train])
def test_help_shows_default_model_paths_relative_to_where_the_user_is(capsys, monkeypatch, script):
    monkeypatch.chdir(Path(main.__file__).parent)
    with pytest.raises(SystemExit):
        script.parse_args(["--help"])
    shown = " ".join(capsys.readouterr().out.split())   # argparse wraps long help lines
    assert "models/modelTrained.h5" in shown
    assert str(Path(main.__file__).parent.resolve()) not in shown


def test_ctrl_c_outside_a_handled_step_ends_with_one_line_and_status_130(capsys):
    from common.entry_point import run_main

    def interrupted_main():
        raise KeyboardInterrupt
    with pytest.raises(SystemExit) as stop:
        run_main(interrupted_main)
    assert stop.value.code == 130
    assert capsys.readouterr().err.strip() == "Interrupted."
