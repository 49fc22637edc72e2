"""`run(config)`: one training run (or LR range test) from the data folder to the run folder.

The order is the paper's: read the data, build the labels and the model (from a checkpoint's
body when fine-tuning), then per epoch train, evaluate, record and checkpoint. Everything that
only the first process does (printing, records, checkpoints) is guarded by `placement.is_main`.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from imagenet_files.layout import DownsampledLayout, detect_layout
from trainer import distributed
from trainer.batches import LoaderBatches, ResidentBatches, fits_on_device, make_batches
from trainer.checkpoint import (
    CheckpointError,
    epoch_path,
    latest_checkpoint,
    load_checkpoint,
    restore_rng,
    rng_state,
    save_checkpoint,
    unwrap,
)
from trainer.config import DEFAULT_CIL, Config
from trainer.data import Dataset, Sharing, Split, data_classes, load_dataset
from trainer.engine import Merge, Objective, OutputSlice, autocast, evaluate, train_one_epoch
from trainer.errors import RunError
from trainer.hierarchy import distance_matrix, read_hypernyms
from trainer.labels import LabelSpace, label_spaces
from trainer.models import build_model, replace_head
from trainer.original import read_model_checkpoint
from trainer.records import RunRecords
from trainer.schedules import lr_range_test, make_optimizer, make_scheduler, plot_range_test


def run(config: Config) -> dict[str, object]:
    """Train (or range-test) as `config` says; returns the run folder and the last epoch's row."""
    placement = distributed.start(config.device)
    try:
        return _run(config, placement)
    finally:
        distributed.stop(placement)


