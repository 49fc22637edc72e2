"""The trainer's settings: one frozen dataclass that `main.py` builds from the command line.

Every function below `run` takes the values it needs from a `Config` passed in, never from a
global, so a test can build a `Config` by hand and call `run` on it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

# The CIL trained without --labels, as the original trainer trained its CIL by default: the
# published human labels signed off, rewritten by
# `python -m clustering signoff --out trainer/data/default_cil.json`.
DEFAULT_CIL = Path(__file__).resolve().parent / "data" / "default_cil.json"
ARCHS = ("resnet18", "resnet34", "resnet50", "vgg19")
SCHEDULES = ("step", "onecycle")

# Settings that only change how fast or where a run goes, not what it computes: `--resume` lets
# them differ from the interrupted run's; any other difference stops the resume.
RUNTIME_FIELDS = frozenset(
    {
        "data_dir",
        "device",
        "workers",
        "data_on_device",
        "channels_last",
        "compile",
        "amp",
        "print_freq",
        "resume",
        "evaluate",
        "out",
    }
)
PATH_FIELDS = frozenset({"data_dir", "labels", "label_order", "finetuning", "resume", "out"})


@dataclass(frozen=True)
class Config:
    data_dir: Path
    # labels
    labels: Path | None = None  # a CIL file; None: DEFAULT_CIL
    original_labels: bool = False  # train the data's classes; the CIL is then only scored
    label_order: Path | None = None  # devkit map_clsloc.txt; None: the shipped table
    multi_head: bool = False  # a class head and a CIL head on one backbone, trained jointly
    class_loss_weight: float = 1.0  # multi-head: weight of the class head's cross-entropy
    cil_loss_weight: float = 1.0  # multi-head: weight of the CIL head's cross-entropy
    image_size: int | None = None  # ImageFolder only; None: the first training image's size
    # model and optimisation (defaults: the paper's run, but for crop_padding)
    arch: str = "resnet18"
    width: int = 64  # channels of the first stage; 64 is the standard network
    epochs: int = 40
    batch_size: int = 256  # over all processes together
    lr: float = 0.1
    lr_step: int = 10  # epochs between step decays
    lr_step_gamma: float = 0.5
    momentum: float = 0.9
    weight_decay: float = 1e-4
    schedule: str = "step"
    crop_padding: int = 4  # pixels of zero padding for the random crop; 0: flip only (paper)
    sync_bn: bool = False  # under torchrun on GPUs: BatchNorm over all processes' batches
    finetuning: Path | None = None  # checkpoint whose body starts the run, with a new head
    seed: int = 0
    # modes
    lr_find: bool = False
    lr_find_steps: int = 100
    resume: Path | None = None  # a run folder or one of its checkpoints
    evaluate: tuple[Path, ...] = ()  # checkpoints to score (several: also their ensemble)
    out: Path | None = None  # the run folder; None: runs/<time>-<arch>-<labels>
    # speed; None means "on where it helps": CUDA
    device: str = "auto"
    workers: int = 4
    data_on_device: bool | None = None
    channels_last: bool | None = None
    amp: bool | None = None  # bf16 autocast
    compile: bool = False
    print_freq: int = 50  # steps between progress-bar updates of loss and accuracy

    def __post_init__(self) -> None:
        problems = []
        if self.arch not in ARCHS:
            problems.append(f"arch must be one of {', '.join(ARCHS)}, not {self.arch!r}")
        if self.schedule not in SCHEDULES:
            problems.append(f"schedule must be one of {', '.join(SCHEDULES)}")
        for name in ("epochs", "batch_size", "lr_step", "width", "lr_find_steps", "print_freq"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1")
        if self.lr <= 0:
            problems.append("lr must be positive")
        if self.crop_padding < 0 or self.workers < 0:
            problems.append("crop_padding and workers cannot be negative")
        if self.image_size is not None and self.image_size < 1:
            problems.append("image_size must be at least 1")
        if self.multi_head and (self.original_labels or self.finetuning is not None):
            problems.append(
                "--multi-head trains both heads from scratch: drop --original-labels "
                "and --finetuning"
            )
        if self.class_loss_weight < 0 or self.cil_loss_weight < 0:
            problems.append("loss weights cannot be negative")
        if self.original_labels and self.finetuning is not None:
            problems.append("finetuning trains a CIL's labels: drop --original-labels")
        if self.lr_find and self.resume is not None:
            problems.append("--lr-find starts a fresh model: drop --resume")
        if self.evaluate and (self.lr_find or self.finetuning or self.resume):
            problems.append("--evaluate only scores checkpoints: drop --lr-find and --finetuning")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def trains_cil(self) -> bool:
        """Whether the model's outputs are the CIL's labels rather than the data's classes."""
        return not (self.original_labels or self.multi_head)

    def amp_and_channels_last(self, cuda: bool) -> tuple[bool, bool]:
        """Whether to use bf16 autocast and channels_last: as set, or where unset, on CUDA."""
        return (
            cuda if self.amp is None else self.amp,
            cuda if self.channels_last is None else self.channels_last,
        )

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-able values (paths as strings): for args.json and checkpoints."""
        return {key: _plain(value) for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, object]) -> Config:
        known = {f.name for f in fields(cls)}
        kwargs = {
            key: Path(value) if key in PATH_FIELDS and value is not None else value
            for key, value in values.items()
            if key in known
        }
        kwargs["evaluate"] = tuple(Path(v) for v in kwargs.get("evaluate", ()))
        return cls(**kwargs)

    def differences(self, other: Config) -> list[tuple[str, object, object]]:
        """(setting, value here, value in `other`) for each training setting (not the runtime
        ones) in which the two differ."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [
            (key, mine[key], theirs[key])
            for key in mine
            if key not in RUNTIME_FIELDS and mine[key] != theirs[key]
        ]


def _plain(value: object) -> object:
    if isinstance(value, tuple):  # evaluate's checkpoints
        return [_plain(item) for item in value]
    return str(value) if isinstance(value, Path) else value


def default_cil_summary() -> str:
    """What the default CIL is, for --help: its file, labels and what made it.

    Read as plain JSON so that --help needs neither torch nor the CIL reader's checks.
    """
    try:
        content = json.loads(DEFAULT_CIL.read_text())
        provenance = content.get("provenance", {})
        signoff = provenance.get("signoff")
        if signoff:
            size = (
                f"{len(content['labels'])} labels: the human labels of {signoff['labels']}, "
                "their conflicts settled by accepted proposals"
            )
        else:
            method = provenance.get("method", "unknown method")
            size = f"{len(content['labels'])} labels, written by the {method} strategy"
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        size = "missing or unreadable"
    return f"trainer/data/default_cil.json ({size})"
