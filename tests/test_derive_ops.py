"""derive on loss functions written the way the JAX, Flax, Equinox and optax docs write them:
every node's backward number matches JAX's, and the inputs' gradients match jax.grad of the
unmodified function; a few go through the whole derive() workbook; what cannot be derived is
refused in one line."""
import numpy as np
import pytest

from gradbook import derive, jax, jnp
from gradbook.checks._tolerance import AUTODIFF_RTOL
from gradbook.graph._backward import backward, derive_rules, forward, jax_gradients
from gradbook.graph._stage import DeriveError, stage

rng = np.random.default_rng(15)
X43 = rng.standard_normal((4, 3))
LABELS = np.array([0, 2, 1, 2])


def normal(*shape, scale=1.0):
    return rng.standard_normal(shape) * scale


# --- the losses, as users write them ------------------------------------------------------

def mlp_dict_integer_labels(params, x, y):  # the JAX docs' MLP, params in a dict
    h = jnp.tanh(x @ params["W1"] + params["b1"])
    logits = h @ params["W2"] + params["b2"]
    logp = jax.nn.log_softmax(logits)
    return -jnp.mean(logp[jnp.arange(x.shape[0]), y])


def take_along_axis_ce(logits, y):
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))


def one_hot_ce(logits, y):  # optax.softmax_cross_entropy with one-hot labels
    return -jnp.mean(jnp.sum(jax.nn.one_hot(y, logits.shape[-1]) * jax.nn.log_softmax(logits), -1))


def accuracy_weighted(logits, y):  # argmax and a comparison on a path that is not differentiated
    correct = jnp.argmax(logits, axis=-1) == y
    return jnp.sum(jnp.where(correct, 1.0, 2.0) * jnp.sum(logits ** 2, axis=-1))


def gelu_exact(w, x):
    return jnp.sum(jax.nn.gelu(x @ w, approximate=False))


def erf_erfc(x):
    return jnp.sum(jax.scipy.special.erf(x) * jax.scipy.special.erfc(0.5 * x))


def clipped(x):
    return jnp.sum(jnp.clip(x, -0.5, 0.5) * x)


def lax_clamp(x):
    return jnp.sum(jax.lax.clamp(-0.4, x, 0.6) ** 2)


def min_and_prod(x):
    return jnp.min(x) * jnp.sum(jnp.prod(x, axis=1))


def cumulative(x):
    return (jnp.sum(jnp.cumsum(x, axis=1) ** 2) + jnp.sum(jax.lax.cummax(x, axis=0))
            + jnp.sum(jnp.sin(jnp.cumprod(x, axis=0))))


def select_three_ways(x):
    return jnp.sum(jnp.select([x > 1.0, x > 0.0], [x, jnp.sin(x)], -x ** 2))


def class_token_concatenated(x, cls):  # a ViT's class token on top of the patches
    tokens = jnp.concatenate([cls[None, :], x], axis=0)
    return jnp.sum(jnp.tanh(tokens) * jnp.arange(tokens.size).reshape(tokens.shape))


def stacked(a, b):
    return jnp.sum(jnp.stack([a, b * a, jnp.exp(b)]) ** 2)


def padded_and_reversed(x):
    return jnp.sum(jnp.pad(x, ((1, 0), (2, 1))) * 0.5) + jnp.sum(x[::-1] * jnp.arange(3.0)[:, None])


def convolve_1d(x):  # jnp.convolve: a rev and a conv
    return jnp.sum(jnp.convolve(x, jnp.array([0.25, -1.0, 0.5])) ** 2)


def dynamic_slices(x, u):
    window = jax.lax.dynamic_slice(x, (1, 0), (2, 3))
    updated = jax.lax.dynamic_update_slice(x, u * 2.0, (2, 1))
    return jnp.sum(window ** 2) + jnp.sum(jnp.sin(updated))


def scatter_add(x, u):  # x.at[i].add(u), with a repeated index
    return jnp.sum(jnp.tanh(x.at[jnp.array([0, 2, 0])].add(u)))


def scatter_set(x):
    return jnp.sum(x.at[1].set(x[0] * 3.0) ** 2)


