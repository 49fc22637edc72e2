"""Metrics on hand-made logits with known answers, and one training epoch."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from trainer.engine import Merge, Objective, SecondHead, evaluate, train_one_epoch
from trainer.metrics import summed_softmax, topk_correct

CPU = torch.device("cpu")


class FixedLogits(nn.Module):
    """A 'model' that returns the logits stored for each input's id (the input's first value)."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = logits

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.logits[inputs[:, 0].long()]


def test_topk_counts_rows_with_the_target_in_the_top_k():
    scores = torch.tensor([[0.0, 1, 2, 3, 4, 5, 6], [6.0, 5, 4, 3, 2, 1, 0]])
    assert topk_correct(scores, torch.tensor([6, 6])).tolist() == [1, 1]
    assert topk_correct(scores, torch.tensor([2, 4])).tolist() == [0, 2]
    # with fewer outputs than 5, top-5 is every output
    assert topk_correct(scores[:, :3], torch.tensor([0, 0])).tolist() == [1, 2]


def test_merged_evaluation_sums_the_softmax_over_each_labels_classes():
    # classes 0,1,2 -> label 0 ("dog"); class 3 -> label 1 ("cat").
    # The image's best class is the cat (3), but the three dog classes together outweigh it:
    # softmax of [1, 1, 1, 1.5] = [0.2263, 0.2263, 0.2263, 0.3732] -> dog 0.679, cat 0.373.
    logits = torch.tensor([[1.0, 1.0, 1.0, 1.5], [0.0, 0.0, 0.0, 5.0]])
    matrix = torch.tensor([[1.0, 0], [1, 0], [1, 0], [0, 1]])
    probabilities = summed_softmax(logits.softmax(dim=1), matrix)
    assert probabilities[0].tolist() == pytest.approx(
        [3 / (3 + math.exp(0.5)), math.exp(0.5) / (3 + math.exp(0.5))]
    )
    assert probabilities.sum(dim=1).tolist() == pytest.approx([1, 1])

    model = FixedLogits(logits)
    inputs = torch.tensor([[0.0], [1.0]])  # ids 0 and 1
    class_targets = torch.tensor([0, 3])  # a dog (class 0) and a cat
    result = evaluate(
        model,
        [(inputs, class_targets)],
        lookup=torch.arange(4),
        num_labels=4,
        merge=Merge(matrix, torch.tensor([0, 0, 0, 1])),
        device=CPU,
        show_progress=False,
    )
    assert result["top1"] == 50  # class level: image 0's argmax is class 3, wrong
    assert result["merged_top1"] == 100  # label level: dog wins for image 0, cat for image 1
    assert result["mapped_top1"] == 50  # argmax-then-map: image 0's best class is a cat
    assert result["merged_per_label"] == [
        {"images": 1, "top1": 100.0},
        {"images": 1, "top1": 100.0},
    ]
    assert result["per_label"] == [
        {"images": 1, "top1": 0.0},
        {"images": 0, "top1": None},
        {"images": 0, "top1": None},
        {"images": 1, "top1": 100.0},
    ]
    expected_loss = (-torch.log_softmax(logits, 1)[0, 0] - torch.log_softmax(logits, 1)[1, 3]) / 2
    assert result["loss"] == pytest.approx(expected_loss.item())


def test_evaluation_maps_class_targets_through_the_lookup():
    logits = torch.tensor([[0.0, 9.0], [9.0, 0.0], [0.0, 9.0]])
    result = evaluate(
        FixedLogits(logits),
        [(torch.tensor([[0.0], [1.0], [2.0]]), torch.tensor([2, 0, 1]))],
        lookup=torch.tensor([0, 0, 1]),  # classes 0 and 1 -> label 0, class 2 -> label 1
        num_labels=2,
        device=CPU,
        show_progress=False,
    )
    assert result["top1"] == pytest.approx(100 * 2 / 3)
    assert result["per_label"] == [{"images": 2, "top1": 50.0}, {"images": 1, "top1": 100.0}]
    assert "merged_top1" not in result


