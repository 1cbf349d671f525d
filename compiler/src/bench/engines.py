"""Benchmark engine for `kiln bench`: onnxruntime or tract, driven over stdin/stdout.

Usage: engines.py ort|tract MODEL.onnx INPUT.npy...

Loads the model, runs it once and prints `ready REPS` (REPS: calls per timed sample, so that
a sample lasts about 20 us), or `error: MESSAGE` and exits 0. Then, for every line `MS` on
stdin, runs for MS milliseconds and prints one line of samples (nanoseconds per call, the
mean over REPS back-to-back calls). onnxruntime runs with one intra-op and one inter-op
thread, sequential execution, all graph optimisations.
"""

import os
import sys
import time

import numpy as np


def main():
    engine, model = sys.argv[1], sys.argv[2]
    xs = [np.load(p) for p in sys.argv[3:]]
    try:
        if engine == "ort":
            import onnxruntime as ort

            so = ort.SessionOptions()
            so.intra_op_num_threads = int(os.environ.get("KILN_BENCH_THREADS", "1"))
            so.inter_op_num_threads = 1
            so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
            feed = {i.name: x for i, x in zip(sess.get_inputs(), xs)}

            def run():
                sess.run(None, feed)

        elif engine == "tract":
            import tract

            m = tract.onnx().load(model)
            names = {
                np.dtype("float32"): "f32",
                np.dtype("float64"): "f64",
                np.dtype("int64"): "i64",
                np.dtype("int32"): "i32",
                np.dtype("uint8"): "u8",
                np.dtype("bool"): "bool",
            }
            for k, x in enumerate(xs):
                dims = ",".join(str(d) for d in x.shape)
                fact = f"{dims},{names[x.dtype]}" if dims else names[x.dtype]
                m.set_input_fact(k, fact)
            # into_runnable optimises the typed model for the CPU runtime.
            r = m.into_model().into_runnable()

            def run():
                r.run(xs)

        else:
            raise ValueError(f"unknown engine {engine}")
        run()
    except Exception as e:  # noqa: BLE001 - any failure to load or run is reported
        msg = (str(e).strip().splitlines() or [type(e).__name__])[0]
        print(f"error: {msg}", flush=True)
        return
    t0 = time.perf_counter_ns()
    run()
    one = max(time.perf_counter_ns() - t0, 1)
    reps = max(1, min(10000, 20000 // one))
    print(f"ready {reps}", flush=True)
    for line in sys.stdin:
        ms = float(line)
        end = time.perf_counter_ns() + int(ms * 1e6)
        out = []
        while True:
            t0 = time.perf_counter_ns()
            for _ in range(reps):
                run()
            t1 = time.perf_counter_ns()
            out.append((t1 - t0) / reps)
            if t1 >= end:
                break
        print(" ".join(f"{v:.1f}" for v in out), flush=True)


main()