def _run(config: Config, placement: distributed.Placement) -> dict[str, object]:
    device = placement.device
    cuda = device.type == "cuda"
    amp, channels_last = config.amp_and_channels_last(cuda)
    torch.backends.cudnn.benchmark = cuda
    say: Callable[[str], None] = print if placement.is_main else (lambda _: None)

    resume_from = _resume_path(config.resume) if config.resume else None
    checkpoint = load_checkpoint(resume_from) if resume_from else None
    run_dir = resume_from.parent if resume_from else _fresh_run_dir(config)
    if checkpoint:
        _check_same_run(config, checkpoint, resume_from)
    if config.batch_size % placement.world_size:
        raise RunError(
            f"--batch-size {config.batch_size} is the total over {placement.world_size} "
            "processes and must divide evenly among them"
        )

    # Labels and model first: their errors (a CIL missing classes, a fine-tuning checkpoint of
    # another width) come before the minutes that reading ImageNet takes.
    classes = data_classes(config.data_dir, config.label_order)
    trained, merged = label_spaces(
        classes, config.labels, config.original_labels or config.multi_head
    )
    if config.multi_head and merged is None:
        raise RunError("--multi-head needs a CIL that labels every class of the data: --labels")
    cil_head = merged if config.multi_head else None
    if checkpoint and not trained.same_outputs(checkpoint["labels"]):
        raise RunError(f"{resume_from} was trained on other labels than {trained.source}")
    torch.manual_seed(config.seed)  # the model's initial weights; batches seed their own
    model = make_model(
        config, trained, device, classes, extra_outputs=cil_head.num_labels if cil_head else 0
    )
    dataset = read_data(config, placement)
    image_size = dataset.image_size  # in each checkpoint: predict and export resize to it
    say(_describe_data(dataset, trained, merged))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    train_batches, val_batches, on_device = _batch_sources(
        config, dataset, trained, placement, channels_last
    )
    del dataset  # the batch sources hold what they need
    say(
        f"model: {config.arch} (width {config.width}), {_millions(model)} M parameters, "
        f"{trained.num_labels}{f' + {cil_head.num_labels}' if cil_head else ''} outputs; "
        f"device {device}"
        f"{', bf16' if amp and cuda else ''}{', channels_last' if channels_last else ''}; "
        f"data {'on the device' if on_device else f'in host memory, {config.workers} workers'}"
    )

    optimizer = make_optimizer(model, config)
    if config.lr_find:
        if placement.distributed:
            raise RunError("run --lr-find in one process, not under torchrun")
        RunRecords(run_dir).write_args(_settings(config, placement, trained, merged, on_device))
        return _lr_find(
            config, model, train_batches, optimizer, device=device, amp=amp, run_dir=run_dir
        )

    scheduler = make_scheduler(
        optimizer,
        config.schedule,
        epochs=config.epochs,
        steps_per_epoch=len(train_batches),
        lr_step=config.lr_step,
        gamma=config.lr_step_gamma,
    )
    records = RunRecords(run_dir) if placement.is_main else None
    start_epoch, best_top1 = 0, -1.0
    if checkpoint:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        start_epoch, best_top1 = checkpoint["epoch"], checkpoint["best_top1"]
        restore_rng(checkpoint["rng"])
        if records:
            records.keep_until(start_epoch)
        say(f"resuming {run_dir} after epoch {start_epoch} of {config.epochs}")
        if start_epoch >= config.epochs:
            say("the run is complete: nothing to train")
    elif records:
        records.write_args(_settings(config, placement, trained, merged, on_device))
    say(f"run folder: {run_dir}")

    if placement.distributed:
        model = DistributedDataParallel(model, device_ids=[device.index] if cuda else None)
    if config.compile:
        model = torch.compile(model)
    # Evaluation runs outside DDP: ranks may hold one batch more or less of the validation set,
    # and DDP's forward is a collective that every rank must join.
    evaluated = unwrap(model) if placement.distributed else model
    merge, distances = scoring(trained, merged, device)
    lookup = trained.lookup(device)
    objective, class_head, second_head = Objective(), evaluated, None
    if cil_head:  # one network whose outputs are the two heads side by side
        objective = Objective(
            trained.num_labels,
            cil_head.lookup(device),
            config.class_loss_weight,
            config.cil_loss_weight,
        )
        class_head = OutputSlice(evaluated, 0, trained.num_labels)
        second_head = OutputSlice(evaluated, trained.num_labels)
    row: dict[str, object] = {}
    for epoch in range(start_epoch + 1, config.epochs + 1):
        train_batches.set_epoch(epoch)
        started = datetime.now()
        train = train_one_epoch(
            model,
            train_batches,
            optimizer,
            scheduler,
            device=device,
            amp=amp,
            print_freq=config.print_freq,
            show_progress=placement.is_main,
            desc=f"epoch {epoch}/{config.epochs}",
            objective=objective,
        )
        val = evaluate(
            class_head,
            val_batches,
            lookup=lookup,
            num_labels=trained.num_labels,
            merge=merge,
            distances=distances,
            device=device,
            amp=amp,
            show_progress=placement.is_main,
        )
        row = _row(epoch, train, val, (datetime.now() - started).total_seconds())
        if second_head is not None:
            head_val = evaluate(
                second_head,
                val_batches,
                lookup=cil_head.lookup(device),
                num_labels=cil_head.num_labels,
                distances=merge.distances,
                device=device,
                amp=amp,
                show_progress=placement.is_main,
            )
            row.update(val_columns(head_val, "val_cil_head_"))
        if records:
            is_best = val["top1"] > best_top1
            best_top1 = max(best_top1, val["top1"])
            path = epoch_path(run_dir, epoch)
            save_checkpoint(
                path,
                {
                    "epoch": epoch,
                    "arch": config.arch,
                    "width": config.width,
                    "image_size": image_size,
                    "labels": trained.describe(),
                    **({"cil_head": cil_head.describe()} if cil_head else {}),
                    "model": unwrap(model).state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "best_top1": best_top1,
                    "config": config.to_dict(),
                    "rng": rng_state(),
                    "metrics": row,
                },
            )
            if is_best:
                shutil.copyfile(path, run_dir / "best.pt")
                write_per_label(records, val, trained, merged)
            records.append(row)
            say(_summary(row, config.epochs))
    return {"run_dir": run_dir, "best_top1": best_top1, "last": row}


def read_data(config: Config, placement: distributed.Placement) -> Dataset:
    """The dataset in host memory; under torchrun once per machine, not once per process."""
    sharing = None
    if placement.distributed:
        sharing = Sharing(
            folder=_shared_folder(config.data_dir),
            writer=placement.local_rank == 0,
            wait=placement.wait_all,
        )
    return load_dataset(
        config.data_dir,
        label_order=config.label_order,
        image_size=config.image_size,
        workers=config.workers,
        progress=placement.is_main,
        sharing=sharing,
    )


def _shared_folder(data_dir: Path) -> Path:
    """Where the processes of this torchrun share the images: /dev/shm (memory) when it has room
    for the official files' contents, else the temporary folder (a file on disk, served from the
    page cache; also for ImageFolder data, whose decoded size is known only once read). The name
    is the same in every process of the run and differs between runs."""
    run_id = os.environ.get("TORCHELASTIC_RUN_ID", "run")
    name = f"cil-trainer-{run_id}-{os.environ.get('MASTER_PORT', '0')}"
    layout = detect_layout(Path(data_dir))
    shm = Path("/dev/shm")
    if isinstance(layout, DownsampledLayout) and shm.is_dir():
        needed = sum(path.stat().st_size for path in (*layout.train_files, layout.val_file))
        if shutil.disk_usage(shm).free > 1.2 * needed:
            return shm / name
    return Path(tempfile.gettempdir()) / name


