# %% [markdown]
# # 16 · Backpropagation through time
#
# A recurrent network applies the same update at every time step,
# $h_t = \tanh(W h_{t-1} + U x_t + b)$, so its weights are used $T$ times in a sequence of
# length $T$. Unrolled in time it is a deep network whose layers all share one set of
# weights, and backpropagation through it (“backpropagation through time”) gives two
# results: an error signal $\delta_t = \partial L/\partial h_t$ passed backwards from step to
# step through $W^\top$ and the slope of the tanh, and weight gradients that are a *sum over
# time* of one term per step. The product of per-step factors in that backward pass is also
# why such gradients shrink or grow geometrically with the distance in time.
#
# The method is the one of “Backpropagation Through Time: What It Does and How to Do It”
# (Werbos, 1990, §III). The geometric shrinking was analysed in “Learning Long-Term
# Dependencies with Gradient Descent is Difficult” (Bengio, Simard and Frasconi, 1994), and
# “On the difficulty of training recurrent neural networks” (Pascanu, Mikolov and Bengio,
# 2013, §2) writes the Jacobian between two states as a product and gives the conditions on
# the recurrent weights under which it vanishes or explodes (§2.1).
#
# SymPy proves the backward pass for $T = 3$ steps, first with a scalar state (every step
# written out), then with a state of two entries and inputs of two entries, all of them
# symbols. JAX and finite differences check it for $T = 5$; the last part measures the
# Jacobians $\partial h_T/\partial h_t$ over 30 steps.

# %%
import matplotlib.pyplot as plt
import numpy as np
import sympy as sp
from gradbook import *

verifies("bptt.delta", "bptt.weights", "bptt.example", "bptt.jacobians", "bptt.vanishing",
         "bptt.exploding", "bptt.machine")

# %% [markdown]
# ## Three steps with a scalar state
#
# With one hidden unit the update is $h_t = \tanh(w\,h_{t-1} + u\,x_t + b)$. The loss may
# have a term at every step, $L = \sum_t \ell_t(h_t)$ (a loss on the last state alone is the
# case $\ell_1 = \ell_2 = 0$). Only the first derivatives $g_t = \partial\ell_t/\partial h_t$
# enter the chain rule, so the linear loss $L = g_1 h_1 + g_2 h_2 + g_3 h_3$ stands in for
# any loss. On the page $L$, $h_t$ and $\delta_t$ are names; `where=` holds their definitions.

# %%
w, u, b = sp.symbols("w u b", real=True)
h0 = sp.Symbol("h_0", real=True)
x = sp.symbols("x_1:4", real=True)
g = sp.symbols("g_1:4", real=True)
h1, h2, h3 = h = sp.symbols("h_1:4", real=True)
L = sp.Symbol("L")
loss = {L: g[0] * h1 + g[1] * h2 + g[2] * h3}
states = {h1: sp.tanh(w * h0 + u * x[0] + b), h2: sp.tanh(w * h1 + u * x[1] + b),
          h3: sp.tanh(w * h2 + u * x[2] + b)}

# %% [markdown] tags=["solution"]
# ## The error signal, passed backwards
#
# $\delta_t = \partial L/\partial h_t$ is the *total* derivative: moving $h_t$ changes the
# loss directly through $\ell_t$ and also through every later state. The last state has only
# the direct path, $\delta_3 = g_3$. One step earlier, $h_2$ reaches $L$ directly and
# through $h_3$, whose derivative with respect to $h_2$ is the tanh's slope
# $1 - h_3^2$ times $w$:

# %% tags=["solution"]
delta = d1, d2, d3 = sp.symbols(r"\delta_1:4", real=True)
d0 = sp.Symbol(r"\delta_0", real=True)
signals = {d3: g[2], d2: g[1] + w * (1 - h3**2) * d3, d1: g[0] + w * (1 - h2**2) * d2}

later_than_2 = {h3: states[h3]}  # h_2 is the variable: only h_3 depends on it
with sp.evaluate(False):
    delta_2 = [
        sp.Derivative(L, h2),
        (g[1] + g[2] * sp.Derivative(h3, h2), r"directly, and through $h_3$"),
        (g[1] + g[2] * (1 - h3**2) * w, r"$\tanh' = 1 - \tanh^2$, times the inner derivative $w$"),
        (g[1] + w * (1 - h3**2) * d3, r"$\delta_3 = g_3$"),
    ]
prove_chain("bptt.delta", *delta_2, where=loss | later_than_2 | signals)

# %% [markdown] tags=["solution"]
# From $h_1$ there are three paths: directly, through $h_2$, and through $h_2$ and then $h_3$.
# The two indirect paths both start with the factor $w(1-h_2^2)$; taking it out leaves
# exactly $\delta_2$, so the paths never have to be enumerated: each $\delta$ is built from
# the next one.