def attention_einsum(q, k, v):  # multi-head attention scores with einsum
    scores = jnp.einsum("bqe,bke->bqk", q, k) / np.sqrt(q.shape[-1])
    return jnp.sum(jnp.einsum("bqk,bke->bqe", jax.nn.softmax(scores, axis=-1), v) ** 2)


def vmapped_matmul(a, b):
    return jnp.sum(jnp.tanh(jax.vmap(jnp.matmul)(a, b)))


def cnn_2d(w, b, x):  # conv, ReLU, max-pool, dense-ish sum
    h = jax.nn.relu(jax.lax.conv(x, w, (1, 1), "SAME") + b[None, :, None, None])
    pooled = jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
    return jnp.sum(pooled ** 2)


def conv_1d_strided_dilated(w, x):
    y = jax.lax.conv_general_dilated(x, w, (2,), ((2, 1),), rhs_dilation=(2,))
    return jnp.sum(jnp.tanh(y))


def conv_grouped_nhwc(w, x):  # Flax's layout, two feature groups
    y = jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                     feature_group_count=2)
    return jnp.sum(y ** 2)


def average_pool(x):  # flax.linen.avg_pool: a window sum divided by the window size
    return jnp.sum(jax.lax.reduce_window(x, 0.0, jax.lax.add, (2, 2), (1, 1), "SAME") / 4.0 ** 2)


def rnn_scan(W, U, h0, xs):  # an RNN with lax.scan
    def step(h, x):
        h = jnp.tanh(W @ h + U @ x)
        return h, jnp.sum(h)
    h, outs = jax.lax.scan(step, h0, xs)
    return jnp.sum(h ** 2) + jnp.sum(outs)


def fori_power_iteration(A, v):
    v = jax.lax.fori_loop(0, 3, lambda i, v: jnp.tanh(A @ v), v)
    return jnp.sum(v ** 2)


def reverse_scan_cumulative(xs):
    return jnp.sum(jax.lax.scan(lambda c, x: (c * 0.5 + x, c), 0.0, xs, reverse=True)[1] ** 2)


def cond_branch(x):  # lax.cond: the branch the example takes
    return jnp.sum(jax.lax.cond(jnp.sum(x) > 100.0, lambda a: a * 2.0, lambda a: jnp.sin(a) * a, x))


def switch_branch(x):
    return jnp.sum(jax.lax.switch(2, [jnp.sin, jnp.cos, jnp.tanh], x) * x)


def layer_norm(x, gamma, beta):
    mean = jnp.mean(x, axis=-1, keepdims=True)
    var = jnp.var(x, axis=-1, keepdims=True)
    return jnp.sum(((x - mean) / jnp.sqrt(var + 1e-5) * gamma + beta) ** 2)


def float_constants(w1, w2):  # a textbook worked example, its numbers written in the function
    h = jax.nn.sigmoid(0.05 * w1 + 0.10 * w2 + 0.35)
    return 0.5 * (0.01 - jax.nn.sigmoid(h * 0.40 + 0.60)) ** 2


def gru_cell_scan(Wz, Wh, h0, xs):  # a GRU over a short sequence, [x; h] concatenated
    def step(h, x):
        xh = jnp.concatenate([x, h])
        z = jax.nn.sigmoid(Wz @ xh)
        h_new = jnp.tanh(Wh @ jnp.concatenate([x, z * h]))
        return (1 - z) * h + z * h_new, None
    h, _ = jax.lax.scan(step, h0, xs)
    return jnp.sum(h ** 2)


def masked_mse(pred, target, mask):  # a boolean mask: data, chosen by
    return jnp.sum(jnp.where(mask, (pred - target) ** 2, 0.0)) / jnp.sum(mask)


def scatter_at_integer_input(x, u, index):  # x.at[i].add(u) with the indices an input
    return jnp.sum(jnp.tanh(x.at[index].add(u)) ** 2)


def slice_at_integer_input(x, start):
    return jnp.sum(jax.lax.dynamic_slice(x, (start, 0), (2, 3)) ** 3)


def inverse_trigonometry(x):
    u = 0.5 * jnp.tanh(x)
    return jnp.sum(jnp.arcsin(u) * jnp.arccos(u) + jnp.arctanh(u) + jnp.arccosh(2.0 + u * u)
                   + jnp.arctan2(u, 1.5 + u) + jnp.sinh(u) * jnp.cosh(u))


