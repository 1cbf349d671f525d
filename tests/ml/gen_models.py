#!/usr/bin/env python3
"""Kiln's own ai.onnx.ml test models (issue 4, item 4).

Usage: gen_models.py OUT_DIR LARGE_DIR COVERAGE_MD

Trains small models on scikit-learn's bundled data sets (iris, wine, breast_cancer, diabetes)
and synthetic data, exports them with skl2onnx / onnxmltools, and adds onnx.helper graphs for
what no converter emits (CastMap, DictVectorizer maps, FeatureVectorizer, TreeEnsemble ml
opset 5 with every branch mode including BRANCH_MEMBER, every post_transform, aggregate
function, missing-value tracking, ...). Every case is written in the ONNX backend-test layout
(OUT_DIR/<case>/model.onnx, test_data_set_0/input_<i>.pb, output_<i>.pb) with reference outputs
from the pinned onnxruntime (1 thread). LARGE_DIR gets a 500-tree, depth-8 random forest.
COVERAGE_MD gets the coverage table (op x opset x variant -> cases), computed from the saved
models; the script fails if a required coverage item is not hit by any case.

Versions are pinned in scripts/requirements-ml.txt; the models are deterministic for them
(fixed seeds), and scripts/ml-models.sh regenerates them when the pins or this file change.

Known problems worked around here (each is also noted where it is handled):
- onnxruntime swaps post_transform codes 1 (SOFTMAX) and 2 (LOGISTIC) of TreeEnsemble
  (ml opset 5) (microsoft/onnxruntime#26596): the references of TreeEnsemble cases with those
  post transforms come from an equivalent TreeEnsembleRegressor graph (same trees, BRANCH_MEMBER
  expanded into chains of BRANCH_EQ), run by onnxruntime. Every TreeEnsemble case is also
  checked against its TreeEnsembleRegressor twin with post_transform NONE, so the twin builder
  itself is verified.
- onnxruntime computes PROBIT with Winitzki's approximation of erfinv (relative error ~2e-3);
  Kiln is more precise, so PROBIT cases carry a wider tolerance in tests/ml/manifest.txt.
- skl2onnx: see the comments at `skl()` (options are keyed by the estimator's id, ZipMap is
  switched off explicitly where a plain probability tensor is wanted).
"""
import os
import shutil
import sys
import warnings

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper as h
from onnx import numpy_helper as nh
import onnxruntime as ort

warnings.filterwarnings("ignore")

OUT, LARGE, DOC = sys.argv[1], sys.argv[2], sys.argv[3]
ONNX_OPSET = 17
rng = np.random.default_rng(20261204)
ref_notes = {}  # case -> how its reference was computed, when not by running model.onnx


def session(model):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def to_proto(v, name):
    if isinstance(v, np.ndarray):
        return nh.from_array(v, name)
    if isinstance(v, dict):
        return to_map(v, name)
    if isinstance(v, list):
        seq = onnx.SequenceProto(name=name, elem_type=onnx.SequenceProto.MAP)
        seq.map_values.extend([to_map(m) for m in v])
        return seq
    raise TypeError(f"{name}: cannot serialize {type(v)}")


def to_map(m, name=None):
    """A MapProto as onnx's from_dict writes it (one scalar tensor per key in `values`), which
    from_dict itself cannot do for string keys."""
    keys = list(m.keys())
    string_keys = isinstance(keys[0], str)
    mp = onnx.MapProto(key_type=TP.STRING if string_keys else TP.INT64)
    if name:
        mp.name = name
    if string_keys:
        mp.string_keys.extend([k.encode() for k in keys])
    else:
        mp.keys.extend([int(k) for k in keys])
    vals = []
    for k in keys:
        v = m[k]
        vals.append(nh.from_array(np.array(v, dtype=object) if isinstance(v, str) else np.array(v)))
    mp.values.CopyFrom(h.make_sequence("", onnx.SequenceProto.TENSOR, vals))
    return mp


def ort_out(v):
    """onnxruntime's result as something `to_proto` writes (ZipMap gives a list of dicts)."""
    if isinstance(v, list):
        out = []
        for m in v:
            keys = list(m.keys())
            out.append({k: np.float32(m[k]) for k in keys})
        return out
    return np.asarray(v)