# %% tags=["solution"]
later_than_1 = {h2: states[h2], h3: states[h3]}
with sp.evaluate(False):
    delta_1 = [
        sp.Derivative(L, h1),
        (sp.Add(g[0], g[1] * sp.Derivative(h2, h1), g[2] * sp.Derivative(h3, h1)),
         r"directly, and through $h_2$ and $h_3$"),
        (sp.Add(g[0], g[1] * (1 - h2**2) * w, g[2] * (1 - h3**2) * w * (1 - h2**2) * w),
         r"$\partial h_t/\partial h_{t-1} = (1 - h_t^2)\,w$, multiplied along the path"),
        (g[0] + w * (1 - h2**2) * (g[1] + w * (1 - h3**2) * g[2]), r"take out $w(1-h_2^2)$"),
        (g[0] + w * (1 - h2**2) * d2, r"the bracket is $\delta_2$"),
    ]
prove_chain("bptt.delta", *delta_1, where=loss | later_than_1 | signals)

# %% [markdown] tags=["solution"]
# The initial state has no loss term of its own, so its gradient is the propagated part
# alone, $\delta_0 = \partial L/\partial h_0 = w(1 - h_1^2)\,\delta_1$:

# %% tags=["solution"]
with sp.evaluate(False):
    delta_0 = w * (1 - h1**2) * d1
prove_equal("bptt.delta", sp.Derivative(L, h0), delta_0, where=loss | states | signals)

# %% [markdown] tags=["solution"]
# ## The weight gradient: a sum over time
#
# $w$ is used at every step, so $L$ depends on it through all three states. Each state
# depends on $w$ twice: directly (the term $w\,h_{t-1}$ in its argument) and through the
# previous state, so the sensitivity $\partial h_t/\partial w$ follows a forward recursion:

# %% tags=["solution"]
with sp.evaluate(False):
    forward_sensitivity = [
        sp.Derivative(h2, w),
        ((1 - h2**2) * (h1 + w * sp.Derivative(h1, w)),
         r"the product rule on $w\,h_1$, inside the tanh"),
    ]
prove_chain("bptt.weights", *forward_sensitivity, where=states, box=False)

# %% [markdown] tags=["solution"]
# Unrolling that recursion for the three states (with $\partial h_0/\partial w = 0$) gives the
# first line below. Collecting the terms that multiply each earlier state $h_{t-1}$ groups
# them into the $\delta_t$ found above, one term per step:

# %% tags=["solution"]
with sp.evaluate(False):
    weight_gradient = [
        sp.Derivative(L, w),
        (sp.Add(g[0] * sp.Derivative(h1, w), g[1] * sp.Derivative(h2, w),
                g[2] * sp.Derivative(h3, w)),
         r"$L$ depends on $w$ through the three states"),
        (sp.Add(g[0] * (1 - h1**2) * h0,
                g[1] * (1 - h2**2) * (h1 + w * (1 - h1**2) * h0),
                g[2] * (1 - h3**2) * (h2 + w * (1 - h2**2) * (h1 + w * (1 - h1**2) * h0))),
         r"the forward recursion, unrolled"),
        (sp.Add((1 - h3**2) * g[2] * h2,
                (1 - h2**2) * (g[1] + w * (1 - h3**2) * g[2]) * h1,
                (1 - h1**2) * (g[0] + w * (1 - h2**2) * (g[1] + w * (1 - h3**2) * g[2])) * h0),
         r"collect the terms of each $h_{t-1}$"),
        (sp.Add(d3 * (1 - h3**2) * h2, d2 * (1 - h2**2) * h1, d1 * (1 - h1**2) * h0),
         r"the brackets are $\delta_3, \delta_2, \delta_1$"),
    ]
prove_chain("bptt.weights", *weight_gradient, where=loss | states | signals,
            lhs=r"\frac{\partial L}{\partial w}")

# %% [markdown] tags=["solution"]
# The input weight and the bias are shared the same way; their per-step terms carry $x_t$
# and $1$ where the recurrent weight's carry $h_{t-1}$:

# %% tags=["solution"]
with sp.evaluate(False):
    du = sp.Add(d3 * (1 - h3**2) * x[2], d2 * (1 - h2**2) * x[1], d1 * (1 - h1**2) * x[0])
    db = sp.Add(d3 * (1 - h3**2), d2 * (1 - h2**2), d1 * (1 - h1**2))
prove_equal("bptt.weights", sp.Derivative(L, u), du, where=loss | states | signals)
prove_equal("bptt.weights", sp.Derivative(L, b), db, where=loss | states | signals)

# %% [markdown] tags=["solution"]
# ### The common mistake: the last step's term alone
#
# Treating the unrolled network like a single layer, one might keep only the term of the
# last step, $\delta_3(1 - h_3^2)\,h_2$. It misses every path through which $w$ acts at the
# earlier steps. Held against the unrolled gradient (the third line of the chain above), it is
# rejected:

# %% tags=["solution"]
unrolled = weight_gradient[2][0]
with rejects("bptt.weights", "∂L/∂w taken from the last step only (no sum over time)"):
    prove_equal("bptt.weights", unrolled, d3 * (1 - h3**2) * h2, where=signals)

