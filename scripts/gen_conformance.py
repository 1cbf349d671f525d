#!/usr/bin/env python3
"""Writes the ONNX backend node test cases into a cache folder, in the backend-test layout
(node/<case>/model.onnx + test_data_set_N/{input,output}_M.pb), plus the data cases the wheel
ships (simple, pytorch-converted, pytorch-operator).

From onnx 1.23 the wheel ships the case definitions, not their data: each case from
onnx.backend.test.case.node.collect_testcases() has .name, .model and .data_sets.

Usage: gen_conformance.py OUT_DIR
"""
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.backend.test.case.node import collect_testcases
from onnx.backend.test.loader import load_model_tests


def to_proto(value, name):
    if isinstance(value, onnx.TensorProto):
        t = onnx.TensorProto()
        t.CopyFrom(value)
        t.name = name
        return t
    if isinstance(value, (list, tuple)):
        return numpy_helper.from_list(list(value), name)
    if isinstance(value, dict):
        return numpy_helper.from_dict(value, name)
    if value is None:
        return numpy_helper.from_optional(None, name)
    if isinstance(value, np.ndarray) or np.isscalar(value):
        return numpy_helper.from_array(np.asarray(value), name)
    return numpy_helper.from_optional(value, name)


def write_node_cases(out):
    n = 0
    for case in collect_testcases():
        d = os.path.join(out, "node", case.name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "model.onnx"), "wb") as f:
            f.write(case.model.SerializeToString(deterministic=True))
        for k, (inputs, outputs) in enumerate(case.data_sets):
            ds = os.path.join(d, f"test_data_set_{k}")
            os.makedirs(ds, exist_ok=True)
            for i, v in enumerate(inputs):
                name = case.model.graph.input[i].name if i < len(case.model.graph.input) else ""
                with open(os.path.join(ds, f"input_{i}.pb"), "wb") as f:
                    f.write(to_proto(v, name).SerializeToString(deterministic=True))
            for i, v in enumerate(outputs):
                name = case.model.graph.output[i].name if i < len(case.model.graph.output) else ""
                with open(os.path.join(ds, f"output_{i}.pb"), "wb") as f:
                    f.write(to_proto(v, name).SerializeToString(deterministic=True))
        n += 1
    return n


def copy_data_cases(out):
    n = 0
    for kind in ["simple", "pytorch-converted", "pytorch-operator"]:
        for t in load_model_tests(kind=kind):
            src = t.model_dir
            dst = os.path.join(out, kind, t.name)
            if os.path.isdir(dst):
                shutil.rmtree(dst)
            shutil.copytree(src, dst)
            n += 1
    return n


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    a = write_node_cases(out)
    b = copy_data_cases(out)
    with open(os.path.join(out, "VERSION"), "w") as f:
        f.write(f"onnx {onnx.__version__}\n")
    print(f"wrote {a} node cases and {b} data cases into {out}")


if __name__ == "__main__":
    main()
