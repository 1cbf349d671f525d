"""Writes single-layer ONNX models (the hot layers of the CNN goal models, and a 512^3
GEMM) in the backend-test layout, with onnxruntime reference outputs, for `kiln bench`:

    target/bench-venv/bin/python tools/layerbench/make.py target/layerbench [NAME...]
    target/release/kiln bench target/layerbench/* --no-tract

Each folder is one Conv (or MatMul) with the geometry of a layer of resnet18, mobilenet_v2
or squeezenet1_1, optionally followed by the activation those models apply to it. The `_bn`
/ `bn_` models keep resnet18's BatchNormalization after each Conv, as an export without
BN folding leaves it (`kiln bench --disable-pass fold-bn` measures Kiln without folding it).
With NAMEs, only those folders are written (every model is still generated, so each keeps
its random weights and inputs)."""
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

# name: (input NCHW, output channels, kernel, stride, pad, group, activation)
CONVS = {
    "r18_conv1": ((1, 3, 224, 224), 64, 7, 2, 3, 1, "Relu"),
    "r18_l1": ((1, 64, 56, 56), 64, 3, 1, 1, 1, "Relu"),
    "r18_l2_down": ((1, 64, 56, 56), 128, 3, 2, 1, 1, "Relu"),
    "r18_l4": ((1, 512, 7, 7), 512, 3, 1, 1, 1, None),
    "r18_1x1_s2": ((1, 128, 28, 28), 256, 1, 2, 0, 1, None),
    "sq_expand3": ((1, 16, 54, 54), 64, 3, 1, 1, 1, "Relu"),
    "mb_pw": ((1, 96, 56, 56), 24, 1, 1, 0, 1, None),
    "mb_dw112": ((1, 32, 112, 112), 32, 3, 1, 1, 32, "Clip"),
    "mb_dw_s2": ((1, 96, 112, 112), 96, 3, 2, 1, 96, "Clip"),
    "mb_dw7": ((1, 960, 7, 7), 960, 3, 1, 1, 960, "Clip"),
}

# Added later, with a random stream of their own (the models above keep their weights):
# a Sigmoid after a convolution (not fused into it, so Sigmoid's own loop runs).
LATER_CONVS = {
    "pw_sigmoid": ((1, 32, 112, 112), 32, 1, 1, 0, 1, "Sigmoid"),
}


# Added with the vector tanh and erf, with a random stream of their own: element-wise
# activations that call tanh, erf or exp (not fused into the producer): a Tanh after a
# convolution, SiLU x * Sigmoid(x), and a transformer feed-forward layer's MatMul + bias
# followed by GELU in its exact (erf) and tanh forms, as exporters write them.
ACTS = ["pw_tanh", "pw_silu", "ff_gelu", "ff_gelu_tanh"]


def save(d, model, feeds):
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    onnx.save(model, os.path.join(d, "model.onnx"))
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    s = ort.InferenceSession(os.path.join(d, "model.onnx"), so)
    outs = s.run(None, feeds)
    for i, (k, v) in enumerate(feeds.items()):
        t = numpy_helper.from_array(v, k)
        open(os.path.join(d, "test_data_set_0", f"input_{i}.pb"), "wb").write(t.SerializeToString())
    for i, (o, v) in enumerate(zip(s.get_outputs(), outs)):
        t = numpy_helper.from_array(v, o.name)
        open(os.path.join(d, "test_data_set_0", f"output_{i}.pb"), "wb").write(t.SerializeToString())


def conv(name, shape, m, k, s, p, g, act, rng):
    c = shape[1]
    w = (rng.standard_normal((m, c // g, k, k)) * (2.0 / (c // g * k * k)) ** 0.5).astype(np.float32)
    b = (rng.standard_normal(m) * 0.1).astype(np.float32)
    oh = (shape[2] + 2 * p - k) // s + 1
    ow = (shape[3] + 2 * p - k) // s + 1
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["y" if act is None else "t"],
                              kernel_shape=[k, k], strides=[s, s], pads=[p] * 4, group=g)]
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")]
    if act == "Relu":
        nodes.append(helper.make_node("Relu", ["t"], ["y"]))
    elif act == "Clip":
        inits += [numpy_helper.from_array(np.float32(0), "lo"), numpy_helper.from_array(np.float32(6), "hi")]
        nodes.append(helper.make_node("Clip", ["t", "lo", "hi"], ["y"]))
    elif act == "Sigmoid":
        nodes.append(helper.make_node("Sigmoid", ["t"], ["y"]))
    elif act == "Tanh":
        nodes.append(helper.make_node("Tanh", ["t"], ["y"]))
    elif act == "SiLU":
        nodes.append(helper.make_node("Sigmoid", ["t"], ["s"]))
        nodes.append(helper.make_node("Mul", ["t", "s"], ["y"]))
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [shape[0], m, oh, ow])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model, {"x": rng.standard_normal(shape).astype(np.float32)}


def bn_params(prefix, m, rng):
    """Realistic inference BatchNormalization parameters over m channels."""
    return [
        numpy_helper.from_array((1.0 + 0.1 * rng.standard_normal(m)).astype(np.float32), prefix + "_scale"),
        numpy_helper.from_array((0.1 * rng.standard_normal(m)).astype(np.float32), prefix + "_bias"),
        numpy_helper.from_array((0.1 * rng.standard_normal(m)).astype(np.float32), prefix + "_mean"),
        numpy_helper.from_array(rng.uniform(0.5, 2.0, m).astype(np.float32), prefix + "_var"),
    ]