# %%
exercise("bptt.delta.h0",
         r"A scalar recurrent unit runs three steps, $h_t = \tanh(w\,h_{t-1} + u\,x_t + b)$ "
         r"for $t = 1, 2, 3$ from $h_0$, and the loss is $L = g_1 h_1 + g_2 h_2 + g_3 h_3$ "
         r"(a loss term at every step). Find $\partial L/\partial h_0$, written with the "
         r"states $h_1, h_2, h_3$.",
         of="g1*h1 + g2*h2 + g3*h3", wrt="h0",
         answer="w*(1 - h1**2)*(g1 + w*(1 - h2**2)*(g2 + w*(1 - h3**2)*g3))",
         inputs={"w": "scalar", "u": "scalar", "b": "scalar", "h0": "scalar", "x1": "scalar",
                 "x2": "scalar", "x3": "scalar", "g1": "scalar", "g2": "scalar", "g3": "scalar"},
         example={"w": 0.5, "u": 1.0, "b": 0.1, "h0": 0.2, "x1": 1.0, "x2": -0.5, "x3": 0.3,
                  "g1": 0.1, "g2": -0.2, "g3": 1.0},
         where={"h1": "tanh(w*h0 + u*x1 + b)", "h2": "tanh(w*h1 + u*x2 + b)",
                "h3": "tanh(w*h2 + u*x3 + b)"},
         mistakes={"w**3*(1 - h1**2)*(1 - h2**2)*(1 - h3**2)*g3":
                   "Only the path from the last step's loss: the losses at steps 1 and 2 reach "
                   "h0 too, each along its own shorter path."})

# %%
exercise("bptt.weights.w",
         r"For the same unit and loss, with the error signals "
         r"$\delta_t = \partial L/\partial h_t$ given ($\delta_3 = g_3$, "
         r"$\delta_2 = g_2 + w(1 - h_3^2)\delta_3$, $\delta_1 = g_1 + w(1 - h_2^2)\delta_2$), find "
         r"$\partial L/\partial w$, the gradient of the recurrent weight.",
         of="g1*h1 + g2*h2 + g3*h3", wrt="w",
         answer="d1*(1 - h1**2)*h0 + d2*(1 - h2**2)*h1 + d3*(1 - h3**2)*h2",
         inputs={"w": "scalar", "u": "scalar", "b": "scalar", "h0": "scalar", "x1": "scalar",
                 "x2": "scalar", "x3": "scalar", "g1": "scalar", "g2": "scalar", "g3": "scalar"},
         example={"w": 0.5, "u": 1.0, "b": 0.1, "h0": 0.2, "x1": 1.0, "x2": -0.5, "x3": 0.3,
                  "g1": 0.1, "g2": -0.2, "g3": 1.0},
         where={"h1": "tanh(w*h0 + u*x1 + b)", "h2": "tanh(w*h1 + u*x2 + b)",
                "h3": "tanh(w*h2 + u*x3 + b)",
                "d3": "g3", "d2": "g2 + w*(1 - h3**2)*d3", "d1": "g1 + w*(1 - h2**2)*d2"},
         mistakes={"d3*(1 - h3**2)*h2": "The last step's term alone: w is used at every step, "
                                        "so its gradient is a sum over time, one term a step."})

# %% [markdown] tags=["solution"]
# ## A state of two entries
#
# With a vector state the recursion reads $\delta_{t-1} = g_{t-1} + W^\top\big((1 - h_t^2)
# \odot \delta_t\big)$: the slope acts entry by entry, and the transposed recurrent matrix
# sends each entry's error back to the entries of the earlier state that fed it. The weight
# gradient sums outer products, $\partial L/\partial W = \sum_t \big(\delta_t \odot (1 -
# h_t^2)\big)\,h_{t-1}^\top$. SymPy proves both for $T = 3$ and a state of 2 entries, with
# every entry of $W$, of the $g_t$ and of the input drive $c_t = U x_t + b$ a symbol. (The tanh
# applied entry by entry cannot be written with matrix symbols of symbolic size. The drive is
# kept as one symbol per entry, since it does not depend on $W$ and writing out $U x_t + b$
# only makes the expressions longer: the gradients of $U$ and $b$ were proven in the scalar
# case and are checked numerically below.)

# %% tags=["solution"]
def vector(name, t, n=2):
    return sp.Matrix([sp.Symbol(f"{name}_{{{t},{i}}}", real=True) for i in range(1, n + 1)])


def tanh_slope(v):
    return v.applyfunc(lambda e: 1 - e**2)


Wm = sp.Matrix(2, 2, lambda i, j: sp.Symbol(f"w_{{{i + 1}{j + 1}}}", real=True))
H = [vector("h", t) for t in range(4)]  # H[0] is the initial state
C = [None] + [vector("c", t) for t in range(1, 4)]
G = [None] + [vector("g", t) for t in range(1, 4)]
D = [vector(r"\delta", t) for t in range(4)]


def states_after(first):
    """The states later than h_first, each written out in terms of h_first."""
    out, state = {}, H[first]
    for t in range(first + 1, 4):
        state = (Wm * state + C[t]).applyfunc(sp.tanh)
        out |= dict(zip(H[t], state))
    return out