def save(name, model, feeds, ref_model=None, note=None, out_dir=None):
    """Write one case; `feeds` are the inputs in graph-input order."""
    model.ir_version = min(model.ir_version or 8, 10)
    onnx.checker.check_model(model)
    d = os.path.join(out_dir or OUT, name)
    if os.path.exists(d):
        raise SystemExit(f"case {name} generated twice")
    try:
        sess = session(ref_model or model)
    except Exception as e:
        raise SystemExit(f"{name}: onnxruntime cannot load the model: {e}")
    names = [i.name for i in model.graph.input]
    assert len(names) == len(feeds), name
    res = sess.run(None, dict(zip(names, feeds)))
    os.makedirs(d + "/test_data_set_0")
    onnx.save(model, d + "/model.onnx")
    for i, (n, v) in enumerate(zip(names, feeds)):
        with open(f"{d}/test_data_set_0/input_{i}.pb", "wb") as f:
            f.write(to_proto(v, n).SerializeToString())
    for i, (o, v) in enumerate(zip(model.graph.output, res)):
        with open(f"{d}/test_data_set_0/output_{i}.pb", "wb") as f:
            f.write(to_proto(ort_out(v), o.name).SerializeToString())
    if note:
        ref_notes[name] = note
    return res


def graph1(name, op, attrs, inputs, outputs, ml_opset=3, nodes_before=(), extra_inputs=()):
    """A one-node ai.onnx.ml graph. inputs/outputs: (name, elem type or type proto, shape)."""

    def vi(n, t, shape):
        if isinstance(t, onnx.TypeProto):
            return h.make_value_info(n, t)
        return h.make_tensor_value_info(n, t, shape)

    node = h.make_node(op, [i[0] for i in inputs], [o[0] for o in outputs], domain="ai.onnx.ml", **attrs)
    g = h.make_graph(list(nodes_before) + [node], name, [vi(*i) for i in inputs], [vi(*o) for o in outputs])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", ONNX_OPSET), h.make_opsetid("ai.onnx.ml", ml_opset)])
    m.ir_version = 8 if ml_opset < 4 else 9
    return m


def f32(a):
    return np.ascontiguousarray(a, dtype=np.float32)


# ---------------------------------------------------------------------------------------------
# Data sets
from sklearn import datasets  # noqa: E402

iris = datasets.load_iris()
wine = datasets.load_wine()
bc = datasets.load_breast_cancer()
diab = datasets.load_diabetes()
Xs, ys = datasets.make_classification(n_samples=300, n_features=8, n_informative=5, n_classes=4, random_state=1)
Xr, yr = datasets.make_regression(n_samples=300, n_features=6, n_targets=3, noise=0.5, random_state=2)


def rows(X, n=16):
    """Test rows: spread over the data set (every k-th row), float32."""
    idx = np.linspace(0, len(X) - 1, n).astype(int)
    return f32(X[idx])


# ---------------------------------------------------------------------------------------------
# Converter-exported models
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import (  # noqa: E402
    StandardScaler, MinMaxScaler, Normalizer, Binarizer, OneHotEncoder, LabelEncoder, MaxAbsScaler)
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.linear_model import LogisticRegression, LinearRegression, Ridge, SGDClassifier  # noqa: E402
from sklearn.svm import SVC, SVR, OneClassSVM, LinearSVC, NuSVR  # noqa: E402
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor  # noqa: E402
from sklearn.ensemble import (  # noqa: E402
    RandomForestClassifier, RandomForestRegressor, ExtraTreesClassifier, GradientBoostingClassifier,
    GradientBoostingRegressor, HistGradientBoostingClassifier, HistGradientBoostingRegressor)
from sklearn.feature_extraction import DictVectorizer  # noqa: E402
from sklearn.base import is_classifier  # noqa: E402
from skl2onnx import to_onnx  # noqa: E402
from skl2onnx.common.data_types import (  # noqa: E402
    FloatTensorType, DoubleTensorType, Int64TensorType, StringTensorType, DictionaryType)