def checkpointed_layers(W, x):  # jax.checkpoint (remat), as memory-saving models write it
    layer = jax.checkpoint(lambda W, h: jnp.tanh(W @ h))
    return jnp.sum(layer(W, layer(W, x)) ** 2)


def weighted_logsumexp(x):  # logsumexp with weights b: sign() on the way, flat but for its jump
    return jnp.sum(jax.nn.logsumexp(x, axis=0, b=jnp.array([1.0, 2.0, 0.5, 1.5])[:, None]))


def nested_scans(x, c0):
    def outer(c, row):
        inner, _ = jax.lax.scan(lambda d, y: (jnp.sin(d * y + c), None), c, row)
        return inner, None
    return jax.lax.scan(outer, c0, x)[0] ** 2


def vmapped_scan(xs):
    return jnp.sum(jax.vmap(lambda row: jax.lax.scan(lambda c, y: (jnp.tanh(c * y + 0.5), c), 0.3, row)[1])(xs) ** 2)


def iota_weighted(x):
    return jnp.sum(x * jax.lax.iota(np.float64, 3)) ** 2


# name: (function, worked example, primitives the staged graph must contain)
LOSSES = {
    "mlp_dict_integer_labels": (mlp_dict_integer_labels, dict(
        params={"W1": normal(3, 5), "b1": normal(5, scale=0.1), "W2": normal(5, 3), "b2": np.zeros(3)},
        x=X43, y=LABELS), {"gather", "dot_general"}),
    "take_along_axis_ce": (take_along_axis_ce, dict(logits=X43, y=LABELS), {"gather"}),
    "one_hot_ce": (one_hot_ce, dict(logits=X43, y=LABELS), {"eq", "convert_element_type"}),
    "accuracy_weighted": (accuracy_weighted, dict(logits=X43, y=LABELS), {"argmax", "eq"}),
    "gelu_exact": (gelu_exact, dict(w=normal(3, 2), x=X43), {"erfc"}),
    "erf_erfc": (erf_erfc, dict(x=X43), {"erf", "erfc"}),
    "clipped": (clipped, dict(x=X43), {"clip"}),
    "lax_clamp": (lax_clamp, dict(x=X43), {"clamp"}),
    "min_and_prod": (min_and_prod, dict(x=X43), {"reduce_min", "reduce_prod"}),
    "cumulative": (cumulative, dict(x=X43), {"cumsum", "cummax", "cumprod"}),
    "select_three_ways": (select_three_ways, dict(x=X43), {"select_n"}),
    "class_token_concatenated": (class_token_concatenated, dict(x=X43, cls=normal(3)), {"concatenate"}),
    "stacked": (stacked, dict(a=normal(4), b=normal(4)), {"stack"}),
    "padded_and_reversed": (padded_and_reversed, dict(x=normal(3, 2)), {"pad", "rev"}),
    "convolve_1d": (convolve_1d, dict(x=normal(6)), {"rev", "conv_general_dilated"}),
    "dynamic_slices": (dynamic_slices, dict(x=normal(4, 3), u=normal(2, 2)),
                       {"dynamic_slice", "dynamic_update_slice"}),
    "scatter_add": (scatter_add, dict(x=normal(4, 2), u=normal(3, 2)), {"scatter-add"}),
    "scatter_set": (scatter_set, dict(x=X43), {"scatter"}),
    "attention_einsum": (attention_einsum, dict(q=normal(2, 3, 4), k=normal(2, 5, 4), v=normal(2, 5, 4)),
                         {"dot_general"}),
    "vmapped_matmul": (vmapped_matmul, dict(a=normal(2, 3, 4), b=normal(2, 4, 2)), {"dot_general"}),
    "cnn_2d": (cnn_2d, dict(w=normal(3, 2, 3, 3), b=normal(3), x=normal(2, 2, 4, 4)),
               {"conv_general_dilated", "reduce_window_max", "relu"}),
    "conv_1d_strided_dilated": (conv_1d_strided_dilated, dict(w=normal(2, 3, 2), x=normal(2, 3, 9)),
                                {"conv_general_dilated"}),
    "conv_grouped_nhwc": (conv_grouped_nhwc, dict(w=normal(2, 2, 2, 4), x=normal(1, 4, 4, 4)),
                          {"conv_general_dilated"}),
    "average_pool": (average_pool, dict(x=normal(4, 5)), {"reduce_window_sum"}),
    "rnn_scan": (rnn_scan, dict(W=normal(3, 3, scale=0.5), U=normal(3, 2), h0=normal(3), xs=normal(4, 2)),
                 {"tanh", "stack"}),
    "fori_power_iteration": (fori_power_iteration, dict(A=normal(3, 3), v=normal(3)), {"tanh"}),
    "reverse_scan_cumulative": (reverse_scan_cumulative, dict(xs=normal(5)), {"stack"}),
    "cond_branch": (cond_branch, dict(x=normal(4)), {"sin"}),
    "switch_branch": (switch_branch, dict(x=normal(4)), {"tanh"}),
    "layer_norm": (layer_norm, dict(x=X43, gamma=normal(3), beta=normal(3)), {"sqrt"}),
    "float_constants": (float_constants, dict(w1=0.15, w2=0.20), {"logistic"}),
    "gru_cell_scan": (gru_cell_scan, dict(Wz=normal(3, 5, scale=0.5), Wh=normal(3, 5, scale=0.5),
                                          h0=normal(3), xs=normal(3, 2)), {"concatenate", "logistic"}),
    "iota_weighted": (iota_weighted, dict(x=normal(3)), {"mul"}),
    "inverse_trigonometry": (inverse_trigonometry, dict(x=X43), {"asin", "acos", "atanh", "arccosh", "atan2"}),
    "checkpointed_layers": (checkpointed_layers, dict(W=normal(3, 3), x=normal(3)), {"tanh", "dot_general"}),
    "weighted_logsumexp": (weighted_logsumexp, dict(x=X43), {"sign"}),
    "nested_scans": (nested_scans, dict(x=normal(2, 3), c0=0.4), {"sin"}),
    "vmapped_scan": (vmapped_scan, dict(xs=normal(2, 3)), {"tanh", "stack"}),
    "masked_mse": (masked_mse, dict(pred=normal(5), target=normal(5),
                                    mask=np.array([True, False, True, True, False])), {"where"}),
    "scatter_at_integer_input": (scatter_at_integer_input, dict(x=normal(4, 2), u=normal(3, 2),
                                                                index=np.array([3, 1, 3])), {"scatter-add"}),
    "slice_at_integer_input": (slice_at_integer_input, dict(x=normal(4, 3), start=np.array(1)),
                               {"dynamic_slice"}),
}
THROUGH_DERIVE = ("mlp_dict_integer_labels", "cnn_2d", "rnn_scan")


