"""Named meters: running sums and counts on the device, read together at the end."""

from __future__ import annotations

import pytest
import torch

from trainer.meters import AverageMeter, Reading, read_meters

CPU = torch.device("cpu")


def test_a_meter_averages_over_its_count_and_reads_none_when_empty():
    loss, severity = AverageMeter(CPU), AverageMeter(CPU)
    loss.update(torch.tensor(6.0), 4)  # a batch's summed loss over its 4 images
    loss.update(torch.tensor(2.0), 2)
    assert loss.average().item() == pytest.approx(8 / 6)
    read = read_meters({"loss": loss, "severity": severity})
    assert read["loss"] == Reading(8.0, 6.0) and read["loss"].percent == pytest.approx(800 / 6)
    assert read["severity"].average is None and read["severity"].percent is None


def test_a_meter_per_label_counts_each_images_label():
    hits = AverageMeter(CPU, size=3)
    hits.update_per_label(torch.tensor([0, 2, 2, 0]), torch.tensor([True, False, True, True]))
    read = read_meters({"top1": AverageMeter(CPU), "per_label": hits})
    assert read["per_label"] == [Reading(2.0, 2.0), Reading(0.0, 0.0), Reading(1.0, 2.0)]
    assert [label.percent for label in read["per_label"]] == [100.0, None, 50.0]
    assert read["top1"] == Reading(0.0, 0.0)
