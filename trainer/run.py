"""`run(config)`: one training run (or LR range test) from the data folder to the run folder.

The order is the paper's: read the data, build the labels and the model (from a checkpoint's
body when fine-tuning), then per epoch train, evaluate, record and checkpoint. Everything that
only the first process does (printing, records, checkpoints) is guarded by `placement.is_main`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

import torch
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
from trainer.engine import Merge, Objective, SecondHead, evaluate, train_one_epoch
from trainer.errors import RunError
from trainer.hierarchy import distance_matrix, read_tree
from trainer.labels import LabelSpace, label_spaces
from trainer.lr_find import find_lr
from trainer.models import make_model
from trainer.records import RunRecords, epoch_row, run_settings, val_columns
from trainer.schedules import make_optimizer, make_scheduler
from trainer.summaries import describe_data, describe_model, epoch_summary


def run(config: Config) -> dict[str, object]:
    """Train (or range-test) as `config` says; returns the run folder and the last epoch's row."""
    with distributed.placed(config.device) as placement:
        return _run(config, placement)


def _run(config: Config, placement: distributed.Placement) -> dict[str, object]:
    device = placement.device
    cuda = device.type == "cuda"
    amp, channels_last = config.amp_and_channels_last(cuda)
    torch.backends.cudnn.benchmark = cuda
    say = placement.say

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
    say(describe_data(dataset, trained, merged))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    train_batches, val_batches, on_device = _batch_sources(
        config, dataset, trained, placement, channels_last
    )
    del dataset  # the batch sources hold what they need
    heads = (trained.num_labels, cil_head.num_labels) if cil_head else (trained.num_labels,)
    say(
        describe_model(
            config,
            model,
            heads,
            str(device),
            amp=amp and cuda,
            channels_last=channels_last,
            on_device=on_device,
        )
    )

    optimizer = make_optimizer(model, config)
    objective = Objective()
    if cil_head:  # one network whose outputs are the two heads side by side
        objective = Objective(
            trained.num_labels,
            cil_head.lookup(device),
            config.class_loss_weight,
            config.cil_loss_weight,
        )
    if config.lr_find:
        if placement.distributed:
            raise RunError("run --lr-find in one process, not under torchrun")
        RunRecords(run_dir).write_args(run_settings(config, placement, trained, merged, on_device))
        return find_lr(
            model,
            train_batches,
            optimizer,
            steps=config.lr_find_steps,
            device=device,
            amp=amp,
            run_dir=run_dir,
            objective=objective,
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
        records.write_args(run_settings(config, placement, trained, merged, on_device))
    say(f"run folder: {run_dir}")

    if config.sync_bn:
        model = distributed.sync_batchnorm(model, placement)
    if placement.distributed:
        model = DistributedDataParallel(model, device_ids=[device.index] if cuda else None)
    if config.compile:
        model = torch.compile(model)
    # Evaluation runs outside DDP: ranks may hold one batch more or less of the validation set,
    # and DDP's forward is a collective that every rank must join.
    evaluated = unwrap(model) if placement.distributed else model
    merge, distances = scoring(classes, trained, merged, device)
    lookup = trained.lookup(device)
    second_head = None
    if cil_head:
        second_head = SecondHead(objective.lookup, cil_head.num_labels, merge.distances)
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
        distributed.share_buffers(evaluated, placement)  # the statistics that rank 0 saves
        val = evaluate(
            evaluated,
            val_batches,
            lookup=lookup,
            num_labels=trained.num_labels,
            merge=merge,
            distances=distances,
            device=device,
            amp=amp,
            show_progress=placement.is_main,
            second_head=second_head,
        )
        head_val = val.pop("second_head", None)
        row = epoch_row(epoch, train, val, (datetime.now() - started).total_seconds())
        if head_val:
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
                records.write_label_scores(val, trained, merged)
            records.append(row)
            say(epoch_summary(row, config.epochs))
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
    classes: tuple[str, ...],
    trained: LabelSpace,
    merged: LabelSpace | None,
    device: torch.device,
) -> tuple[Merge | None, torch.Tensor | None]:
    """What evaluation needs beyond the trained labels: the CIL to merge a class-level model's
    outputs into, and the labels' distances on Bertinetto et al.'s tree (`trainer.hierarchy`;
    None for data outside ImageNet-1k), each label placed by its member `classes`."""
    tree = read_tree()

    def distances(space: LabelSpace) -> torch.Tensor | None:
        found = distance_matrix(space.members(classes), tree)
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
