"""A classifier file made by hand with the onnx package, no torch: the mean colour of a picture
decides, so a red picture is "red things" and a blue one "blue things". The demo page's tests
run it as they would a trained run's export."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from imagenet_files.classifier_file import METADATA_KEY, Description, Head

LABELS = Head("labels", ("red things", "green things", "blue things"), (None, None, None), "hand")
CLASSES = Head(
    "classes",
    ("tench", "goldfish", "great white shark", "tiger shark"),
    ("n01440764", "n01443537", "n01484850", "n01491361"),
    "original",
)


def write_handmade_classifier(path: Path, image_size: int = 32) -> Path:
    """images (uint8 N x 3 x S x S) -> mean colour N x 3 -> two softmax heads."""
    from onnx import TensorProto, checker, helper, numpy_helper, save

    to_labels = np.eye(3, dtype=np.float32) * 0.02  # a saturated colour wins by about 95 %
    to_classes = np.array([[0.02, 0.01, 0, 0], [0, 0.01, 0.02, 0], [0, 0, 0, 0.02]], np.float32)
    nodes = [
        helper.make_node("Cast", ["images"], ["pixels"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMean", ["pixels"], ["colour"], axes=[2, 3], keepdims=0),
        helper.make_node("MatMul", ["colour", "to_labels"], ["label_logits"]),
        helper.make_node("Softmax", ["label_logits"], ["labels"], axis=1),
        helper.make_node("MatMul", ["colour", "to_classes"], ["class_logits"]),
        helper.make_node("Softmax", ["class_logits"], ["classes"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "handmade",
        [
            helper.make_tensor_value_info(
                "images", TensorProto.UINT8, ["N", 3, image_size, image_size]
            )
        ],
        [
            helper.make_tensor_value_info("labels", TensorProto.FLOAT, ["N", 3]),
            helper.make_tensor_value_info("classes", TensorProto.FLOAT, ["N", 4]),
        ],
        initializer=[
            numpy_helper.from_array(to_labels, "to_labels"),
            numpy_helper.from_array(to_classes, "to_classes"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    description = Description(
        image_size=image_size,
        mean=(0.5, 0.5, 0.5),
        std=(0.25, 0.25, 0.25),
        heads=(LABELS, CLASSES),
        run={"checkpoint": "handmade", "arch": "mean colour", "width": 0, "epoch": 0},
    )
    helper.set_model_props(model, {METADATA_KEY: description.to_json()})
    checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    save(model, str(path))
    return path