vector_loss = {L: sum((G[t].T * H[t])[0] for t in range(1, 4))}
vector_signals = dict(zip(D[3], G[3]))
for t in (3, 2):
    vector_signals |= dict(zip(D[t - 1], G[t - 1] + Wm.T * sp.matrix_multiply_elementwise(
        tanh_slope(H[t]), D[t])))

# %% [markdown] tags=["solution"]
# The recursion, from $h_2$ to $h_1$ (with $h_1$ the variable, so only $h_2$ and $h_3$ are
# defined in terms of it):

# %% tags=["solution"]
prove_equal("bptt.delta", derivative(L, H[1]),
            sp.MatAdd(sp.ImmutableMatrix(G[1]), sp.MatMul(
                sp.ImmutableMatrix(Wm.T),
                sp.ImmutableMatrix(sp.matrix_multiply_elementwise(tanh_slope(H[2]), D[2])))),
            where=vector_loss | states_after(1) | vector_signals)

# %% [markdown] tags=["solution"]
# and the recurrent weight's gradient, a sum of three per-step terms:

# %% tags=["solution"]
def per_step(t):
    return sp.matrix_multiply_elementwise(D[t], tanh_slope(H[t]))


everything = vector_loss | states_after(0) | vector_signals
prove_equal("bptt.weights", derivative(L, Wm), sp.MatAdd(*[per_step(t) * H[t - 1].T
                                                          for t in (1, 2, 3)]), where=everything)

# %% [markdown] tags=["solution"]
# ## The machine's check for five steps
#
# In JAX the forward pass is a loop over the steps, and the loss has a squared-error term at
# every step, $\ell_t = \tfrac12\lVert h_t - y_t\rVert^2$, so $g_t = h_t - y_t$. The backward
# pass is written from the two results alone: walking from $t = T$ down to 1, add the step's
# own $g_t$ to the signal from above, multiply by the slope, record the three per-step terms,
# and pass $W^\top(\cdot)$ down. What is left at the end is $\delta_0 = \partial L/\partial
# h_0$. The state has 3 entries and the inputs 2, so that $W$ and $U$ have different shapes.

# %% tags=["solution"]
def rnn_states(W, U, b, h0, xs):
    hs = [h0]
    for x_t in xs:
        hs.append(jnp.tanh(W @ hs[-1] + U @ x_t + b))
    return hs


def rnn_loss(W, U, b, h0, xs, ys):
    hs = rnn_states(W, U, b, h0, xs)
    return sum(0.5 * jnp.sum((h_t - y_t) ** 2) for h_t, y_t in zip(hs[1:], ys))


def backward(W, U, b, h0, xs, gs):
    """BPTT given the states and g_t = ∂ℓ_t/∂h_t: returns ∂L/∂W, ∂L/∂U, ∂L/∂b and δ_0."""
    hs = rnn_states(W, U, b, h0, xs)
    dW, dU, db = jnp.zeros_like(W), jnp.zeros_like(U), jnp.zeros_like(b)
    from_above = jnp.zeros_like(h0)
    for t in range(len(xs), 0, -1):
        delta_t = gs[t - 1] + from_above
        a = delta_t * (1 - hs[t] ** 2)
        dW, dU, db = dW + jnp.outer(a, hs[t - 1]), dU + jnp.outer(a, xs[t - 1]), db + a
        from_above = W.T @ a
    return dW, dU, db, from_above


def bptt(W, U, b, h0, xs, ys):
    hs = rnn_states(W, U, b, h0, xs)
    return backward(W, U, b, h0, xs, [h_t - y_t for h_t, y_t in zip(hs[1:], ys)])


def rnn_point(rng, T=5, n=3, m=2):
    return (rng.standard_normal((n, n)) / np.sqrt(n), rng.standard_normal((n, m)) / np.sqrt(m),
            0.1 * rng.standard_normal(n), rng.uniform(-0.5, 0.5, n),
            rng.standard_normal((T, m)), rng.uniform(-0.5, 0.5, (T, n)))


check_gradient("bptt.weights", rnn_loss, lambda *args: bptt(*args)[:3], at=None,
               sample=rnn_point, wrt=("W", "U", "b"))
check_gradient("bptt.delta", rnn_loss, lambda *args: bptt(*args)[3], at=None,
               sample=rnn_point, wrt="h0")

# %% [markdown] tags=["solution"]
# Keeping only the last step's terms fails against JAX as it did against SymPy:

# %% tags=["solution"]
def last_step_only(W, U, b, h0, xs, ys):
    hs = rnn_states(W, U, b, h0, xs)
    a = (hs[-1] - ys[-1]) * (1 - hs[-1] ** 2)
    return jnp.outer(a, hs[-2]), jnp.outer(a, xs[-1]), a


with rejects("bptt.weights", "the gradient taken from the last step only (no sum over time)"):
    check_gradient("bptt.weights", rnn_loss, last_step_only, at=None, sample=rnn_point,
                   wrt=("W", "U", "b"))

