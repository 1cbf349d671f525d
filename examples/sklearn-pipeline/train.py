"""Trains the example's scikit-learn pipeline and exports it to ONNX.

StandardScaler + LogisticRegression on iris, with the class names ("setosa", ...) as labels,
exported by skl2onnx with its ZipMap output (a map from class name to probability per row).
Writes model.onnx and expected.txt (a few rows: the 4 features, sklearn's predicted label and
its class probabilities in the model's class order) beside this file; main.rs checks Kiln's
compiled model against them.

    python3 -m venv venv && venv/bin/pip install -r requirements.txt
    venv/bin/python train.py
"""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from skl2onnx import to_onnx

HERE = Path(__file__).resolve().parent
ROWS = [0, 25, 50, 70, 83, 100, 119, 133, 138, 149]


def main():
    iris = load_iris()
    x = iris.data.astype(np.float32)
    y = iris.target_names[iris.target]
    pipe = Pipeline(
        [("scaler", StandardScaler()), ("clf", LogisticRegression(max_iter=1000))]
    )
    pipe.fit(x, y)
    onx = to_onnx(
        pipe,
        x[:1],
        target_opset={"": 17, "ai.onnx.ml": 3},
        options={id(pipe.steps[-1][1]): {"zipmap": True}},
    )
    onx.doc_string = "iris: StandardScaler + LogisticRegression (scikit-learn), see train.py"
    (HERE / "model.onnx").write_bytes(onx.SerializeToString())

    rows = x[ROWS]
    labels = pipe.predict(rows)
    probs = pipe.predict_proba(rows)
    lines = [
        "# features (4), sklearn's predicted label, probabilities of: "
        + " ".join(pipe.classes_)
    ]
    for r, lab, p in zip(rows, labels, probs):
        feats = " ".join(repr(float(v)) for v in r)
        ps = " ".join(repr(float(v)) for v in p)
        lines.append(f"{feats} {lab} {ps}")
    (HERE / "expected.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
