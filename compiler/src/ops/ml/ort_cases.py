# Generates ai.onnx.ml test cases (ONNX backend-test layout) with reference outputs from
# onnxruntime (pip install onnxruntime onnx), for ops/ml: python3 ort_cases.py; then
# `kiln check /tmp/mlcases/*/ --backend interp,jit`. Expected to differ (onnxruntime quirks):
# linclf2_PROBIT and tec_2_0_True_PROBIT_False (PROBIT of a single classifier score: onnxruntime
# leaves the second column unwritten and misplaces rows).
import onnx, numpy as np, os, shutil
from onnx import helper as h, TensorProto as TP, numpy_helper as nh
import onnxruntime as ort
rng = np.random.default_rng(0)
OUT = '/tmp/mlcases'

def case(name, op, attrs, x, outs, ml_opset=3, xtype=TP.FLOAT):
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True); os.makedirs(d + '/test_data_set_0')
    out_vis = [h.make_tensor_value_info(o, t, None) for o, t in outs]
    node = h.make_node(op, ['X'], [o for o, _ in outs], domain='ai.onnx.ml', **attrs)
    g = h.make_graph([node], name, [h.make_tensor_value_info('X', xtype, list(x.shape))], out_vis)
    m = h.make_model(g, opset_imports=[h.make_opsetid('', 17), h.make_opsetid('ai.onnx.ml', ml_opset)])
    m.ir_version = 8
    onnx.save(m, d + '/model.onnx')
    try:
        s = ort.InferenceSession(d + '/model.onnx', providers=['CPUExecutionProvider'])
        res = s.run(None, {'X': x})
    except Exception as e:
        print('ORT FAIL', name, str(e)[:200]); shutil.rmtree(d); return
    with open(d + '/test_data_set_0/input_0.pb', 'wb') as f:
        f.write(nh.from_array(x, 'X').SerializeToString())
    for i, (r, (o, _)) in enumerate(zip(res, outs)):
        with open(d + f'/test_data_set_0/output_{i}.pb', 'wb') as f:
            f.write(nh.from_array(np.asarray(r), o).SerializeToString())

X = rng.normal(size=(8, 3)).astype(np.float32)
cls_outs = [('Y', TP.INT64), ('Z', TP.FLOAT)]
# SVM classifier: linear mode
for post in ['NONE', 'LOGISTIC', 'SOFTMAX', 'SOFTMAX_ZERO']:
    case(f'svmc_linear3_{post}', 'SVMClassifier', dict(classlabels_ints=[4, 5, 6], coefficients=rng.normal(size=9).astype(np.float32).tolist(), rho=[0.3], kernel_params=[0.1,0.0,1.0], kernel_type='LINEAR', post_transform=post), X, cls_outs)