def scoring(
    trained: LabelSpace, merged: LabelSpace | None, device: torch.device
) -> tuple[Merge | None, torch.Tensor | None]:
    """What evaluation needs beyond the trained labels: the CIL to merge a class-level model's
    outputs into, and the labels' distances in WordNet (None off ImageNet's hierarchy)."""
    parents = read_hypernyms()

    def distances(space: LabelSpace) -> torch.Tensor | None:
        found = distance_matrix(space.wnids, parents)
        return None if found is None else found.to(device)

    merge = (
        Merge(merged.merge_matrix(device), merged.lookup(device), distances(merged))
        if merged
        else None
    )
    return merge, distances(trained)


def _batch_sources(
    config: Config,
    dataset: Dataset,
    trained: LabelSpace,
    placement: distributed.Placement,
    channels_last: bool,
) -> tuple[ResidentBatches | LoaderBatches, ResidentBatches | LoaderBatches, bool]:
    """(training batches with label targets, validation batches with class targets, whether
    the data sits on the device)."""
    on_device = (
        config.data_on_device
        if config.data_on_device is not None
        else fits_on_device(
            dataset.train.images.nbytes + dataset.val.images.nbytes, placement.device
        )
    )
    options = {
        "batch_size": config.batch_size // placement.world_size,
        "device": placement.device,
        "padding": config.crop_padding,
        "seed": config.seed,
        "rank": placement.rank,
        "world_size": placement.world_size,
        "channels_last": channels_last,
        "on_device": on_device,
        "workers": config.workers,
    }
    train_split = Split(dataset.train.images, trained.lookup()[dataset.train.targets])
    train_batches = make_batches(train_split, train=True, **options)
    if len(train_batches) == 0:
        raise RunError(f"fewer training images than one batch of {options['batch_size']}")
    return train_batches, make_batches(dataset.val, train=False, **options), on_device


def write_per_label(
    records: RunRecords, val: dict[str, object], trained: LabelSpace, merged: LabelSpace | None
) -> None:
    records.write_per_label("per_label.csv", trained.names, trained.wnids, val["per_label"])
    if merged:
        records.write_per_label(
            "per_label_cil.csv", merged.names, merged.wnids, val["merged_per_label"]
        )


def _resume_path(resume: Path) -> Path:
    if resume.is_dir():
        return latest_checkpoint(resume)
    if not resume.is_file():
        raise CheckpointError(f"--resume {resume}: no such run folder or checkpoint")
    return resume


def _fresh_run_dir(config: Config) -> Path:
    if config.out is None:
        cil = (config.labels or DEFAULT_CIL).stem
        labels = (
            f"multihead-{cil}" if config.multi_head else cil if config.trains_cil else "original"
        )
        tuned = "-finetune" if config.finetuning else ""
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        return Path("runs") / f"{stamp}-{config.arch}-{labels}{tuned}"
    if (config.out / "metrics.jsonl").exists() or any(config.out.glob("epoch_*.pt")):
        raise RunError(
            f"{config.out} already holds a run: add --resume {config.out} to continue it, "
            "or choose another --out"
        )
    return config.out


def _check_same_run(config: Config, checkpoint: dict[str, object], path: Path) -> None:
    differences = Config.from_dict(checkpoint["config"]).differences(config)
    if differences:
        listed = "; ".join(
            f"{key}: {then!r} in the run, {now!r} now" for key, then, now in differences
        )
        raise RunError(
            f"--resume {path}: repeat the interrupted run's command (only the speed options may "
            f"change); these settings differ: {listed}"
        )


def make_model(
    config: Config,
    labels: LabelSpace,
    device: torch.device,
    classes: tuple[str, ...] = (),
    *,
    extra_outputs: int = 0,
) -> nn.Module:
    """A fresh model (with `extra_outputs` for a second head), or (fine-tuning) a checkpoint's
    model with a new head for `labels`; the checkpoint may be the original trainer's .pth of a
    model of the data's `classes`."""
    if config.finetuning is None:
        return build_model(config.arch, labels.num_labels + extra_outputs, config.width).to(device)
    source = read_model_checkpoint(config.finetuning, classes)
    if (source["arch"], source["width"]) != (config.arch, config.width):
        raise RunError(
            f"--finetuning {config.finetuning} holds a {source['arch']} of width "
            f"{source['width']}: pass --arch {source['arch']} --width {source['width']}"
        )
    model = build_model(source["arch"], source["model"]["fc.weight"].shape[0], source["width"])
    model.load_state_dict(source["model"])
    replace_head(model, labels.num_labels)
    return model.to(device)