# %% [markdown] tags=["solution"]
# ## A worked example
#
# One hidden unit, $w = 0.5$, $u = 1$, $b = 0$, the initial state $h_0 = 0.5$, the inputs
# $x = [1, -1, 0.5]$, and a loss on the last state only, $L = \tfrac12(h_3 - 1)^2$. Forward:
# $h_1 = \tanh(0.25 + 1) \approx 0.8483$, and then $h = [0.8483, -0.5196, 0.2357]$. The
# numbers are $1\times 1$ arrays, so that the general code above runs on them unchanged.

# %% tags=["solution"]
def last_state_loss(W, U, b, h0, xs, y):
    return 0.5 * jnp.sum((rnn_states(W, U, b, h0, xs)[-1] - y) ** 2)


example = (jnp.array([[0.5]]), jnp.array([[1.0]]), jnp.array([0.0]), jnp.array([0.5]),
           jnp.array([[1.0], [-1.0], [0.5]]), jnp.array([1.0]))
h_ex = jnp.concatenate(rnn_states(*example[:5]))  # h_0, h_1, h_2, h_3
print("h_1, h_2, h_3 =", h_ex[1:])
check_printed("bptt.example", "h_1, h_2, h_3", h_ex[1:], ["0.8483", "-0.5196", "0.2357"])

# %% [markdown] tags=["solution"]
# Backward: $\delta_3 = h_3 - 1 \approx -0.7643$, then
# $\delta_2 = w(1 - h_3^2)\,\delta_3 \approx -0.3609$ and $\delta_1 \approx -0.1317$. The three
# per-step terms $\delta_t(1 - h_t^2)\,h_{t-1}$ are about $-0.0185$, $-0.2235$ and $0.3751$,
# and their sum is $\partial L/\partial w \approx 0.1332$. The last step's term alone would
# have been $0.3751$, almost three times too large; the earlier steps pull the other way.

# %% tags=["solution"]
delta_3 = h_ex[3] - 1.0
delta_2 = 0.5 * (1 - h_ex[3] ** 2) * delta_3
delta_1 = 0.5 * (1 - h_ex[2] ** 2) * delta_2
deltas = jnp.array([delta_1, delta_2, delta_3])
terms = deltas * (1 - h_ex[1:] ** 2) * h_ex[:-1]
print("δ_1, δ_2, δ_3 =", deltas)
print("per-step terms =", terms, f" sum = {float(terms.sum()):.8f}")
check_printed("bptt.example", "δ_1, δ_2, δ_3", deltas, ["-0.1317", "-0.3609", "-0.7643"])
check_printed("bptt.example", "δ_t (1 - h_t²) h_{t-1}, t = 1, 2, 3", terms,
              ["-0.0185", "-0.2235", "0.3751"])
check_printed("bptt.example", "∂L/∂w", terms.sum(), "0.1332")

# %% [markdown] tags=["solution"]
# `jax.grad` of the loss, and the general backward pass above (given $g_3 = h_3 - 1$ and
# $g_1 = g_2 = 0$), land on the same number:

# %% tags=["solution"]
def last_state_bptt(W, U, b, h0, xs, y):
    gs = [jnp.zeros_like(h0)] * (len(xs) - 1) + [rnn_states(W, U, b, h0, xs)[-1] - y]
    return backward(W, U, b, h0, xs, gs)


jax_dw = jax.grad(last_state_loss)(*example)[0, 0]
check_close("bptt.example", "jax", "∂L/∂w by the per-step sum and by jax.grad", jax_dw,
            terms.sum())
check_close("bptt.example", "jax", "∂L/∂w by the backward pass and by jax.grad", jax_dw,
            last_state_bptt(*example)[0][0, 0])
check_printed("bptt.example", "∂L/∂w by jax.grad", jax_dw, "0.1332")

# %% [markdown] tags=["solution"]
# The example's loss sits on the last state alone, the special case $g_t = 0$ for $t < T$ of
# the backward pass above. That case is checked in general too: at this example and at seeded
# random points with five steps and a state of 3 entries.

# %% tags=["solution"]
check_gradient("bptt.weights", last_state_loss, lambda *args: last_state_bptt(*args)[:3],
               at=example, sample=lambda rng: rnn_point(rng)[:5] + (rng.uniform(-0.5, 0.5, 3),),
               wrt=("W", "U", "b"), label="loss on h_T only")
check_gradient("bptt.delta", last_state_loss, lambda *args: last_state_bptt(*args)[3],
               at=example, sample=lambda rng: rnn_point(rng)[:5] + (rng.uniform(-0.5, 0.5, 3),),
               wrt="h0", label="loss on h_T only")

# %% [markdown] tags=["solution"]
# ## The Jacobian between two states is a product
#
# Following the signal from step $T$ back to step $t$ multiplies it, once per step, by the
# transposed Jacobian of one update, $\partial h_k/\partial h_{k-1} = \operatorname{diag}
# (1 - h_k^2)\,W$. So the Jacobian of a late state with respect to an early one is a product
# of $T - t$ such factors, the latest on the left. SymPy proves it for two steps with the
# two-entry state of above:

# %% tags=["solution"]
def slopes(t):
    return sp.ImmutableMatrix(sp.diag(*tanh_slope(H[t])))


jacobian_31 = sp.Matrix(2, 2, lambda i, j: sp.Derivative(H[3][i], H[1][j]))
W_i = sp.ImmutableMatrix(Wm)
prove_equal("bptt.jacobians", jacobian_31, sp.MatMul(slopes(3), W_i, slopes(2), W_i),
            where=states_after(1), lhs=r"\frac{\partial h_3}{\partial h_1}")

# %% [markdown] tags=["solution"]
# and JAX agrees for five steps and a state of 3 entries, with `jax.jacobian` of the map
# from $h_0$ to $h_5$:

# %% tags=["solution"]
def final_state(h0, W, U, b, xs):
    return rnn_states(W, U, b, h0, xs)[-1]


def jacobian_product(h0, W, U, b, xs):
    hs = rnn_states(W, U, b, h0, xs)
    product = jnp.eye(h0.shape[0])
    for h_k in hs[1:]:
        product = (1 - h_k ** 2)[:, None] * W @ product
    return product


check_jacobian("bptt.jacobians", final_state, jacobian_product, at=None, wrt="h0",
               sample=lambda rng: (lambda p: (p[3], p[0], p[1], p[2], p[4]))(rnn_point(rng)))

# %% [markdown] tags=["solution"]
# Every slope $1 - h_k^2$ lies in $(0, 1]$, so each factor has spectral norm at most
# $\lVert W\rVert_2$, and $\lVert \partial h_T/\partial h_t\rVert_2 \le
# \lVert W\rVert_2^{\,T-t}$: geometric decay whenever $\lVert W\rVert_2 < 1$. Growth needs
# $\lVert W\rVert_2 > 1$ but is not guaranteed by it, since the slopes can be small.
#
# ## Vanishing and exploding, measured
#
# Now $T = 30$ steps, a state of 8 entries and inputs of 3. The recurrent matrix is
# $W = \rho\,Q$ with $Q$ orthogonal (from the QR decomposition of a seeded Gaussian matrix),
# so that its spectral norm and its spectral radius are both exactly $\rho$. Three settings:
#
# - **small weights**, $\rho = 0.5$, inputs of unit size: the bound promises a decay at least
#   as fast as $0.5^{T-t}$;
# - **large weights, linearized**, $\rho = 3$ with zero inputs and $b = 0$, $h_0 = 0$: the
#   state stays at the fixed point $h = 0$, every slope is exactly 1, and the Jacobians are
#   powers of $W$, of norm exactly $3^{T-t}$ (the linear case of Pascanu et al.);
# - **large weights, saturating**, $\rho = 3$ with the same unit-size inputs: the tanh units
#   saturate and their small slopes hold the product back.
#
# One jitted function runs the forward pass, forms the reverse products of the per-step
# factors $\operatorname{diag}(1 - h_k^2)W$ for all $t$ at once, and, as the reference, asks
# `jax.jacfwd` for $\partial h_T/\partial h_t$ of the network itself, one $t$ at a time under
# `vmap` (the steps before $t$ are skipped by a mask, so every $t$ shares one compiled
# function).

# %% tags=["solution"]
T, n, m = 30, 8, 3
rng = np.random.default_rng(16)
Q = jnp.asarray(np.linalg.qr(rng.standard_normal((n, n)))[0])
U_long = jnp.asarray(rng.standard_normal((n, m)) / np.sqrt(m))
xs_long = jnp.asarray(rng.standard_normal((T, m)))


@jax.jit
def state_jacobians(W, U, xs):
    b, h0 = jnp.zeros(n), jnp.zeros(n)

    def update(h, x_t):
        return jnp.tanh(W @ h + U @ x_t + b)

    _, hs = jax.lax.scan(lambda h, x_t: (update(h, x_t),) * 2, h0, xs)  # h_1 .. h_T
    factors = (1 - hs ** 2)[:, :, None] * W                             # diag(1 - h_k²) W
    _, products = jax.lax.scan(lambda P, J: (P @ J,) * 2, jnp.eye(n), factors, reverse=True)

    def from_step(h_t, t):  # h_T as a function of h_t: the updates after step t only
        def masked(h, k_x):
            k, x_t = k_x
            return jnp.where(k > t, update(h, x_t), h), None
        return jax.lax.scan(masked, h_t, (jnp.arange(1, T + 1), xs))[0]

    earlier = jnp.concatenate([h0[None], hs[:-1]])                      # h_0 .. h_{T-1}
    reference = jax.vmap(jax.jacfwd(from_step))(earlier, jnp.arange(T))
    return products, reference                                          # index t = 0 .. T-1


settings = {"ρ = 0.5, tanh": (0.5 * Q, xs_long),
            "ρ = 3, linearized at h = 0": (3 * Q, 0 * xs_long),
            "ρ = 3, tanh saturating": (3 * Q, xs_long)}
