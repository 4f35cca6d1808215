"""derive() on inputs as JAX users pass them: pytrees named by path, integer labels as data,
float constants as exact rationals; its comparisons judged by the size of what was summed."""
from typing import NamedTuple

import numpy as np
import pytest
import sympy as sp

from gradbook import ClaimFailed, derive, jax, jnp
from gradbook.checks._tolerance import autodiff_bound_summed
from gradbook.graph import _backward
from gradbook.graph._derive import at_example, node_disagreement
from gradbook.graph._inputs import flatten_example
from gradbook.graph._rules import _number
from gradbook.graph._stage import DeriveError, stage


class Dense(NamedTuple):
    W: object
    b: object


def mlp_on_labels(params, x, y):
    """The JAX docs' MLP: parameters in a dict of layers, integer labels, log_softmax."""
    h = jnp.tanh(x @ params["hidden"].W + params["hidden"].b)
    logits = h @ params["out"]["W"] + params["out"]["b"]
    logp = jax.nn.log_softmax(logits)
    return -jnp.mean(logp[jnp.arange(x.shape[0]), y])


def _params(rng, scale=1.0):
    return {"hidden": Dense(scale * rng.standard_normal((3, 4)), scale * rng.standard_normal(4)),
            "out": {"W": scale * rng.standard_normal((4, 2)), "b": np.zeros(2)}}


RNG = np.random.default_rng(0)
PARAMS = _params(RNG)
X, LABELS = RNG.standard_normal((5, 3)), np.array([0, 1, 1, 0, 1])


def test_pytree_leaves_are_named_by_their_path():
    example = flatten_example(lambda p, xs, y: 0.0, dict(p=PARAMS, xs=[X, (X, 1.5)], y=LABELS))
    assert example.names == ["p.hidden.W", "p.hidden.b", "p.out.W", "p.out.b",
                             "xs[0]", "xs[1][0]", "xs[1][1]", "y"]
    assert example.floating == example.names[:-1]


def test_a_dict_key_that_is_not_a_name_is_written_in_brackets():
    example = flatten_example(lambda p: 0.0, dict(p={"layer 1": 1.0, "w": 2.0}))
    assert example.names == ["p['layer 1']", "p.w"]


def test_params_as_a_pytree_derive_and_match_jax_grad(ledger):
    workbook = derive(mlp_on_labels, at=dict(params=PARAMS, x=X, y=LABELS), wrt="params",
                      graph=False, points=1)
    reference = jax.grad(mlp_on_labels)(PARAMS, X, LABELS)
    paths = {"params.hidden.W": reference["hidden"].W, "params.hidden.b": reference["hidden"].b,
             "params.out.W": reference["out"]["W"], "params.out.b": reference["out"]["b"]}
    for name, expected in paths.items():
        np.testing.assert_allclose(workbook.grad(name), expected, rtol=1e-10, atol=1e-14)
    assert ledger.entry("derived.mlp_on_labels")["status"] == "verified"


def test_integer_labels_stay_integers_and_are_never_differentiated(ledger):
    staged = stage(mlp_on_labels, dict(params=PARAMS, x=X, y=LABELS))
    assert staged["y"].value.dtype == np.int64 and not staged["y"].differentiable
    workbook = derive(mlp_on_labels, at=dict(params=PARAMS, x=X, y=LABELS), graph=False, points=1)
    assert "y" not in workbook.grads
    assert ledger.entry("derived.mlp_on_labels")["status"] == "verified"


def test_wrt_an_integer_input_is_refused():
    with pytest.raises(DeriveError, match="wrt names 'y', which holds integers or booleans"):
        derive(mlp_on_labels, at=dict(params=PARAMS, x=X, y=LABELS), wrt=["y"], graph=False)


def test_wrt_a_name_that_is_not_an_input_lists_the_inputs():
    with pytest.raises(DeriveError, match=r"'params.W1', which is not an input .*params.hidden.W"):
        derive(mlp_on_labels, at=dict(params=PARAMS, x=X, y=LABELS), wrt="params.W1", graph=False)


def test_take_along_axis_on_labels_derives(ledger):
    def loss(W, x, y):
        logp = jax.nn.log_softmax(x @ W)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    derive(loss, at=dict(W=PARAMS["out"]["W"], x=X[:, :1] @ np.ones((1, 4)), y=LABELS),
           graph=False, points=1)
    assert ledger.entry("derived.loss")["status"] == "verified"