def test_train_one_epoch_reports_the_epoch_and_steps_the_schedule():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5**step)
    batches = [(torch.randn(5, 4), torch.randint(0, 3, (5,))) for _ in range(3)]
    result = train_one_epoch(model, batches, optimizer, scheduler, device=CPU, show_progress=False)
    assert result["images"] == 15 and result["lr"] == 0.1
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**3)
    assert 0 <= result["top1"] <= result["top5"] == 100  # 3 outputs: top-5 always hits
    assert result["images_per_s"] > 0 and result["loss"] > 0


def test_train_one_epoch_prints_progress_lines_when_there_is_no_bar(capsys):
    # under pytest stdout is not a terminal, as in a log file: tqdm stays off
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    batches = [(torch.randn(5, 4), torch.randint(0, 3, (5,))) for _ in range(4)]
    train_one_epoch(
        model, batches, optimizer, scheduler, device=CPU, print_freq=2, desc="epoch 1/9"
    )
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  ")[0] for line in lines] == ["epoch 1/9 [1/4]", "epoch 1/9 [3/4]"]
    assert all("loss" in line and "top1" in line for line in lines)


def test_the_multi_head_objective_weighs_both_heads():
    # 3 classes in 2 labels: logits 0..2 are the class head, 3..4 the CIL head
    logits = torch.tensor([[2.0, 0.0, 1.0, 0.5, 1.5], [0.0, 3.0, 0.0, 2.0, -1.0]])
    targets = torch.tensor([2, 1])
    lookup = torch.tensor([0, 0, 1])
    objective = Objective(3, lookup, class_weight=0.25, cil_weight=2.0)
    fine = F.cross_entropy(logits[:, :3], targets)
    coarse = F.cross_entropy(logits[:, 3:], torch.tensor([1, 0]))
    assert objective.loss(logits, targets).item() == pytest.approx(0.25 * fine + 2.0 * coarse)
    assert torch.equal(objective.scored(logits), logits[:, :3])
    assert torch.equal(Objective().loss(logits, targets), F.cross_entropy(logits, targets))


def test_a_second_head_is_scored_from_the_same_pass_as_the_first():
    # 3 classes in 2 labels: outputs 0..2 are the class head, 3..4 the CIL head; two members,
    # whose ensemble averages each head's softmax on its own
    torch.manual_seed(0)
    members = [FixedLogits(torch.randn(4, 5)) for _ in range(2)]
    batches = [(torch.tensor([[0.0], [1.0], [2.0], [3.0]]), torch.tensor([0, 1, 2, 2]))]
    calls = []
    for member in members:
        member.register_forward_hook(lambda *_: calls.append(1))
    lookup = torch.tensor([0, 0, 1])
    distances = torch.tensor([[0.0, 2.0], [2.0, 0.0]])
    common = {"device": CPU, "show_progress": False}
    both = evaluate(
        members,
        batches,
        lookup=torch.arange(3),
        num_labels=3,
        second_head=SecondHead(lookup, 2, distances),
        **common,
    )
    assert len(calls) == 2  # one forward per member and batch

    class Columns(nn.Module):
        def __init__(self, model: nn.Module, columns: slice) -> None:
            super().__init__()
            self.model, self.columns = model, columns

        def forward(self, inputs: torch.Tensor) -> torch.Tensor:
            return self.model(inputs)[:, self.columns]

    fine = [Columns(member, slice(0, 3)) for member in members]
    coarse = [Columns(member, slice(3, None)) for member in members]
    alone = evaluate(fine, batches, lookup=torch.arange(3), num_labels=3, **common)
    head = evaluate(coarse, batches, lookup=lookup, num_labels=2, distances=distances, **common)
    assert both.pop("second_head") == head and both == alone
    assert "crm_top1" in head