steps_back = T - np.arange(T)  # T - t for t = 0 .. T-1
norms, rates = {}, {}
for name, (W_s, xs_s) in settings.items():
    products, reference = state_jacobians(W_s, U_long, xs_s)
    scale = jnp.linalg.norm(reference, ord=2, axis=(1, 2))[:, None, None]
    check_close("bptt.jacobians", "jax", f"{name}: ∂h_T/∂h_t for t = 0..29 as the product of "
                "the per-step factors and by jax.jacfwd (each divided by its norm)",
                reference / scale, products / scale)
    norms[name] = np.linalg.norm(np.asarray(products), ord=2, axis=(1, 2))
    rates[name] = float(np.exp(np.polyfit(steps_back, np.log(norms[name]), 1)[0]))
    print(f"{name:<28} fitted rate per step {rates[name]:.4f}")

# %% tags=["solution"]
fig, ax = plt.subplots(figsize=(6.4, 4.0))
for (name, values), marker in zip(norms.items(), "os^"):
    ax.semilogy(steps_back, values, marker, ms=4, label=f"{name} (rate {rates[name]:.3g})")
ax.semilogy(steps_back, 0.5 ** steps_back, "k:", lw=1, label="$0.5^{T-t}$")
ax.semilogy(steps_back, 3.0 ** steps_back, "k--", lw=1, label="$3^{T-t}$")
ax.set_xlabel("steps back, $T - t$")
ax.set_ylabel(r"$\|\partial h_T / \partial h_t\|_2$")
ax.legend(fontsize=8, loc="center left")
show_figure(fig, "the norm of ∂h_T/∂h_t against T − t on a log scale: it falls below 0.5^(T−t) "
                 "for ρ = 0.5, follows 3^(T−t) exactly for the linearized ρ = 3, and stays "
                 "between about 0.24 and 16 for the saturating ρ = 3")

# %% [markdown] tags=["solution"]
# With $\rho = 0.5$ the norm stays under the bound $0.5^{T-t}$ at every distance, and the
# fitted rate is about $0.31$ per step, faster than the bound since the slopes are below 1:
# after 30 steps less than $10^{-14}$ of the signal is left.

# %% tags=["solution"]
small = norms["ρ = 0.5, tanh"]
check_that("bptt.vanishing", "measured", np.all(small <= 0.5 ** steps_back * (1 + 1e-12)),
           f"‖∂h_T/∂h_t‖ ≤ 0.5^(T−t) at all {T} distances; at T − t = 30 it is {small[0]:.2e}, "
           f"against 0.5^30 = {0.5 ** 30:.2e}")
check_that("bptt.vanishing", "measured", rates["ρ = 0.5, tanh"] <= 0.5,
           f"the fitted geometric rate is {rates['ρ = 0.5, tanh']:.4f} per step, at most 0.5")

# %% [markdown] tags=["solution"]
# Linearized with $\rho = 3$, the norm is $3^{T-t}$ to rounding, $2\times10^{14}$ after 30
# steps: the exploding gradient. The same weights with inputs of unit size drive the units
# into saturation, and the fitted rate drops to about $0.95$ per step; the norm wanders
# between about $0.24$ and $16$ instead of growing. A spectral radius above 1 is necessary
# for the explosion, not sufficient, as Pascanu et al. point out.

# %% tags=["solution"]
linear = norms["ρ = 3, linearized at h = 0"]
check_that("bptt.exploding", "measured",
           np.max(np.abs(linear / 3.0 ** steps_back - 1)) < 1e-12,
           f"linearized: ‖∂h_T/∂h_t‖ = 3^(T−t) within a relative 1e-12 at all {T} distances "
           f"({linear[0]:.3e} at T − t = 30)")
check_that("bptt.exploding", "measured", abs(rates["ρ = 3, linearized at h = 0"] - 3) < 1e-9,
           f"linearized: the fitted rate is {rates['ρ = 3, linearized at h = 0']:.12f} per step")
saturating = norms["ρ = 3, tanh saturating"]
check_that("bptt.exploding", "measured", rates["ρ = 3, tanh saturating"] < 1.5,
           f"saturating tanh: the fitted rate is {rates['ρ = 3, tanh saturating']:.4f} per step, "
           f"below 1.5 and far from 3; the norm stays between {saturating.min():.2f} and "
           f"{saturating.max():.1f}")