def test_printed_names_a_leaf_by_its_path(ledger):
    def loss(p):
        return p["w"][0] * p["w"][1]

    with pytest.raises(ClaimFailed, match=r"∂f/∂p.w\[0\]: printed 7 but computed 3"):
        derive(loss, at=dict(p={"w": [2.0, 3.0]}), printed={"p.w[0]": "7"}, graph=False, points=1)


def test_a_float_constant_enters_sympy_as_the_rational_its_repr_means():
    assert _number(np.float64(0.05)) == sp.Rational(1, 20)
    assert _number(np.float64(0.1) + np.float64(0.2)) == sp.Rational("0.30000000000000004")


def textbook_network(w1, w2, w3, w4, w5, w6, w7, w8):
    """Mazur's worked example: inputs, biases and targets written into the function."""
    h1 = jax.nn.sigmoid(w1 * 0.05 + w2 * 0.10 + 0.35)
    h2 = jax.nn.sigmoid(w3 * 0.05 + w4 * 0.10 + 0.35)
    o1 = jax.nn.sigmoid(w5 * h1 + w6 * h2 + 0.60)
    o2 = jax.nn.sigmoid(w7 * h1 + w8 * h2 + 0.60)
    return 0.5 * (0.01 - o1) ** 2 + 0.5 * (0.99 - o2) ** 2


def test_float_constants_in_the_function_are_proven_exactly(ledger):
    at = dict(w1=.15, w2=.2, w3=.25, w4=.3, w5=.4, w6=.45, w7=.5, w8=.55)
    workbook = derive(textbook_network, at=at, graph=False, points=1, printed={"∂w5": "0.082167041"})
    for closed in workbook.closed.values():
        assert not closed.simplified.atoms(sp.Float), closed.simplified
    assert {sp.Rational(1, 100), sp.Rational(99, 100)} <= workbook.closed["w1"].whole.atoms(sp.Rational)
    assert ledger.entry("derived.textbook_network")["status"] == "verified"


def test_a_jitted_jnp_helper_with_integer_literals_derives(ledger):
    def spread(x):
        return jnp.var(x) + jnp.std(x)

    derive(spread, at=dict(x=np.array([1.0, 2.0, 4.0])), graph=False, points=1)
    assert ledger.entry("derived.spread")["status"] == "verified"


# --- no false rejections: many seeds, data scales and loss scales ------------------------------

def log_softmax_mlp(W1, b1, W2, b2, X, Y, scale):
    """The issue's two-layer tanh MLP, log_softmax and one-hot cross-entropy, scaled."""
    H = jnp.tanh(W1 @ X + b1[:, None])
    Z = W2 @ H + b2[:, None]
    return -scale * jnp.mean(jnp.sum(Y * jax.nn.log_softmax(Z, axis=0), axis=0))


def relu_logsumexp_mlp(W1, b1, W2, b2, X, Y, scale):
    """The benchmark's MLP: ReLU, logsumexp, one-hot cross-entropy, scaled."""
    H = jax.nn.relu(W1 @ X + b1[:, None])
    Z = W2 @ H + b2[:, None]
    return -scale * jnp.mean(jnp.sum(Y * (Z - jax.scipy.special.logsumexp(Z, axis=0, keepdims=True)), axis=0))


def labels_mlp(params, x, y, scale):
    return scale * mlp_on_labels(params, x, y)


def _mlp_example(rng, data, scale):
    return dict(W1=rng.standard_normal((5, 3)), b1=rng.standard_normal(5), W2=rng.standard_normal((2, 5)),
                b2=rng.standard_normal(2), X=data * rng.standard_normal((3, 4)),
                Y=np.eye(2)[rng.integers(0, 2, 4)].T, scale=scale)


def _labels_example(rng, data, scale):
    return dict(params=_params(rng), x=data * rng.standard_normal((5, 3)), y=rng.integers(0, 2, 5),
                scale=scale)


SWEEP_MODELS = {"log_softmax_mlp": (log_softmax_mlp, _mlp_example),
                "relu_logsumexp_mlp": (relu_logsumexp_mlp, _mlp_example),
                "labels_mlp": (labels_mlp, _labels_example)}