case('svmc_linear2', 'SVMClassifier', dict(classlabels_ints=[0, 1], coefficients=rng.normal(size=6).tolist(), rho=[0.1], kernel_params=[0.1,0.0,1.0]), X, cls_outs)
case('svmc_linear2_pos', 'SVMClassifier', dict(classlabels_ints=[0, 1], coefficients=np.abs(rng.normal(size=6)).tolist(), rho=[0.1], kernel_params=[0.1,0.0,1.0]), X, cls_outs)
# SVC
for kern in ['LINEAR', 'POLY', 'RBF', 'SIGMOID']:
    for cc in [2, 3, 4]:
        vpc = [2, 1, 3, 2][:cc]; nsv = sum(vpc)
        base = dict(classlabels_ints=list(range(10, 10 + cc)), vectors_per_class=vpc, support_vectors=rng.normal(size=nsv * 3).tolist(),
                    coefficients=rng.normal(size=(cc - 1) * nsv).tolist(), rho=rng.normal(size=cc * (cc - 1) // 2).tolist(),
                    kernel_type=kern, kernel_params=[0.4, 0.2, 3.0])
        for post in ['NONE', 'LOGISTIC']:
            case(f'svmc_svc_{kern}_{cc}_{post}', 'SVMClassifier', dict(base, post_transform=post), X, cls_outs)
        pa = rng.normal(size=cc * (cc - 1) // 2).tolist(); pb = rng.normal(size=cc * (cc - 1) // 2).tolist()
        case(f'svmc_svc_{kern}_{cc}_proba', 'SVMClassifier', dict(base, prob_a=pa, prob_b=pb), X, cls_outs)
# SVM regressor
for kern in ['LINEAR', 'POLY', 'RBF', 'SIGMOID']:
    case(f'svmr_{kern}', 'SVMRegressor', dict(n_supports=4, support_vectors=rng.normal(size=12).tolist(), coefficients=rng.normal(size=4).tolist(), rho=[0.5], kernel_type=kern, kernel_params=[0.3, 0.1, 2.0]), X, [('Y', TP.FLOAT)])
case('svmr_oneclass', 'SVMRegressor', dict(n_supports=4, support_vectors=rng.normal(size=12).tolist(), coefficients=rng.normal(size=4).tolist(), rho=[0.5], kernel_type='RBF', kernel_params=[0.3, 0.1, 2.0], one_class=1), X, [('Y', TP.FLOAT)])
case('svmr_linear', 'SVMRegressor', dict(coefficients=rng.normal(size=3).tolist(), rho=[0.5], kernel_params=[0.1,0.0,1.0]), X, [('Y', TP.FLOAT)])
# Linear
for post in ['NONE', 'LOGISTIC', 'SOFTMAX', 'SOFTMAX_ZERO', 'PROBIT']:
    case(f'linreg2_{post}', 'LinearRegressor', dict(coefficients=rng.normal(size=6).tolist(), intercepts=[0.1, -0.2], targets=2, post_transform=post), X * 0.1, [('Y', TP.FLOAT)])
    case(f'linclf2_{post}', 'LinearClassifier', dict(coefficients=rng.normal(size=3).tolist(), intercepts=[0.1], classlabels_ints=[3, 9], post_transform=post), X * 0.1, cls_outs)
    case(f'linclf3_{post}', 'LinearClassifier', dict(coefficients=rng.normal(size=9).tolist(), intercepts=[0.1, 0.2, 0.0], classlabels_ints=[3, 9, 11], post_transform=post), X * 0.1, cls_outs)
case('linreg1_probit', 'LinearRegressor', dict(coefficients=(rng.normal(size=3) * 0.1).tolist(), intercepts=[0.5], post_transform='PROBIT'), X, [('Y', TP.FLOAT)])
case('linclf_1d', 'LinearClassifier', dict(coefficients=rng.normal(size=9).tolist(), intercepts=[0.1, 0.2, 0.0], classlabels_ints=[3, 9, 11]), X[0], cls_outs)
case('linclf_double', 'LinearClassifier', dict(coefficients=rng.normal(size=9).tolist(), intercepts=[0.1, 0.2, 0.0], classlabels_ints=[3, 9, 11]), X.astype(np.float64), cls_outs, xtype=TP.DOUBLE)
# Preprocess
Xz = X.copy(); Xz[2] = 0
for norm in ['MAX', 'L1', 'L2']:
    case(f'normalizer_{norm}', 'Normalizer', dict(norm=norm), Xz, [('Y', TP.FLOAT)])
case('scaler', 'Scaler', dict(offset=[0.1, 0.2, 0.3], scale=[2.0, 3.0, 0.5]), X, [('Y', TP.FLOAT)])
case('scaler1', 'Scaler', dict(offset=[0.1], scale=[2.0]), X, [('Y', TP.FLOAT)])
Xn = X.copy(); Xn[1, 1] = np.nan; Xn[3, 0] = np.nan
case('imputer', 'Imputer', dict(imputed_value_floats=[1.0, 2.0, 3.0], replaced_value_float=float('nan')), Xn, [('Y', TP.FLOAT)])
case('onehot', 'OneHotEncoder', dict(cats_int64s=[1, 3, 5]), np.array([[1, 2], [5, 3]], dtype=np.int64), [('Y', TP.FLOAT)], xtype=TP.INT64)
case('binarizer_i', 'Binarizer', dict(threshold=0.5), X, [('Y', TP.FLOAT)])

# Trees: random forests of depth 3 over 3 features.
def tree_nodes(ntrees, modes=('BRANCH_LEQ',), missing=False):
    A = dict(nodes_treeids=[], nodes_nodeids=[], nodes_featureids=[], nodes_modes=[], nodes_values=[], nodes_truenodeids=[], nodes_falsenodeids=[], nodes_missing_value_tracks_true=[])
    leaves = []
    for t in range(ntrees):
        # full binary tree depth 2: nodes 0..6, leaves 3..6
        for n in range(7):
            A['nodes_treeids'].append(t); A['nodes_nodeids'].append(n)
            if n < 3:
                A['nodes_featureids'].append(int(rng.integers(0, 3))); A['nodes_modes'].append(str(rng.choice(modes)))
                A['nodes_values'].append(float(rng.normal())); A['nodes_truenodeids'].append(2 * n + 1); A['nodes_falsenodeids'].append(2 * n + 2)
            else:
                A['nodes_featureids'].append(0); A['nodes_modes'].append('LEAF'); A['nodes_values'].append(0.0)
                A['nodes_truenodeids'].append(0); A['nodes_falsenodeids'].append(0); leaves.append((t, n))
            A['nodes_missing_value_tracks_true'].append(int(missing and rng.integers(0, 2)))
    return A, leaves

Xm = X.copy(); Xm[0, :] = np.nan; Xm[4, 1] = np.nan
allmodes = ('BRANCH_LEQ', 'BRANCH_LT', 'BRANCH_GTE', 'BRANCH_GT', 'BRANCH_EQ', 'BRANCH_NEQ')
for agg in ['SUM', 'AVERAGE', 'MIN', 'MAX']:
    for nt in [1, 3]:
        for base in [None, 'b']:
            A, leaves = tree_nodes(4, allmodes, missing=True)
            tw = dict(target_treeids=[], target_nodeids=[], target_ids=[], target_weights=[])
            for (t, n) in leaves:
                for k in range(nt):
                    if rng.random() < 0.7:
                        tw['target_treeids'].append(t); tw['target_nodeids'].append(n); tw['target_ids'].append(k); tw['target_weights'].append(float(rng.normal()))
            attrs = dict(A, **tw, n_targets=nt, aggregate_function=agg)
            if base: attrs['base_values'] = rng.normal(size=nt).tolist()
            case(f'ter_{agg}_{nt}_{base}', 'TreeEnsembleRegressor', attrs, Xm, [('Y', TP.FLOAT)])
for post in ['LOGISTIC', 'SOFTMAX', 'PROBIT', 'SOFTMAX_ZERO']:
    A, leaves = tree_nodes(3)
    tw = dict(target_treeids=[t for t, n in leaves for k in range(2)], target_nodeids=[n for t, n in leaves for k in range(2)], target_ids=[k for t, n in leaves for k in range(2)], target_weights=(rng.random(size=2 * len(leaves)) * 0.2).tolist())
    case(f'ter_post_{post}', 'TreeEnsembleRegressor', dict(A, **tw, n_targets=2, post_transform=post), X, [('Y', TP.FLOAT)])
# as_tensor doubles
A, leaves = tree_nodes(3)
vals = np.array(A.pop('nodes_values'), dtype=np.float64)
case('ter_double', 'TreeEnsembleRegressor', dict(A, nodes_values_as_tensor=nh.from_array(vals), target_treeids=[t for t, n in leaves], target_nodeids=[n for t, n in leaves], target_ids=[0] * len(leaves), target_weights_as_tensor=nh.from_array(rng.normal(size=len(leaves))), n_targets=1), X.astype(np.float64), [('Y', TP.FLOAT)], xtype=TP.DOUBLE)
# Classifiers
for nc, cls_used, pos, post, base in [
    (3, [0, 1, 2], False, 'NONE', None), (3, [0, 1, 2], False, 'SOFTMAX', [0.1, 0.2, 0.3]), (4, [0, 2], True, 'LOGISTIC', None),
    (2, [1], True, 'NONE', None), (2, [1], False, 'LOGISTIC', None), (2, [0], True, 'NONE', None), (2, [0], False, 'LOGISTIC', [0.3]),
    (2, [0], False, 'NONE', None), (2, [0, 1], True, 'NONE', None), (2, [0, 1], False, 'SOFTMAX', [0.1, 0.2]), (2, [1], False, 'NONE', [0.1, 0.2]),
    (2, [0], True, 'PROBIT', None), (2, [0], True, 'LOGISTIC', None), (2, [0], True, 'SOFTMAX', None), (2, [1], True, 'LOGISTIC', None), (2, [0], False, 'SOFTMAX', None), (2, [0, 1], False, 'NONE', [0.3]), (2, [0, 1], True, 'PROBIT', None), (2, [0], False, 'NONE', [0.2])]:
    A, leaves = tree_nodes(5, allmodes)
    cw = dict(class_treeids=[], class_nodeids=[], class_ids=[], class_weights=[])
    for (t, n) in leaves:
        for k in cls_used:
            cw['class_treeids'].append(t); cw['class_nodeids'].append(n); cw['class_ids'].append(k)
            w = rng.random() * 0.3 if pos else rng.normal()
            cw['class_weights'].append(float(w))
    attrs = dict(A, **cw, classlabels_int64s=list(range(7, 7 + nc)), post_transform=post)
    if base: attrs['base_values'] = base
    case(f'tec_{nc}_{"".join(map(str, cls_used))}_{pos}_{post}_{base is not None and len(base)}', 'TreeEnsembleClassifier', attrs, X, cls_outs)
# TreeEnsemble 5 with double + aggregation
for agg in [0, 2, 3]:
    d = dict(n_targets=2, aggregate_function=agg, post_transform=0, tree_roots=[0, 3],
             nodes_featureids=[0, 1, 2, 1, 0, 2], nodes_modes=nh.from_array(np.array([0, 1, 2, 3, 4, 5], dtype=np.uint8)),
             nodes_splits=nh.from_array(rng.normal(size=6)), nodes_truenodeids=[1, 0, 2, 4, 2, 4], nodes_trueleafs=[0, 1, 1, 0, 1, 1],
             nodes_falsenodeids=[2, 1, 3, 5, 3, 5], nodes_falseleafs=[0, 1, 1, 0, 1, 1], leaf_targetids=[0, 1, 0, 1, 0, 1],
             leaf_weights=nh.from_array(rng.normal(size=6)))
    case(f'te5_{agg}', 'TreeEnsemble', d, X.astype(np.float64), [('Y', TP.DOUBLE)], ml_opset=5, xtype=TP.DOUBLE)