def skl(name, est, X, Xtest=None, ml_opset=3, zipmap=False, dtype=np.float32, options=None):
    """Export a fitted scikit-learn estimator with skl2onnx and save it with test rows.

    skl2onnx notes: options are keyed by id() of the estimator they apply to (keying by the
    class also matches estimators inside a pipeline of the same class); classifiers get a ZipMap
    unless `zipmap` is False; `to_onnx` infers the input type from the sample's dtype, so the
    sample is cast to `dtype` first."""
    X = np.asarray(X)
    Xtest = rows(X) if Xtest is None else Xtest
    Xtest = Xtest.astype(dtype)
    last = est.steps[-1][1] if hasattr(est, "steps") else est
    opts = dict(options or {})
    if is_classifier(last) and not isinstance(last, LinearSVC):
        # LinearSVC rejects the zipmap option (and never adds a ZipMap); SVC without
        # probabilities takes it and adds a ZipMap over its scores unless told not to.
        opts.setdefault("zipmap", zipmap)
    tops = {"": ONNX_OPSET, "ai.onnx.ml": ml_opset}
    onx = to_onnx(est, Xtest[:1], target_opset=tops, options={id(last): opts} if opts else None)
    save(name, onx, [Xtest])


Xi, yi = iris.data, iris.target
Xw, yw = wine.data, wine.target
Xb, yb = bc.data, bc.target
Xd, yd = diab.data, diab.target
names_i = iris.target_names[yi]  # string labels

# Linear models
skl("skl_logreg_iris", make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(Xi, yi), Xi)
skl("skl_logreg_bc_binary", make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(Xb, yb), Xb)
skl("skl_logreg_iris_strlabels", LogisticRegression(max_iter=500).fit(Xi, names_i), Xi)
skl("skl_logreg_iris_zipmap", LogisticRegression(max_iter=500).fit(Xi, yi), Xi, zipmap=True)
skl("skl_logreg_iris_strlabels_zipmap", LogisticRegression(max_iter=500).fit(Xi, names_i), Xi, zipmap=True)
# skl2onnx 1.20 bug: a LinearSVC inside a Pipeline fails to convert ("Option 'zipmap' not in
# [...] for class 'LinearSVC'") even without options; converted on its own it works.
Xws = StandardScaler().fit_transform(Xw)
skl("skl_linearsvc_wine", LinearSVC().fit(Xws, yw), Xws)
skl("skl_sgd_synth", SGDClassifier(loss="log_loss", random_state=0).fit(Xs, ys), Xs)
skl("skl_linreg_diabetes", LinearRegression().fit(Xd, yd), Xd)
skl("skl_ridge_synth_3targets", Ridge().fit(Xr, yr), Xr)
skl("skl_linreg_diabetes_double", LinearRegression().fit(Xd, yd), Xd, dtype=np.float64)

# SVMs (every kernel; probabilities from Platt scaling)
Xis = StandardScaler().fit_transform(Xi)
Xbs = StandardScaler().fit_transform(Xb)
Xds = StandardScaler().fit_transform(Xd)
for k in ["linear", "poly", "rbf", "sigmoid"]:
    skl(f"skl_svc_{k}_iris_proba", SVC(kernel=k, probability=True, random_state=0).fit(Xis, yi), Xis)
    skl(f"skl_svc_{k}_bc", SVC(kernel=k).fit(Xbs, yb), Xbs)
    skl(f"skl_svr_{k}_diabetes", SVR(kernel=k, C=50.0).fit(Xds, yd), Xds)
skl("skl_svc_rbf_wine_strlabels_proba",
    SVC(probability=True, random_state=0).fit(StandardScaler().fit_transform(Xw), wine.target_names[yw]),
    StandardScaler().fit_transform(Xw))
skl("skl_nusvr_diabetes", NuSVR().fit(Xds, yd), Xds)
skl("skl_oneclasssvm_iris", OneClassSVM(gamma=0.5).fit(Xis), Xis)

# Trees
skl("skl_dtree_clf_iris", DecisionTreeClassifier(max_depth=4, random_state=0).fit(Xi, yi), Xi)
skl("skl_dtree_clf_iris_ml1", DecisionTreeClassifier(max_depth=4, random_state=0).fit(Xi, yi), Xi, ml_opset=1)
skl("skl_rf_clf_wine", RandomForestClassifier(n_estimators=10, max_depth=5, random_state=0).fit(Xw, yw), Xw)
skl("skl_rf_clf_iris_strlabels", RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0).fit(Xi, names_i), Xi)
skl("skl_rf_clf_iris_zipmap", RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0).fit(Xi, yi), Xi,
    zipmap=True)