def _grads_at(f, at):
    staged = stage(f, at)
    rules = derive_rules(staged)
    args = {n.name: n.value for n in staged.nodes if n.op == "input"}
    values, (mine, _) = jax.jit(lambda a: (lambda v: (v, backward(staged, rules, v)))(forward(staged, a)))(args)
    theirs = jax.jit(lambda a: jax_gradients(staged, a))(args)
    return staged, values, mine, theirs


def _mismatches(staged, mine, theirs):
    """Nodes whose backward number differs from JAX's by more than the autodiff bound, taken
    relative to the largest gradient in the graph (the scale its float64 rounding works at)."""
    scale = max(float(np.max(np.abs(np.asarray(g)), initial=0.0)) for g in theirs.values())
    out = []
    for name, reference in theirs.items():
        got = np.asarray(mine.get(name, np.zeros_like(reference)), dtype=np.float64)
        err = float(np.max(np.abs(got - np.asarray(reference)), initial=0.0))
        if err > AUTODIFF_RTOL * max(scale, 1e-300):
            out.append((name, staged[name].op, err))
    return out


@pytest.mark.parametrize("name", LOSSES)
def test_every_node_matches_jax_and_inputs_match_jax_grad(name):
    f, at, ops = LOSSES[name]
    staged, values, mine, theirs = _grads_at(f, at)
    assert ops <= {n.op for n in staged.nodes}, {n.op for n in staged.nodes}
    assert not _mismatches(staged, mine, theirs)
    at = {k: jax.tree_util.tree_map(jnp.asarray, v) for k, v in at.items()}  # keeping the order
    np.testing.assert_allclose(values[staged.output], f(**at), rtol=1e-12)
    leaves = jax.tree_util.tree_leaves(jax.grad(lambda *a: f(*a), argnums=tuple(range(len(at))),
                                                allow_int=True)(*at.values()))
    for input_name, expected in zip(staged.inputs, leaves):
        if expected.dtype == jax.dtypes.float0:
            continue  # an integer input (labels): data, not differentiated
        np.testing.assert_allclose(mine[input_name], expected, rtol=1e-9,
                                   atol=AUTODIFF_RTOL * max(1.0, float(np.max(np.abs(expected)))))


