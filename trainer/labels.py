"""What the model's outputs mean: the data's own classes, or the labels of a CIL.

A `LabelSpace` maps each class of the data (an index into `Dataset.classes`) to one output. The
CIL is read only through `clustering.cil`, the project's one reader of that format. Without
`--labels` the trainer uses the CIL shipped in `trainer/data/default_cil.json`, as the original
trainer trained its CIL by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from clustering.cil import CIL, CILFormatError, read_cil
from trainer.config import DEFAULT_CIL
from trainer.errors import TrainerError


class MissingClassesError(TrainerError):
    """The CIL leaves classes of the data without a label; the message lists their wnids."""


@dataclass(frozen=True)
class LabelSpace:
    names: tuple[str, ...]  # display name of each output
    wnids: tuple[str | None, ...]  # the synset of each output, where it has one
    class_to_label: tuple[int, ...]  # output index of each class of the data
    source: str  # "original" or the CIL file it came from
    unused: tuple[str, ...] = ()  # the CIL's labels without a class in the data: no output

    @property
    def num_labels(self) -> int:
        return len(self.names)

    def lookup(self, device: torch.device | str = "cpu") -> torch.Tensor:
        """class index -> label index, as a tensor to index class targets with."""
        return torch.tensor(self.class_to_label, dtype=torch.int64, device=device)

    def members(self, classes: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
        """Each output's classes, as wnids of `classes` (the data's, in index order)."""
        members: list[list[str]] = [[] for _ in self.names]
        for wnid, label in zip(classes, self.class_to_label, strict=True):
            members[label].append(wnid)
        return tuple(tuple(m) for m in members)

    def merge_matrix(self, device: torch.device | str = "cpu") -> torch.Tensor:
        """classes x labels, 1 where the class belongs to the label: class probabilities times
        this matrix are label probabilities."""
        return F.one_hot(self.lookup(), self.num_labels).to(device, torch.float32)

    def describe(self) -> dict[str, object]:
        """What a checkpoint stores: to check that a resumed run trains the same labels, and to
        read the outputs of a checkpoint that is evaluated."""
        return {
            "names": list(self.names),
            "wnids": list(self.wnids),
            "source": self.source,
            "class_to_label": list(self.class_to_label),
        }

    def same_outputs(self, described: dict[str, object]) -> bool:
        """Whether a checkpoint's `describe()` has these outputs (older ones lack the mapping);
        where the CIL file lies does not matter, only its labels. Outputs that are the data's
        classes are the same classes in the same order, whichever CIL gave their names."""
        if self.source == "original":
            return described.get("source") == "original" and described.get("wnids") == list(
                self.wnids
            )
        return all(
            described.get(key) == value
            for key, value in self.describe().items()
            if key in described and key != "source"
        )


def original_labels(classes: tuple[str, ...], cil: CIL | None = None) -> LabelSpace:
    """One output per class of the data, named from the CIL's class list where one is given."""
    names = {entry.wnid: entry.name for entry in cil.classes} if cil else {}
    return LabelSpace(
        names=tuple(names.get(wnid, wnid) for wnid in classes),
        wnids=tuple(classes),
        class_to_label=tuple(range(len(classes))),
        source="original",
    )


def cil_labels(classes: tuple[str, ...], cil: CIL, source: str) -> LabelSpace:
    """The CIL's labels that hold a class of the data, each class mapped to its label.

    Every class must be covered: a class the CIL forgot would otherwise have no target, and
    dropping its images silently would change the task. A label none of whose classes is in the
    data gets no output (listed in `unused`): it would never see an image, only lower the others.
    """
    if [label.index for label in cil.labels] != list(range(cil.num_labels)):
        # read_cil accepts gaps so that the validator can report them; a head cannot have them.
        raise CILFormatError(
            source, [f"label indices must run 0..{cil.num_labels - 1} without gaps to be trained"]
        )
    missing = [wnid for wnid in classes if wnid not in cil.class_to_label]
    if missing:
        raise MissingClassesError(
            f"the CIL {source} has no label for {len(missing)} of the data's {len(classes)} "
            f"classes: {', '.join(missing)}"
        )
    used = sorted({cil.label_of(wnid) for wnid in classes})
    output = {label: i for i, label in enumerate(used)}
    return LabelSpace(
        names=tuple(cil.labels[label].name for label in used),
        wnids=tuple(cil.labels[label].wnid for label in used),
        class_to_label=tuple(output[cil.label_of(wnid)] for wnid in classes),
        source=source,
        unused=tuple(label.name for label in cil.labels if label.index not in output),
    )


def label_spaces(
    classes: tuple[str, ...], labels: Path | None, original: bool
) -> tuple[LabelSpace, LabelSpace | None]:
    """(the labels to train, the CIL to also evaluate a class-level model on, if any).

    `labels` None means the default CIL. Its labels are trained, unless `original` asks for the
    classes, in which case the CIL's labels are reached by summing class probabilities at
    evaluation; a given CIL must cover the classes, the default one only if its labels train.
    """
    source = labels or DEFAULT_CIL
    cil = read_cil(source)
    if not original:
        try:
            return cil_labels(classes, cil, str(source)), None
        except MissingClassesError as error:
            if labels is not None:
                raise
            raise MissingClassesError(
                f"{error}; pass --original-labels to train the data's own classes, or --labels "
                "with a CIL for them"
            ) from None
    try:
        merged = cil_labels(classes, cil, str(source))
    except MissingClassesError:
        if labels is not None:
            raise
        merged = None  # classes outside ImageNet-1k: the default CIL has nothing to merge them
    return original_labels(classes, cil), merged


def checkpoint_labels(
    described: dict[str, object], classes: tuple[str, ...], labels: Path | None
) -> tuple[LabelSpace, LabelSpace | None]:
    """(the outputs of a checkpoint to evaluate on data of `classes`, the CIL to also score it
    on when its outputs are the classes): `labels` as for training, None for the default CIL.

    A model trained on a CIL's labels is scored on those labels only: `labels` naming another
    CIL is refused, as its labels cannot be read from the outputs in general (a class's
    probability is gone once summed into a label), and silently scoring the trained CIL instead
    would report numbers for labels the user did not ask for."""
    if described["source"] == "original":
        if tuple(described["wnids"]) != classes:
            raise MissingClassesError(
                f"the model's {len(described['wnids'])} outputs are not the data's "
                f"{len(classes)} classes"
            )
        return label_spaces(classes, labels, original=True)
    space = LabelSpace(
        names=tuple(described["names"]),
        wnids=tuple(described["wnids"]),
        class_to_label=tuple(described.get("class_to_label", ())),
        source=str(described["source"]),
    )
    if len(space.class_to_label) != len(classes):
        # a checkpoint written before the mapping was stored: its CIL file says it again
        space = cil_labels(classes, read_cil(space.source), space.source)
        if not space.same_outputs(described):
            raise MissingClassesError(
                f"{space.source} no longer gives the labels the model was trained on"
            )
    if labels is not None and not cil_labels(classes, read_cil(labels), str(labels)).same_outputs(
        described
    ):
        raise MissingClassesError(
            f"the model was trained on the labels of {space.source}, and its outputs cannot be "
            f"scored on the other labels of {labels}: leave out --labels, or evaluate a model "
            "trained on the classes (--original-labels), whose outputs any CIL can merge"
        )
    return space, None