skl("skl_extratrees_clf_bc", ExtraTreesClassifier(n_estimators=8, max_depth=6, random_state=0).fit(Xb, yb), Xb)
skl("skl_gb_clf_bc_binary", GradientBoostingClassifier(n_estimators=10, max_depth=3, random_state=0).fit(Xb, yb), Xb)
skl("skl_gb_clf_iris", GradientBoostingClassifier(n_estimators=10, max_depth=3, random_state=0).fit(Xi, yi), Xi)
skl("skl_dtree_reg_diabetes", DecisionTreeRegressor(max_depth=5, random_state=0).fit(Xd, yd), Xd)
skl("skl_rf_reg_diabetes", RandomForestRegressor(n_estimators=10, max_depth=5, random_state=0).fit(Xd, yd), Xd)


def as_tensor_v3(onx):
    """The float tree ensemble of `onx` rewritten for double input with the ml opset 3
    `*_as_tensor` attributes (double thresholds and weights).

    skl2onnx 1.20 bug: for double input it emits TreeEnsembleRegressor with float attributes and
    a double output under ai.onnx.ml opset 1, while the op's output is always float, so
    onnxruntime rejects it ("Type (tensor(double)) of output arg ... does not match expected
    type (tensor(float))")."""
    m = onnx.ModelProto()
    m.CopyFrom(onx)
    for n in m.graph.node:
        if n.domain != "ai.onnx.ml":
            continue
        attrs = []
        for a in n.attribute:
            if a.name in ("nodes_values", "target_weights", "class_weights", "base_values"):
                t = nh.from_array(np.array(a.floats, dtype=np.float64))
                attrs.append(h.make_attribute(a.name + "_as_tensor", t))
            else:
                attrs.append(a)
        del n.attribute[:]
        n.attribute.extend(attrs)
    m.graph.input[0].type.tensor_type.elem_type = TP.DOUBLE
    for o in m.opset_import:
        if o.domain == "ai.onnx.ml":
            o.version = 3
    return m


for nm, est, clf, X, y in [
        ("skl_rf_reg_diabetes_double", RandomForestRegressor(n_estimators=5, max_depth=4, random_state=0), False, Xd, yd),
        ("skl_rf_clf_wine_double", RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0), True, Xw, yw)]:
    est.fit(X, y)
    opts = {id(est): {"zipmap": False}} if clf else None
    onx = to_onnx(est, rows(X)[:1], target_opset={"": ONNX_OPSET, "ai.onnx.ml": 3}, options=opts)
    save(nm, as_tensor_v3(onx), [rows(X).astype(np.float64)])
skl("skl_rf_reg_synth_3targets", RandomForestRegressor(n_estimators=5, max_depth=4, random_state=0).fit(Xr, yr), Xr)
skl("skl_gb_reg_diabetes", GradientBoostingRegressor(n_estimators=20, max_depth=3, random_state=0).fit(Xd, yd), Xd)
# Missing values: HistGradientBoosting learns which side NaN goes (missing-value tracking).
# skl2onnx 1.20 bug: it passes nodes_missing_value_tracks_true as numpy booleans, which onnx's
# make_attribute rejects ("Field onnx.AttributeProto.ints: Expected an int, got a boolean");
# wrap make_attribute (which make_node calls) to turn them into ints.
_make_attribute = h.make_attribute


def _make_attribute_bools_as_ints(key, value, *args, **kw):
    if isinstance(value, (list, tuple)) and any(isinstance(v, (bool, np.bool_)) for v in value):
        value = [int(v) for v in value]
    return _make_attribute(key, value, *args, **kw)


h.make_attribute = _make_attribute_bools_as_ints
Xw_nan = Xw.copy()
Xw_nan[rng.random(Xw.shape) < 0.2] = np.nan
Xd_nan = Xd.copy()
Xd_nan[rng.random(Xd.shape) < 0.2] = np.nan
skl("skl_hgb_clf_wine_nan", HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(Xw_nan, yw), Xw_nan)
skl("skl_hgb_reg_diabetes_nan", HistGradientBoostingRegressor(max_iter=10, random_state=0).fit(Xd_nan, yd), Xd_nan)

