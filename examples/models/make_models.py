#!/usr/bin/env python3
"""Writes the small example models that ship with Kiln (examples/models/*), in the ONNX
backend-test layout: model.onnx + test_data_set_0/{input,output}_N.pb. Expected outputs are
computed here with NumPy, independently of Kiln.

Run from the repository root:  python3 examples/models/make_models.py
Needs: numpy, onnx (pinned in scripts/requirements.txt). Output is deterministic.
"""
import os
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

HERE = os.path.dirname(os.path.abspath(__file__))


def save_case(name, model, inputs, outputs):
    d = os.path.join(HERE, name)
    ds = os.path.join(d, "test_data_set_0")
    os.makedirs(ds, exist_ok=True)
    onnx.checker.check_model(model)
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(model.SerializeToString(deterministic=True))
    for i, a in enumerate(inputs):
        with open(os.path.join(ds, f"input_{i}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(a).SerializeToString(deterministic=True))
    for i, a in enumerate(outputs):
        with open(os.path.join(ds, f"output_{i}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(a).SerializeToString(deterministic=True))


def linreg():
    # y = X @ [0.5, 0.5] + 1, X of shape (N, 2): N is left symbolic.
    w = helper.make_node("Constant", [], ["w"], value=numpy_helper.from_array(np.array([0.5, 0.5], np.float32)))
    b = helper.make_node("Constant", [], ["b"], value_float=1.0)
    mm = helper.make_node("MatMul", ["X", "w"], ["xw"], name="matmul")
    add = helper.make_node("Add", ["xw", "b"], ["y"], name="add")
    g = helper.make_graph(
        [w, b, mm, add], "linreg",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N"])],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="kiln-examples")
    m.ir_version = 8
    x = np.array([[0, 0], [1, 1], [2, 2], [3, -1]], np.float32)
    save_case("linreg", m, [x], [(x @ np.array([0.5, 0.5], np.float32) + 1).astype(np.float32)])


def tiny_mlp():
    # 8 -> 16 -> 4 MLP with ReLU and Softmax, batch dim "batch".
    rng = np.random.default_rng(0)
    w1 = rng.standard_normal((16, 8)).astype(np.float32) * 0.5
    b1 = rng.standard_normal(16).astype(np.float32) * 0.1
    w2 = rng.standard_normal((4, 16)).astype(np.float32) * 0.5
    b2 = rng.standard_normal(4).astype(np.float32) * 0.1
    nodes = [
        helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="fc1", transB=1),
        helper.make_node("Relu", ["h"], ["hr"], name="relu"),
        helper.make_node("Gemm", ["hr", "w2", "b2"], ["logits"], name="fc2", transB=1),
        helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=1),
    ]
    inits = [numpy_helper.from_array(a, n) for a, n in [(w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2")]]
    g = helper.make_graph(
        nodes, "tiny_mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 4])],
        initializer=inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="kiln-examples")
    m.ir_version = 8
    x = rng.standard_normal((5, 8)).astype(np.float32)
    h = np.maximum(x.astype(np.float64) @ w1.T + b1, 0)
    z = h @ w2.T + b2
    e = np.exp(z - z.max(axis=1, keepdims=True))
    p = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    save_case("tiny_mlp", m, [x], [p])


if __name__ == "__main__":
    linreg()
    tiny_mlp()
    print("wrote", ", ".join(sorted(d for d in os.listdir(HERE) if os.path.isdir(os.path.join(HERE, d)))))
