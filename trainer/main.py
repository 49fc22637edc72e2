"""Train a classifier on Downsampled ImageNet with the original labels or a CIL.

    python trainer/main.py DATA_DIR [options]              # one process: a GPU, or the CPU
    torchrun --nproc_per_node=N trainer/main.py DATA_DIR   # N GPUs (DDP)

This file only turns the command line into a `Config` and calls `run(config)`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script, Python puts trainer/ first on sys.path, where config.py, data.py and the
    # rest would shadow any top-level module of the same name; the repository root goes there
    # instead, so that `trainer` and `clustering` import from a plain checkout too.
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from trainer.config import ARCHS, SCHEDULES, Config, default_cil_summary


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows "(default: X)" only where there is a default to show."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def _flag(text: str) -> bool:
    """The original trainer's `--original-labels 1` form, and its spellings of yes and no."""
    value = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}.get(
        text.lower()
    )
    if value is None:
        # most likely DATA_DIR, taken as the flag's value: say how to write it
        raise argparse.ArgumentTypeError(
            f"expected 1 or 0, not {text!r}; put DATA_DIR before --original-labels, or write "
            "--original-labels 1"
        )
    return value


def build_parser() -> argparse.ArgumentParser:
    defaults = Config(data_dir=Path("."))
    parser = argparse.ArgumentParser(
        prog="python trainer/main.py",
        description=(
            "Train ResNet-18 (or another CIFAR-style network) on Downsampled ImageNet with the "
            "1,000 original labels or the labels of a CIL, or fine-tune a trained model onto a "
            "CIL. Each run writes a folder with its arguments, per-epoch metrics (JSONL and CSV), "
            "checkpoints and a plot."
        ),
        formatter_class=_HelpFormatter,
    )
    parser.add_argument(
        "data_dir",
        metavar="DATA_DIR",
        type=Path,
        help="the dataset: the official Downsampled ImageNet files (train_data_batch_1..10 and "
        "val_data, pickle or npz, 32 or 64 px) in DATA_DIR or one folder below it, or an "
        "ImageFolder layout DATA_DIR/train/<wnid>/, DATA_DIR/val/<wnid>/",
    )

    labels = parser.add_argument_group("labels")
    labels.add_argument(
        "--labels",
        metavar="FILE",
        type=Path,
        help="a CIL JSON file (the project's rich format or the original flat {wnid: name}); "
        "its labels are trained, and it must give every class of the data a label. Default: "
        f"the project's CIL, {default_cil_summary()}",
    )
    labels.add_argument(
        "--original-labels",
        nargs="?",
        const=True,
        default=False,
        type=_flag,
        metavar="1|0",
        help="train the data's own classes (the 1,000 original labels) instead of the CIL's; the "
        "CIL is then used to also score the model on its labels. Alone or as 1/0, the original "
        "trainer's form (--original-labels 1)",
    )
    labels.add_argument(
        "--multi-head",
        action="store_true",
        help="one backbone with two heads, the data's classes and the CIL's labels, trained on "
        "the weighted sum of their cross-entropies; both heads are evaluated",
    )
    labels.add_argument(
        "--class-loss-weight",
        type=float,
        default=defaults.class_loss_weight,
        metavar="W",
        help="--multi-head: weight of the class head's loss",
    )
    labels.add_argument(
        "--cil-loss-weight",
        type=float,
        default=defaults.cil_loss_weight,
        metavar="W",
        help="--multi-head: weight of the CIL head's loss",
    )
    labels.add_argument(
        "--label-order",
        metavar="PATH",
        type=Path,
        help="the ILSVRC devkit's map_clsloc.txt (or a devkit folder holding one), giving the "
        "wnid of each 1-based label in the official files; default: the table shipped in "
        "imagenet_files/data/imagenet32_label_order.txt",
    )
    labels.add_argument(
        "--image-size",
        metavar="PX",
        type=int,
        help="ImageFolder data only: resize every image to PX x PX (box filter); default: the "
        "size of the first training image",
    )

    model = parser.add_argument_group(
        "model and optimisation (defaults: the paper's run, but for --crop-padding)"
    )
    model.add_argument("--arch", "-a", choices=ARCHS, default=defaults.arch, help="network")
    model.add_argument(
        "--width",
        type=int,
        default=defaults.width,
        metavar="C",
        help="channels of the first stage (later stages double it); 64 is the standard network, "
        "smaller values make quick narrow models",
    )
    model.add_argument(
        "--epochs", type=int, default=defaults.epochs, metavar="N", help="epochs to train"
    )
    model.add_argument(
        "-b",
        "--batch-size",
        type=int,
        default=defaults.batch_size,
        metavar="N",
        help="mini-batch size, in total over all processes",
    )
    model.add_argument(
        "--lr",
        "--learning-rate",
        type=float,
        default=defaults.lr,
        metavar="LR",
        help="initial learning rate (step schedule) or peak rate (onecycle)",
    )
    model.add_argument(
        "--schedule",
        choices=SCHEDULES,
        default=defaults.schedule,
        help="step: multiply the rate by --lr-step-gamma every --lr-step epochs (the paper's); "
        "onecycle: warm up from lr/25 to lr over 30%% of the steps, then cosine-anneal",
    )
    model.add_argument(
        "--lr-step",
        type=int,
        default=defaults.lr_step,
        metavar="N",
        help="epochs between rate decays of the step schedule",
    )
    model.add_argument(
        "--lr-step-gamma",
        type=float,
        default=defaults.lr_step_gamma,
        metavar="G",
        help="factor of each rate decay of the step schedule",
    )
    model.add_argument(
        "--momentum", type=float, default=defaults.momentum, metavar="M", help="SGD momentum"
    )
    model.add_argument(
        "--wd",
        "--weight-decay",
        dest="weight_decay",
        type=float,
        default=defaults.weight_decay,
        metavar="W",
        help="SGD weight decay",
    )
    model.add_argument(
        "--crop-padding",
        type=int,
        default=defaults.crop_padding,
        metavar="PX",
        help="zero padding before the random crop of each training image (a random flip "
        "follows); 0: flip only, the paper's augmentation (4, the default, is the usual recipe "
        "for 32 px images and scores higher)",
    )
    model.add_argument(
        "--sync-bn",
        action="store_true",
        help="under torchrun on several GPUs: SyncBatchNorm, batch statistics over the whole "
        "batch of all processes instead of each process's share (off: the paper's one-GPU "
        "BatchNorm sees 256 images, each of N processes 256/N)",
    )
    model.add_argument(
        "--finetuning",
        metavar="PATH",
        type=Path,
        help="fine-tune: start from this checkpoint (e.g. a 1,000-label run's epoch_040.pt), "
        "replace its head with one for the --labels CIL, and train the whole network",
    )
    model.add_argument("--seed", type=int, default=defaults.seed, help="seed of every random draw")

    modes = parser.add_argument_group("modes and output")
    modes.add_argument(
        "--lr-find",
        action="store_true",
        help="instead of training, run an LR range test: raise the rate exponentially from 1e-7 "
        "to 10, print and plot (lr_find.png) the smoothed loss against it, and suggest a rate",
    )
    modes.add_argument(
        "--lr-find-steps",
        type=int,
        default=defaults.lr_find_steps,
        metavar="N",
        help="steps of the LR range test",
    )
    modes.add_argument(
        "--resume",
        metavar="PATH",
        type=Path,
        nargs="+",
        help="continue an interrupted run from its last checkpoint (PATH is its run folder) or "
        "from a given epoch_NNN.pt; repeat the run's command, only the speed options may change. "
        "With --evaluate: the checkpoints (or run folders: their best.pt) to score",
    )
    modes.add_argument(
        "-e",
        "--evaluate",
        action="store_true",
        help="score the --resume checkpoints on the validation set instead of training: on their "
        "own labels, and a class-level model also on the CIL (--labels or the default); several "
        "checkpoints are also scored as an ensemble (their softmax averaged). Writes the run "
        "folder's records, one row per model. Also reads the original trainer's 1,000-class .pth",
    )
    modes.add_argument(
        "--out",
        metavar="DIR",
        type=Path,
        help="the run folder to write (must not hold a run already; with --resume the resumed "
        "run's folder is used); default: runs/<date>-<time>-<arch>-<labels>",
    )

    speed = parser.add_argument_group(
        "speed and placement (a resumed run may change these; results differ only by rounding)"
    )
    speed.add_argument(
        "--device",
        default=defaults.device,
        help="auto (a GPU if there is one, else the CPU), cpu, cuda or cuda:N",
    )
    speed.add_argument(
        "-j",
        "--workers",
        type=int,
        default=defaults.workers,
        metavar="N",
        help="DataLoader workers that decode ImageFolder images and, when the data stays in "
        "host memory, gather batches",
    )
    speed.add_argument(
        "--data-on-device",
        action=argparse.BooleanOptionalAction,
        help="hold the dataset on the GPU as uint8 and augment whole batches there; default: "
        "on when it fits in half the free GPU memory (and on a CPU, where it is in RAM anyway)",
    )
    speed.add_argument(
        "--channels-last",
        action=argparse.BooleanOptionalAction,
        help="channels_last memory format; default: on with CUDA",
    )
    speed.add_argument(
        "--amp",
        action=argparse.BooleanOptionalAction,
        help="bf16 autocast; default: on with CUDA (never used on a CPU)",
    )
    speed.add_argument(
        "--compile", action="store_true", help="torch.compile the model (slow start, faster epochs)"
    )
    speed.add_argument(
        "--print-freq",
        type=int,
        default=defaults.print_freq,
        metavar="N",
        help="steps between updates of the loss shown on the progress bar (each one waits for "
        "the GPU)",
    )
    return parser


def parse_config(argv: list[str] | None = None) -> Config:
    """The command line as a Config; files are made absolute so that a resumed run can be
    compared with the original whatever the working folder."""
    parser = build_parser()
    args = vars(parser.parse_args(argv))
    for key in ("labels", "label_order", "finetuning"):
        if args[key] is not None:
            args[key] = args[key].resolve()
    resume = [path.resolve() for path in args.pop("resume") or ()]
    if args.pop("evaluate"):
        if not resume:
            parser.error("--evaluate scores checkpoints: give them with --resume PATH [PATH ...]")
        args["evaluate"] = tuple(resume)
    elif len(resume) > 1:
        parser.error("--resume continues one run; several checkpoints go with --evaluate")
    else:
        args["resume"] = resume[0] if resume else None
    try:
        return Config(**args)
    except ValueError as error:
        parser.error(str(error))


def main(argv: list[str] | None = None) -> int:
    config = parse_config(argv)
    # Imported after parsing, so that --help and argument errors answer without loading torch.
    from trainer.errors import USER_ERRORS
    from trainer.evaluation import evaluate_checkpoints
    from trainer.run import run

    try:
        if config.evaluate:
            evaluate_checkpoints(config)
        else:
            run(config)
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