def conv_bn_relu(i, x, c, m, k, s, p, rng):
    """Conv (no bias, as torchvision's resnets) -> BatchNormalization (eps 1e-5) -> Relu."""
    w = (rng.standard_normal((m, c, k, k)) * (2.0 / (c * k * k)) ** 0.5).astype(np.float32)
    inits = [numpy_helper.from_array(w, f"w{i}")] + bn_params(f"bn{i}", m, rng)
    nodes = [
        helper.make_node("Conv", [x, f"w{i}"], [f"c{i}"], kernel_shape=[k, k], strides=[s, s], pads=[p] * 4),
        helper.make_node("BatchNormalization", [f"c{i}"] + [f"bn{i}_{q}" for q in ("scale", "bias", "mean", "var")],
                         [f"n{i}"], epsilon=1e-5),
        helper.make_node("Relu", [f"n{i}"], [f"r{i}"]),
    ]
    return nodes, inits, f"r{i}"


def bn_model(name, layers, shape, rng):
    """A chain of conv_bn_relu layers (c, m, k, s, p), "pool" a resnet MaxPool 3x3 s2."""
    nodes, inits, x = [], [], "x"
    for i, l in enumerate(layers):
        if l == "pool":
            nodes.append(helper.make_node("MaxPool", [x], ["p"], kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4))
            x = "p"
            continue
        n, t, x = conv_bn_relu(i, x, *l, rng)
        nodes += n
        inits += t
    nodes[-1].output[0] = "y"
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model, {"x": rng.standard_normal(shape).astype(np.float32)}


# name: (layers, input NCHW)
BN_MODELS = {
    # resnet18's layer1 convolution with its BatchNormalization and Relu.
    "r18_l1_bn": ([(64, 64, 3, 1, 1)], (1, 64, 56, 56)),
    # resnet18's stem (conv1 7x7 s2 + BN + Relu, MaxPool) then 4 x [3x3 conv + BN + Relu]
    # at 64 x 56 x 56 (layer1 without its residual Adds).
    "bn_stack": ([(3, 64, 7, 2, 3), "pool"] + [(64, 64, 3, 1, 1)] * 4, (1, 3, 224, 224)),
}


def gemm(n, rng):
    b = (rng.standard_normal((n, n)) / n ** 0.5).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["y"])], "gemm",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])],
        [numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model, {"a": rng.standard_normal((n, n)).astype(np.float32)}


def feed_forward(name, tokens, d, hidden, gelu, rng):
    """x[tokens, d] @ W[d, hidden] + b, then GELU: x/2 (1 + erf(x/sqrt 2)) or the tanh form
    x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    w = (rng.standard_normal((d, hidden)) / d ** 0.5).astype(np.float32)
    b = (rng.standard_normal(hidden) * 0.1).astype(np.float32)
    c = lambda n, v: numpy_helper.from_array(np.float32(v), n)
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b"),
             c("half", 0.5), c("one", 1.0)]
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]),
             helper.make_node("Add", ["m", "b"], ["h"])]
    if gelu == "erf":
        inits.append(c("sqrt2", 2.0 ** 0.5))
        nodes += [helper.make_node("Div", ["h", "sqrt2"], ["u"]),
                  helper.make_node("Erf", ["u"], ["e"])]
    else:
        inits += [c("k", 0.044715), c("s", (2.0 / np.pi) ** 0.5), c("three", 3.0)]
        nodes += [helper.make_node("Pow", ["h", "three"], ["h3"]),
                  helper.make_node("Mul", ["h3", "k"], ["kh3"]),
                  helper.make_node("Add", ["h", "kh3"], ["in"]),
                  helper.make_node("Mul", ["in", "s"], ["u"]),
                  helper.make_node("Tanh", ["u"], ["e"])]
    nodes += [helper.make_node("Add", ["e", "one"], ["e1"]),
              helper.make_node("Mul", ["h", "e1"], ["he"]),
              helper.make_node("Mul", ["he", "half"], ["y"])]
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [tokens, d])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [tokens, hidden])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model, {"x": rng.standard_normal((tokens, d)).astype(np.float32)}


def main():
    out = sys.argv[1]
    only = set(sys.argv[2:])
    known = set(CONVS) | set(BN_MODELS) | set(LATER_CONVS) | set(ACTS) | {"gemm512"}
    if only - known:
        sys.exit(f"unknown model(s): {', '.join(sorted(only - known))} (known: {', '.join(sorted(known))})")

    def put(name, model, feeds):
        if not only or name in only:
            save(os.path.join(out, name), model, feeds)

    rng = np.random.default_rng(0)
    for name, spec in CONVS.items():
        put(name, *conv(name, *spec, rng))
    put("gemm512", *gemm(512, rng))
    rng = np.random.default_rng(1)
    for name, (layers, shape) in BN_MODELS.items():
        put(name, *bn_model(name, layers, shape, rng))
    rng = np.random.default_rng(2)
    for name, spec in LATER_CONVS.items():
        put(name, *conv(name, *spec, rng))
    rng = np.random.default_rng(3)
    put("pw_tanh", *conv("pw_tanh", (1, 32, 112, 112), 32, 1, 1, 0, 1, "Tanh", rng))
    put("pw_silu", *conv("pw_silu", (1, 32, 112, 112), 32, 1, 1, 0, 1, "SiLU", rng))
    put("ff_gelu", *feed_forward("ff_gelu", 128, 256, 1024, "erf", rng))
    put("ff_gelu_tanh", *feed_forward("ff_gelu_tanh", 128, 256, 1024, "tanh", rng))


if __name__ == "__main__":
    main()
