"""The command line: `python trainer/main.py DATA_DIR`, its options, and torchrun."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.trainer.commands import python, torchrun
from trainer import benchmark
from trainer.config import Config
from trainer.main import build_parser, main, parse_config

TINY = ["--width", "8", "-b", "16", "--epochs", "1", "--lr", "0.02", "--device", "cpu", "-j", "0"]


def main_py(*args: str, python_options: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """The researcher's exact command, run from the repository root."""
    # wide help lines: one per option
    return python(*python_options, "trainer/main.py", *args, env={"COLUMNS": "200"})


def test_defaults_are_the_papers_run():
    config = parse_config(["data"])
    assert (config.epochs, config.batch_size, config.lr, config.lr_step, config.lr_step_gamma) == (
        40,
        256,
        0.1,
        10,
        0.5,
    )
    assert (config.momentum, config.weight_decay, config.arch, config.schedule) == (
        0.9,
        1e-4,
        "resnet18",
        "step",
    )
    assert config.labels is None and not config.original_labels and config.finetuning is None


def test_the_original_options_and_aliases_parse(tmp_path):
    config = parse_config(
        [
            "data",
            "--wd",
            "5e-4",
            "--learning-rate",
            "0.2",
            "-j",
            "2",
            "--original-labels",
            "--labels",
            "cil.json",
        ]
    )
    assert config.weight_decay == 5e-4 and config.lr == 0.2 and config.workers == 2
    assert config.original_labels and config.labels == Path("cil.json").resolve()
    assert not config.trains_cil
    assert parse_config(["data", "--no-data-on-device", "--amp"]).data_on_device is False


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["data", "--finetuning", "a.pt", "--original-labels"], "drop --original-labels"),
        (["data", "--original-labels", "maybe"], "expected 1 or 0"),
        (["data", "--epochs", "0"], "epochs must be at least 1"),
        (["data", "--lr-find", "--resume", "runs/x"], "drop --resume"),
    ],
)
def test_contradictory_options_stop_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_config(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_help_explains_every_option_and_runs_without_an_installed_package():
    # -S: no site-packages, so neither torch nor the editable install; main.py must put the
    # repository root on sys.path itself, and --help must not need torch
    result = main_py("--help", python_options=("-S",))
    assert result.returncode == 0, result.stderr
    text = result.stdout
    for action in build_parser()._actions:
        assert action.help, action.dest
        assert any(option in text for option in action.option_strings or [action.metavar])
    for shown in (
        "(default: 40)",
        "(default: 256)",
        "(default: 0.1)",
        "(default: 0.0001)",
        "--original-labels",
    ):
        assert shown in text


@pytest.mark.parametrize(
    ("argv", "original"),
    [
        (["data"], False),
        (["data", "--original-labels"], True),
        (["data", "--original-labels", "1"], True),
        (["data", "--original-labels", "0"], False),
        (["data", "--original-labels=True"], True),
    ],
)
def test_the_default_is_the_cil_and_original_labels_take_the_original_form(argv, original):
    config = parse_config(argv)
    assert config.original_labels is original and config.trains_cil is not original


def test_help_names_the_default_cil_and_where_it_came_from(capsys):
    with pytest.raises(SystemExit):
        parse_config(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Default: the project's CIL, trainer/data/default_cil.json (" in text
    assert "labels: the human labels of clustering/data/published_cil_v3.json" in text
    assert "defaults: the paper's run, but for --crop-padding" in text


def test_config_round_trips_through_a_checkpoint_dict():
    config = parse_config(["data", "--labels", "x.json", "--seed", "3"])
    assert Config.from_dict(json.loads(json.dumps(config.to_dict()))) == config


@pytest.mark.slow
def test_the_command_trains_and_writes_a_run_folder(downsampled_dir, cil_file, tmp_path, capsys):
    # in this process: the torchrun test below runs the file as a script, training
    argv = [str(downsampled_dir), *TINY, "--labels", str(cil_file), "--out", str(tmp_path / "run")]
    assert main(argv) == 0
    assert "epoch 1/1" in capsys.readouterr().out
    row = json.loads((tmp_path / "run" / "metrics.jsonl").read_text())
    assert row["epoch"] == 1 and row["val_images"] == 32
    assert json.loads((tmp_path / "run" / "args.json").read_text())["labels"] == str(cil_file)


def test_a_wrong_data_folder_is_an_error_message_not_a_traceback(tmp_path, capsys):
    (tmp_path / "photos").mkdir()
    assert main([str(tmp_path), *TINY]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: DATA_DIR") and "Accepted layouts" in error
    assert "photos/" in error


@pytest.mark.slow
def test_torchrun_trains_with_two_cpu_processes(downsampled_dir, tmp_path):
    result = torchrun(
        "trainer/main.py", str(downsampled_dir), *TINY, "--out", str(tmp_path / "run")
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("epoch 1/1  lr") == 1  # only the first process reports
    row = json.loads((tmp_path / "run" / "metrics.jsonl").read_text())
    # each process trains 4 batches of 8 and scores half the validation set; the sums are global
    assert row["train_images"] == 128 and row["val_images"] == 32
    assert json.loads((tmp_path / "run" / "args.json").read_text())["environment"]["processes"] == 2


@pytest.mark.slow
def test_benchmark_reports_images_per_second(capsys):
    assert benchmark.main(["--device", "cpu", "--width", "4", "-b", "4", "--steps", "2"]) == 0
    out = capsys.readouterr().out
    assert "images/s; an ImageNet32 epoch (1,281,167 images) would take" in out


def test_evaluate_takes_several_checkpoints_and_round_trips(capsys):
    config = parse_config(["data", "-e", "--resume", "a.pt", "runs/b"])
    assert config.evaluate == (Path("a.pt").resolve(), Path("runs/b").resolve())
    assert config.resume is None
    assert Config.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    for argv, message in (
        (["data", "-e"], "give them with --resume"),
        (["data", "--resume", "a.pt", "b.pt"], "several checkpoints go with --evaluate"),
    ):
        with pytest.raises(SystemExit):
            parse_config(argv)
        assert message in capsys.readouterr().err