def _lr_find(
    config: Config,
    model: nn.Module,
    train_batches: ResidentBatches | LoaderBatches,
    optimizer: torch.optim.Optimizer,
    *,
    device: torch.device,
    amp: bool,
    run_dir: Path,
) -> dict[str, object]:
    def endless() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for epoch in itertools.count(1):
            train_batches.set_epoch(epoch)
            yield from train_batches

    def loss_of(inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        with autocast(device, amp):
            return F.cross_entropy(model(inputs), targets)

    result = lr_range_test(model, endless(), optimizer, loss_of, steps=config.lr_find_steps)
    run_dir.mkdir(parents=True, exist_ok=True)
    plot_range_test(result, run_dir / "lr_find.png")
    lines = ["lr,loss"] + [
        f"{lr:.6g},{loss:.6f}" for lr, loss in zip(result.lrs, result.losses, strict=True)
    ]
    (run_dir / "lr_find.csv").write_text("\n".join(lines) + "\n")
    every = max(len(result.lrs) // 10, 1)
    print("LR range test (smoothed training loss):")
    for lr, loss in list(zip(result.lrs, result.losses, strict=True))[::every]:
        print(f"  lr {lr:10.3g}   loss {loss:.4f}")
    print(f"suggested --lr {result.suggestion:.3g} (steepest descent of the loss)")
    print(f"plot: {run_dir / 'lr_find.png'}")
    return {"run_dir": run_dir, "suggestion": result.suggestion, "range_test": result}


def _row(
    epoch: int, train: dict[str, object], val: dict[str, object], seconds: float
) -> dict[str, object]:
    row = {
        "epoch": epoch,
        "lr": train["lr"],
        **{f"train_{key}": train[key] for key in ("loss", "top1", "top5")},
        **val_columns(val),
    }
    row["train_images"] = train["images"]
    row["val_images"] = val["images"]
    row["images_per_s"] = train["images_per_s"]
    row["train_seconds"] = train["seconds"]
    row["epoch_seconds"] = seconds
    row["time"] = datetime.now().isoformat(timespec="seconds")
    return row


def val_columns(val: dict[str, object], prefix: str = "val_") -> dict[str, object]:
    """An evaluation's scores as the `val_*` columns of a row (images and per-label lists apart)."""
    return {
        f"{prefix}{key}": value
        for key, value in val.items()
        if key != "images" and not key.endswith("per_label")
    }


def _summary(row: dict[str, object], epochs: int) -> str:
    merged = (
        f" | CIL top1 {row['val_merged_top1']:.2f} (argmax-then-map "
        f"{row['val_mapped_top1']:.2f}) top5 {row['val_merged_top5']:.2f}"
        if "val_merged_top1" in row
        else ""
    )
    if row.get("val_severity") is not None:
        merged += f" | mistake severity {row['val_severity']:.2f}"
    if "val_cil_head_top1" in row:
        merged += f" | CIL head top1 {row['val_cil_head_top1']:.2f}"
    return (
        f"epoch {row['epoch']}/{epochs}  lr {row['lr']:.4g}  "
        f"train loss {row['train_loss']:.4f} top1 {row['train_top1']:.2f} | "
        f"val loss {row['val_loss']:.4f} top1 {row['val_top1']:.2f} top5 {row['val_top5']:.2f}"
        f"{merged} | {row['images_per_s']:.0f} img/s, {row['epoch_seconds']:.0f} s"
    )


def _describe_data(dataset: Dataset, trained: LabelSpace, merged: LabelSpace | None) -> str:
    text = (
        f"data: {dataset.layout}, {len(dataset.train):,} training and {len(dataset.val):,} "
        f"validation images of {dataset.image_size} px, {len(dataset.classes)} classes; "
        f"training {trained.num_labels} labels ({trained.source})"
    )
    if merged:
        text += f"; also scored on the {merged.num_labels} labels of {merged.source}"
    unused = (merged or trained).unused
    if unused:
        shown = ", ".join(unused[:5]) + (", ..." if len(unused) > 5 else "")
        text += (
            f"; {len(unused)} labels of the CIL hold no class of the data and get no output "
            f"({shown})"
        )
    return text


def _settings(
    config: Config,
    placement: distributed.Placement,
    trained: LabelSpace,
    merged: LabelSpace | None,
    on_device: bool,
) -> dict[str, object]:
    return {
        **config.to_dict(),
        "environment": {
            "torch": torch.__version__,
            "device": str(placement.device),
            "processes": placement.world_size,
            "data_on_device": on_device,
        },
        "num_labels": trained.num_labels,
        "merged_num_labels": merged.num_labels if merged else None,
    }


def _millions(model: nn.Module) -> str:
    return f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f}"