# Preprocessing
skl("skl_standardscaler_wine", StandardScaler().fit(Xw), Xw)
skl("skl_minmaxscaler_diabetes", MinMaxScaler().fit(Xd), Xd)
skl("skl_maxabsscaler_bc", MaxAbsScaler().fit(Xb), Xb)
for norm in ["l1", "l2", "max"]:
    skl(f"skl_normalizer_{norm}_iris", Normalizer(norm=norm).fit(Xi), Xi)
skl("skl_binarizer_iris", Binarizer(threshold=3.0).fit(Xi), Xi)
skl("skl_imputer_mean_wine", SimpleImputer(strategy="mean").fit(Xw_nan), Xw_nan)
skl("skl_imputer_const_diabetes", SimpleImputer(strategy="constant", fill_value=-1.0).fit(Xd_nan), Xd_nan)
Xcat = rng.integers(0, 4, size=(40, 3)).astype(np.int64)
skl("skl_onehot_int64", OneHotEncoder(handle_unknown="ignore").fit(Xcat), Xcat, dtype=np.int64)
Xcat_s = np.array([["red", "green", "blue", "cyan"][v] for v in rng.integers(0, 4, 40 * 2)]).reshape(40, 2)
skl("skl_onehot_strings", OneHotEncoder(handle_unknown="ignore").fit(Xcat_s), Xcat_s, Xtest=Xcat_s[:10], dtype=object)
# LabelEncoder: skl2onnx wants an explicit 1-D input type.
le = LabelEncoder().fit(names_i)
save("skl_labelencoder_strings",
     to_onnx(le, initial_types=[("X", StringTensorType([None]))], target_opset={"": ONNX_OPSET, "ai.onnx.ml": 2}),
     [np.array(["virginica", "setosa", "versicolor", "setosa"], dtype=object)])
# DictVectorizer: skl2onnx declares the input as a map(string, float).
dv_rows = [{"a": 1.0, "b": 2.5}, {"b": -1.0, "c": 4.0}, {"a": 0.5, "c": 3.0}]
dv = DictVectorizer(sparse=False).fit(dv_rows)
save("skl_dictvectorizer_str_float",
     to_onnx(dv, initial_types=[("X", DictionaryType(StringTensorType([]), FloatTensorType([])))],
             target_opset={"": ONNX_OPSET, "ai.onnx.ml": 1}),
     [{"a": np.float32(2.0), "c": np.float32(-1.5)}])

# LightGBM and XGBoost through onnxmltools
import lightgbm  # noqa: E402
import xgboost  # noqa: E402
import onnxmltools  # noqa: E402
from onnxmltools.convert.common.data_types import FloatTensorType as MFloat  # noqa: E402


def mlt(name, model, X, conv, **kw):
    Xt = rows(X)
    # onnxmltools 1.16 converts for ONNX opsets up to 15 only.
    onx = conv(model, initial_types=[("X", MFloat([None, X.shape[1]]))], target_opset=15, **kw)
    save(name, onx, [Xt])


lgb_kw = dict(n_estimators=10, num_leaves=8, random_state=0, verbose=-1)
mlt("lgbm_clf_iris", lightgbm.LGBMClassifier(**lgb_kw).fit(Xi, yi), Xi, onnxmltools.convert_lightgbm, zipmap=False)
mlt("lgbm_clf_iris_zipmap", lightgbm.LGBMClassifier(**lgb_kw).fit(Xi, yi), Xi, onnxmltools.convert_lightgbm)
mlt("lgbm_clf_bc_binary", lightgbm.LGBMClassifier(**lgb_kw).fit(Xb, yb), Xb, onnxmltools.convert_lightgbm,
    zipmap=False)
mlt("lgbm_reg_diabetes", lightgbm.LGBMRegressor(**lgb_kw).fit(Xd, yd), Xd, onnxmltools.convert_lightgbm)
xgb_kw = dict(n_estimators=10, max_depth=3, random_state=0)
mlt("xgb_clf_iris", xgboost.XGBClassifier(**xgb_kw).fit(Xi, yi), Xi, onnxmltools.convert_xgboost)
mlt("xgb_clf_bc_binary", xgboost.XGBClassifier(**xgb_kw).fit(Xb, yb), Xb, onnxmltools.convert_xgboost)
mlt("xgb_reg_diabetes", xgboost.XGBRegressor(**xgb_kw).fit(Xd, yd), Xd, onnxmltools.convert_xgboost)