LOSS_SCALES, DATA_SCALES, SEEDS = (1.0, 1.001, 0.37, 12.5), (0.1, 1.0, 30.0), range(2)


def test_a_gradient_that_cancels_is_judged_by_the_size_of_its_terms():
    """log_softmax's max-subtraction: its true gradient is 0, the terms summed into it are not."""
    example = _mlp_example(np.random.default_rng(1), 1.0, 0.37)
    staged = stage(log_softmax_mlp, example)
    rules = _backward.derive_rules(staged)
    _, (grads, _), sizes, _ = jax.jit(lambda a: at_example(staged, rules, a))(flatten_example(
        log_softmax_mlp, example).by_name())
    for name, grad in grads.items():  # the sizes bound every gradient, entry by entry
        assert np.all(np.abs(np.asarray(grad)) <= np.asarray(sizes[name]) * (1 + 1e-12)), name
    cancelled = [n for n, g in grads.items() if np.max(np.abs(g)) < 1e-15 and np.max(sizes[n]) > 1e-3]
    assert cancelled, "the max-subtraction's gradient should cancel to rounding noise"


@pytest.mark.parametrize("model", SWEEP_MODELS)
def test_no_false_rejections_over_seeds_data_and_loss_scales(model):
    """24 cases per model, 72 in all: every node and every input agrees within the bound."""
    f, draw = SWEEP_MODELS[model]
    first = draw(np.random.default_rng(0), 1.0, 1.0)
    staged = stage(f, first)
    rules = _backward.derive_rules(staged)
    compute = jax.jit(lambda a: at_example(staged, rules, a))
    flat = flatten_example(f, first)
    reference = jax.jit(jax.grad(flat.function, argnums=tuple(flat.names.index(n) for n in flat.floating)))
    cases = 0
    for seed in SEEDS:
        for data in DATA_SCALES:
            for scale in LOSS_SCALES:
                leaves = flatten_example(f, draw(np.random.default_rng(seed), data, scale)).by_name()
                _, (grads, branches), sizes, theirs = compute({k: jnp.asarray(v) for k, v in leaves.items()})
                wrong = node_disagreement(staged, grads, branches, sizes, theirs)
                assert wrong is None, (seed, data, scale, wrong)
                expected = reference(*leaves.values())
                for name, ref in zip(flat.floating, expected):
                    err = float(np.max(np.abs(np.asarray(grads[name]) - ref)))
                    assert err <= autodiff_bound_summed(grads[name], ref, sizes[name]), (seed, data, scale, name)
                cases += 1
    assert cases == 24


def test_a_wrong_local_derivative_whose_effect_is_small_is_caught(ledger, monkeypatch):
    """tanh's slope off by one part in a million still fails, and the node is named."""
    def slightly_off_for_tanh(formula, x):
        slope = sp.diff(formula, x)
        return slope * (1 + sp.Rational(1, 10**6)) if formula.has(sp.tanh) else slope

    monkeypatch.setattr(_backward, "local_derivative", slightly_off_for_tanh)
    with pytest.raises(ClaimFailed, match=r"local derivative of node \w+ \(tanh"):
        derive(log_softmax_mlp, at=_mlp_example(np.random.default_rng(3), 1.0, 12.5), graph=False, points=1)


# --- refusals are one line --------------------------------------------------------------------

def _while_on_data(x):
    return jax.lax.while_loop(lambda c: c[0] < 10.0, lambda c: (c[0] * 2.0, c[1] + 1.0), (x, 0.0))[1]


@pytest.mark.parametrize("f, at, message", [
    (lambda x: jnp.sum(jnp.sort(x)), dict(x=np.array([3.0, 1.0])), "cannot derive the operation 'sort'"),
    (lambda x: x * 2.0, dict(x=np.array([3.0, 1.0])), "must return one scalar"),
    (_while_on_data, dict(x=0.7), "while"),
    (lambda x: jnp.sum(x @ x), dict(x=np.ones((2, 3))), "fails at the example (at test_derive_inputs.py:"),
])
def test_a_refusal_is_one_line_of_derives_own(f, at, message):
    with pytest.raises(DeriveError) as error:
        derive(f, at=at, graph=False)
    text = str(error.value)
    assert message in text and len(text.splitlines()) == 1, text