# %% [markdown] tags=["solution"]
# ## The same backward pass, derived by machine
#
# The recursion for $\delta_t$ and the sum over time were derived by hand above. `derive`
# regenerates both from the forward computation alone. It is given the three steps of the
# worked example unrolled, with the pre-activations $a_t = W h_{t-1} + U x_t + b$ and the
# states $h_t = \tanh(a_t)$ named, and the loss $L = \tfrac12\lVert h_3 - y\rVert^2$ with
# $y = 1$: `last_state_loss` written out for $T = 3$, at the same `example`. The numbers are
# the $1 \times 1$ arrays of that example, so the products are written `W @ h` as in the
# general code. (Written with plain numbers, the graph would be one of scalars, for which
# `derive` composes each gradient into a single expression and has SymPy simplify it; for
# three nested tanh steps that simplification did not finish in ten minutes. With the
# products, `derive` writes the closed form as the recursion in matrix notation instead and
# proves each product's gradient rule entry by entry.) SymPy derives each node's local
# derivative from its formula (the tanh's is $1 - \tanh^2 a_t = 1 - h_t^2$), and the backward
# pass runs node by node from $L$ down. The tables show this notebook's two results as they
# arise: the gradient reaching $h_t$ is the $\delta_t$ of the recursion, passed back through
# $W^\top$ (the loss has no term of its own at $h_1$ and $h_2$), and $W$, $U$ and $b$ fan out
# to all three steps, so each of their gradients is the sum of three branches, one per step;
# at $W$ these are the per-step terms $\delta_t(1 - h_t^2)\,h_{t-1}$. The pass is checked against
# JAX's backward pass, `jax.grad` and finite differences at the example and at seeded points
# near it, and against the example's printed numbers. (The drawing of the graph is left out:
# the edges from $W$, $U$, $b$ and the inputs to every step cross, and their labels land on
# top of each other. The tables give the same numbers.)

# %% tags=["solution"]
def unrolled_loss(W, U, b, h0, xs, y):
    a1 = named(W @ h0 + U @ xs[0] + b, "a1")
    h1 = named(jnp.tanh(a1), "h1")
    a2 = named(W @ h1 + U @ xs[1] + b, "a2")
    h2 = named(jnp.tanh(a2), "h2")
    a3 = named(W @ h2 + U @ xs[2] + b, "a3")
    h3 = named(jnp.tanh(a3), "h3")
    return 0.5 * jnp.sum((h3 - y) ** 2)


workbook = derive(unrolled_loss, at=dict(zip(["W", "U", "b", "h0", "xs", "y"], example)),
                  wrt=["W", "U", "b", "h0"], claim="bptt.machine", output="L", graph=False,
                  printed={"h1": ["0.8483"], "h2": ["-0.5196"], "h3": ["0.2357"],
                           "∂h1": ["-0.1317"], "∂h2": ["-0.3609"], "∂h3": ["-0.7643"],
                           "W": [["0.1332"]]})

# %% [markdown] tags=["solution"]
# The hand results at the same example against the machine's gradients: the $\delta_t$ of the
# recursion $\delta_3 = h_3 - 1$, $\delta_{t-1} = w(1 - h_t^2)\,\delta_t$ computed above, and
# $\delta_0 = w(1 - h_1^2)\,\delta_1$; the gradient at each pre-activation,
# $\delta_t(1 - h_t^2)$; each of the three branches that meet at $W$ against the per-step
# term $\delta_t(1 - h_t^2)\,h_{t-1}$, and $\partial L/\partial W$ against their sum; and
# $\partial L/\partial U = \sum_t \delta_t(1 - h_t^2)\,x_t$ and
# $\partial L/\partial b = \sum_t \delta_t(1 - h_t^2)$. Last, all four gradients against the
# general backward pass `last_state_bptt` of the worked example.

# %% tags=["solution"]
def as_1x1(v):
    return jnp.reshape(v, (1, 1))


xs_ex = example[4][:, 0]
pre = deltas * (1 - h_ex[1:] ** 2)  # δ_t (1 − h_t²), t = 1, 2, 3
hand = [("h3", "δ₃ = h₃ − 1", deltas[2:3]),
        ("h2", "δ₂ = w(1 − h₃²)δ₃", deltas[1:2]),
        ("h1", "δ₁ = w(1 − h₂²)δ₂", deltas[0:1]),
        ("h0", "δ₀ = w(1 − h₁²)δ₁", 0.5 * (1 - h_ex[1] ** 2) * deltas[0:1]),
        ("a3", "δ₃(1 − h₃²)", pre[2:3]),
        ("a2", "δ₂(1 − h₂²)", pre[1:2]),
        ("a1", "δ₁(1 − h₁²)", pre[0:1]),
        ("W", "the sum over time Σ δ_t(1 − h_t²)h_{t−1}", as_1x1(terms.sum())),
        ("U", "Σ δ_t(1 − h_t²)x_t", as_1x1(jnp.sum(pre * xs_ex))),
        ("b", "Σ δ_t(1 − h_t²)", jnp.sum(pre, keepdims=True))]
for name, formula, value in hand:
    check_close("bptt.machine", "num", f"∂L/∂{name} by derive and {formula}",
                workbook.grad(name), value)

through = {workbook.staged[user].inputs[1]: share
           for user, share in workbook.branches["W"].items()}  # keyed by h_{t−1}
for t in (1, 2, 3):
    check_close("bptt.machine", "num", f"the branch of ∂L/∂W through step {t} by derive and "
                f"δ_{t}(1 − h_{t}²)h_{t - 1}", through[f"h{t - 1}"], as_1x1(terms[t - 1]))

for name, value in zip(["W", "U", "b", "h0"], last_state_bptt(*example)):
    check_close("bptt.machine", "num", f"∂L/∂{name} by derive and by last_state_bptt",
                workbook.grad(name), value)

# %% tags=["solution"]
summary()