def test_the_table_covers_the_issue_constructs():
    used = set().union(*(ops for _, _, ops in LOSSES.values()))
    assert {"gather", "scatter-add", "scatter", "concatenate", "stack", "pad", "rev", "dynamic_slice",
            "dynamic_update_slice", "cumsum", "cummax", "reduce_min", "reduce_prod", "argmax", "erf",
            "erfc", "clamp", "select_n", "dot_general", "conv_general_dilated", "reduce_window_max",
            "reduce_window_sum"} <= used
    assert len(LOSSES) >= 30


@pytest.mark.parametrize("name", THROUGH_DERIVE)
def test_the_whole_workbook_verifies(name, ledger):
    f, at, _ = LOSSES[name]
    derive(f, at=at, graph=False, points=1)
    assert ledger.entry(f"derived.{f.__name__}")["status"] == "verified"


def test_a_while_loop_with_a_known_trip_count_is_one_line_suggesting_fori_loop():
    def halvings(x):
        _, y = jax.lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, jnp.sin(c[1]) * 0.5), (0, x))
        return jnp.sum(y ** 2)

    message = _one_line_refusal(halvings, dict(x=normal(3)))
    assert "runs 3 steps" in message and "lax.fori_loop(0, 3, ...)" in message


def test_scan_steps_are_recorded_on_their_nodes():
    f, at, _ = LOSSES["rnn_scan"]
    staged = stage(f, at)
    steps = {n.step for n in staged.nodes if n.op == "tanh"}
    assert steps == {(("scan1", t),) for t in range(4)}


def test_a_cond_says_which_branch_the_example_took():
    f, at, _ = LOSSES["cond_branch"]
    staged = stage(f, at)
    assert any("branch 0" in n.branch for n in staged.nodes if n.op == "sin")
    notes = [rule.note for rule in derive_rules(staged).values()]
    assert sum("the one the worked example takes" in note for note in notes) == 1


# --- refusals: one line each, never a JAX traceback ----------------------------------------

def _one_line_refusal(f, at) -> str:
    with pytest.raises(DeriveError) as caught:
        stage(f, at)
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_an_unsupported_primitive_is_one_line_naming_it_and_the_line():
    message = _one_line_refusal(lambda x: jnp.sum(jnp.sort(x) * x), dict(x=normal(3)))
    assert "'sort'" in message and "test_derive_ops.py:" in message and "supported:" in message


def test_a_loop_whose_trip_count_depends_on_data_is_one_line():
    def until_small(x):
        return jnp.sum(jax.lax.while_loop(lambda v: jnp.sum(v ** 2) > 1e-3, lambda v: v * 0.5, x))

    message = _one_line_refusal(until_small, dict(x=normal(3)))
    assert "number of steps depends on the data" in message and "test_derive_ops.py:" in message


def test_a_non_scalar_output_is_one_line():
    assert "must return one scalar" in _one_line_refusal(lambda x: x * 2.0, dict(x=normal(3)))


def test_a_parameter_derive_does_not_handle_is_one_line_naming_the_node():
    def grouped_by_batch(x, w):
        return jnp.sum(jax.lax.conv_general_dilated(x, w, (1,), "VALID", batch_group_count=2))

    with pytest.raises(DeriveError) as caught:
        derive_rules(stage(grouped_by_batch, dict(x=normal(2, 2, 5), w=normal(2, 2, 3))))
    message = str(caught.value)
    assert "\n" not in message and "batch_group_count" in message and "test_derive_ops.py:" in message
