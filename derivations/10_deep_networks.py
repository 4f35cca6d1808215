# %% [markdown] tags=["solution"]
# # 10 · Backpropagation through a deep network
#
# A network of $L$ affine layers, each followed by an elementwise activation, needs only four
# equations for its whole backward pass. An error signal $\delta^{[l]} = \partial\mathcal L /
# \partial z^{[l]}$ is started at the output, each layer reads its weight and bias gradients
# off it, and the signal is handed one layer down through the transposed weights and the
# activation's slope. This notebook derives those equations for two layers, proves each with
# SymPy, then writes a backward pass from nothing but the four equations and holds it against
# JAX's autodiff and finite differences for networks of depth 1 to 6. It closes with the same
# equations for a batch of samples stored as the columns of a matrix. Putting the backward
# pass to work (the document's training run, its gradient check, and what a backward pass
# costs) is left to notebook 10b.
#
# It follows “Backpropagation Derivation”, sections *Derivation for a 2-Layer Network*
# (Steps 3–5), *General Backpropagation Algorithm*, *Activation Function Derivatives* and
# *Batch Backpropagation*; and the index-by-index view of the same recursion in
# “Backpropagation, Once and for all!”, *Part 1* and *Part 2*.
#
# Vectors are columns throughout: a layer computes $z = Wa + b$, with $W$ of shape
# (outputs × inputs).

# %%
import numpy as np
import sympy as sp
from gradbook import *

verifies("deriv.layer2", "deriv.hidden", "deriv.layer1", "once.weight", "once.delta",
         "deriv.activations", "deriv.general", "deriv.batch")

# %% [markdown]
# ## The two-layer network
#
# The document's network has an input $x$, a hidden layer and an output layer, both with a
# sigmoid:
#
# $$z^{[1]} = W^{[1]}x + b^{[1]},\quad a^{[1]} = \sigma(z^{[1]}),\quad
#   z^{[2]} = W^{[2]}a^{[1]} + b^{[2]},\quad \hat y = a^{[2]} = \sigma(z^{[2]}),$$
#
# and the loss is the binary cross-entropy, summed over the outputs when there are several.
# Steps 1 and 2 of the document (verified in notebook 04) give the output error
# $\delta^{[2]} = \partial\mathcal L/\partial z^{[2]} = \hat y - y$. Everything below starts
# from that signal.
#
# ## Step 3: the output layer's parameters
#
# The loss depends on $W^{[2]}$ and $b^{[2]}$ only through $z^{[2]}$, so by the chain rule
# only the first derivatives $\partial\mathcal L/\partial z^{[2]} = \delta^{[2]}$ matter. The
# linear loss $\operatorname{tr}\big(\delta^{[2]\mathsf T} z^{[2]}\big) =
# \sum_k \delta^{[2]}_k z^{[2]}_k$ has exactly those first derivatives, so it stands in for
# any loss. With matrix symbols of symbolic sizes $n_1$ (hidden) and $n_2$ (outputs),
# SymPy's matrix calculus gives the two gradients for every size at once:

# %%
n0, n1, n2 = sp.symbols("n_0 n_1 n_2", integer=True, positive=True)
x = sp.MatrixSymbol("x", n0, 1)
W1 = sp.MatrixSymbol("W^{[1]}", n1, n0)
b1 = sp.MatrixSymbol("b^{[1]}", n1, 1)
a1 = sp.MatrixSymbol("a^{[1]}", n1, 1)
W2 = sp.MatrixSymbol("W^{[2]}", n2, n1)
b2 = sp.MatrixSymbol("b^{[2]}", n2, 1)
delta1 = sp.MatrixSymbol(r"\delta^{[1]}", n1, 1)
delta2 = sp.MatrixSymbol(r"\delta^{[2]}", n2, 1)

L2 = sp.Trace(delta2.T * (W2 * a1 + b2))
prove_equal("deriv.layer2", sp.Derivative(L2, W2), delta2 * a1.T)

# %%
prove_equal("deriv.layer2", sp.Derivative(L2, b2), delta2)

# %% [markdown]
# $\delta^{[2]} a^{[1]\mathsf T}$ is an outer product, $(n_2\times 1)(1\times n_1)$, the shape
# of $W^{[2]}$: entry $(j, i)$ is the error of output $j$ times the activation that weight
# $w_{ji}$ multiplies.
#
# In numbers: a network with 3 inputs, 4 hidden units and 2 outputs (no two sizes equal, so
# a transposition mistake cannot hide), the formulas written from the derivation, against
# `jax.grad` of the full loss and central differences. The labels are drawn as 0 or 1.

# %%
def sigmoid(z):
    return 1 / (1 + jnp.exp(-z))


def two_layer_loss(W1, b1, W2, b2, x, y):
    a1 = sigmoid(W1 @ x + b1)
    y_hat = sigmoid(W2 @ a1 + b2)
    return -jnp.sum(y * jnp.log(y_hat) + (1 - y) * jnp.log(1 - y_hat))


def output_layer_gradients(W1, b1, W2, b2, x, y):
    a1 = sigmoid(W1 @ x + b1)
    delta2 = sigmoid(W2 @ a1 + b2) - y
    return jnp.outer(delta2, a1), delta2


def two_layer_point(rng):
    return (rng.standard_normal((4, 3)), rng.standard_normal(4),
            rng.standard_normal((2, 4)), rng.standard_normal(2),
            rng.standard_normal(3), rng.integers(0, 2, 2).astype(float))


check_gradient("deriv.layer2", two_layer_loss, output_layer_gradients, at=None,
               sample=two_layer_point, wrt=("W2", "b2"), points=4)

# %% [markdown] tags=["solution"]
# ## Step 4: back into the hidden layer
#
# The same linear loss, differentiated with respect to the hidden activations, passes the
# error back through the transposed weights: every hidden unit collects the errors of all
# the outputs it feeds, each weighted by the connection.

# %% tags=["solution"]
prove_equal("deriv.hidden", sp.Derivative(L2, a1), W2.T * delta2)

# %% [markdown] tags=["solution"]
# The activation acts entry by entry, $a^{[1]}_i = \sigma(z^{[1]}_i)$, so going from
# $a^{[1]}$ to $z^{[1]}$ multiplies each entry by its own slope: an elementwise product, not
# a matrix product. SymPy's matrix symbols cannot apply a function entry by entry, so this
# step is proven with explicit sizes, 3 hidden units and 2 outputs. Nothing else is made
# concrete: the activation $\sigma$ and the loss $L$ are undefined functions, so the result
# holds for any activation and any loss, and SymPy keeps the loss's partial derivatives as
# unevaluated objects. On the page, $z^{[2]}_j$ and $\delta^{[2]}_j$ are names; `where=`
# says what they stand for, $\delta^{[2]}_j$ being $\partial L/\partial z^{[2]}_j$ at the
# network's $z^{[2]}$.

# %% tags=["solution"]
z_h = sp.Matrix(sp.symbols("z^{[1]}_1:4", real=True))
W_o = sp.Matrix(2, 3, lambda j, i: sp.Symbol(f"w^{{[2]}}_{{{j + 1}{i + 1}}}", real=True))
b_o = sp.Matrix(sp.symbols("b^{[2]}_1:3", real=True))
act = sp.Function("sigma")
L = sp.Function("L")
u = sp.symbols("u_1:3", real=True)  # placeholders for the loss's two arguments

z_o = sp.symbols("z^{[2]}_1:3", real=True)
d_o = sp.symbols(r"\delta^{[2]}_1:3", real=True)
z_o_value = W_o * z_h.applyfunc(act) + b_o
meaning = {z_o[j]: z_o_value[j] for j in (0, 1)}
meaning |= {d_o[j]: sp.Derivative(L(*u), u[j]).subs(dict(zip(u, z_o_value))) for j in (0, 1)}

slopes = z_h.applyfunc(lambda z: sp.Derivative(act(z), z))
prove_equal("deriv.hidden", derivative(L(*z_o), z_h),
            sp.matrix_multiply_elementwise(W_o.T * sp.Matrix(d_o), slopes), where=meaning)

# %% [markdown] tags=["solution"]
# Both halves of Step 4 in numbers, for the sigmoid network above. First the hidden
# activations are the variable, then the hidden pre-activations; the claimed gradients use
# only $W^{[2]}$, $\delta^{[2]} = \hat y - y$ and $\sigma' = \sigma(1-\sigma)$.

# %% tags=["solution"]
def loss_from_hidden_activations(a1, W2, b2, y):
    y_hat = sigmoid(W2 @ a1 + b2)
    return -jnp.sum(y * jnp.log(y_hat) + (1 - y) * jnp.log(1 - y_hat))


def gradient_wrt_a1(a1, W2, b2, y):
    return W2.T @ (sigmoid(W2 @ a1 + b2) - y)


check_gradient("deriv.hidden", loss_from_hidden_activations, gradient_wrt_a1, at=None,
               sample=lambda rng: (rng.uniform(0, 1, 4), rng.standard_normal((2, 4)),
                                   rng.standard_normal(2), rng.integers(0, 2, 2).astype(float)),
               wrt="a1")

# %% tags=["solution"]
def loss_from_hidden_scores(z1, W2, b2, y):
    return loss_from_hidden_activations(sigmoid(z1), W2, b2, y)


def delta1_formula(z1, W2, b2, y):
    a1 = sigmoid(z1)
    return gradient_wrt_a1(a1, W2, b2, y) * a1 * (1 - a1)


check_gradient("deriv.hidden", loss_from_hidden_scores, delta1_formula, at=None,
               sample=lambda rng: (rng.standard_normal(4), rng.standard_normal((2, 4)),
                                   rng.standard_normal(2), rng.integers(0, 2, 2).astype(float)),
               wrt="z1")

# %%
exercise("deriv.hidden",
         r"In the two-layer sigmoid network, the hidden pre-activations are $z^{[1]}$ (a column of "
         r"$n_1$), $a^{[1]} = \sigma(z^{[1]})$, and the output error $\delta^{[2]} = \hat y - y$ "
         r"is known (Steps 1 and 2). Find the hidden layer's error $\delta^{[1]} = \dfrac{\partial"
         r" \mathcal L}{\partial z^{[1]}}$, a column of $n_1$.",
         of="sum(-(y*log(yhat) + (1 - y)*log(1 - yhat)))", wrt="z1",
         answer="(W2.T @ delta2) * a1 * (1 - a1)",
         inputs={"z1": "n1 × 1", "W2": "n2 × n1", "b2": "n2 × 1", "y": "n2 × 1 in [0, 1]"},
         where={"sigma(t)": "1/(1 + exp(-t))", "a1": "sigma(z1)", "yhat": "sigma(W2 @ a1 + b2)",
                "delta2": "yhat - y"},
         sizes={"n1": 4, "n2": 2},
         spellings=["gradient_wrt_a1(a1, W2, b2, y) * a1 * (1 - a1)",
                    r"\big(W^{[l]\mathsf T}\delta^{[l]}\big) \odot", "(W.T @ delta) * slope"],
         same_as=delta1_formula)

# %% [markdown] tags=["solution"]
# ## Step 5: the first layer's parameters
#
# Once $\delta^{[1]}$ is known, the first layer is in the same position as the second was in
# Step 3, with the input $x$ in the place of $a^{[1]}$. The matrix identity is the same one,
# one layer down:

# %% tags=["solution"]
L1 = sp.Trace(delta1.T * (W1 * x + b1))
prove_equal("deriv.layer1", sp.Derivative(L1, W1), delta1 * x.T)

# %% tags=["solution"]
prove_equal("deriv.layer1", sp.Derivative(L1, b1), delta1)

# %% [markdown] tags=["solution"]
# The whole chain, Steps 2 to 5, written out as code and compared with autodiff of the
# complete two-layer loss and with finite differences:

# %% tags=["solution"]
def first_layer_gradients(W1, b1, W2, b2, x, y):
    a1 = sigmoid(W1 @ x + b1)
    delta2 = sigmoid(W2 @ a1 + b2) - y
    delta1 = (W2.T @ delta2) * a1 * (1 - a1)
    return jnp.outer(delta1, x), delta1


check_gradient("deriv.layer1", two_layer_loss, first_layer_gradients, at=None,
               sample=two_layer_point, wrt=("W1", "b1"), points=4)

# %%
exercise("deriv.layer1.W",
         r"For the whole two-layer network, $z^{[1]} = W^{[1]}x + b^{[1]}$, "
         r"$a^{[1]} = \sigma(z^{[1]})$, $\hat y = \sigma(W^{[2]}a^{[1]} + b^{[2]})$, with "
         r"$\delta^{[2]} = \hat y - y$ known, find $\dfrac{\partial \mathcal L}{\partial "
         r"W^{[1]}}$, shaped like $W^{[1]}$ ($n_1 \times n_0$).",
         of="sum(-(y*log(yhat) + (1 - y)*log(1 - yhat)))", wrt="W1",
         answer="((W2.T @ delta2) * a1 * (1 - a1)) @ x.T",
         inputs={"W1": "n1 × n0", "b1": "n1 × 1", "W2": "n2 × n1", "b2": "n2 × 1",
                 "x": "n0 × 1", "y": "n2 × 1 in [0, 1]"},
         where={"sigma(t)": "1/(1 + exp(-t))", "z1": "W1 @ x + b1", "a1": "sigma(z1)",
                "yhat": "sigma(W2 @ a1 + b2)", "delta2": "yhat - y"},
         sizes={"n0": 3, "n1": 4, "n2": 2},
         spellings=["jnp.outer(delta1, x)", r"\delta^{[1]} x^{\mathsf T}"],
         same_as=lambda W1, b1, W2, b2, x, y: first_layer_gradients(W1, b1, W2, b2, x, y)[0])

# %% [markdown] tags=["solution"]
# ## The same two facts, one weight at a time
#
# “Backpropagation, Once and for all!” reads the same results off the computation graph,
# entry by entry and without biases: $z^{[l]}_j = \sum_i w_{ji}\, a^{[l-1]}_i$. The weight
# $w_{ji}$ enters one multiply gate, whose other input is $a^{[l-1]}_i$, so (*Part 1*)
#
# $$\frac{\partial L}{\partial w_{ji}} = \frac{\partial L}{\partial z^{[l]}_j}\, a^{[l-1]}_i .$$
#
# As in Step 4, the loss is an undefined function $L$ of the layer's outputs, and
# $z^{[l]}_j$ and $\partial L/\partial z^{[l]}_j$ are names whose meaning `where=` supplies.
# A layer with 3 inputs and 2 outputs:

# %% tags=["solution"]
a_prev = sp.Matrix(sp.symbols("a^{[l-1]}_1:4", real=True))
w = sp.Matrix(2, 3, lambda j, i: sp.Symbol(f"w_{{{j + 1}{i + 1}}}", real=True))
z_l = sp.symbols("z^{[l]}_1:3", real=True)
dL_dz = [sp.Symbol(rf"\frac{{\partial L}}{{\partial z^{{[l]}}_{j}}}") for j in (1, 2)]

z_l_value = w * a_prev
meaning = {z_l[j]: z_l_value[j] for j in (0, 1)}
meaning |= {dL_dz[j]: sp.Derivative(L(*u), u[j]).subs(dict(zip(u, z_l_value))) for j in (0, 1)}

prove_equal("once.weight", derivative(L(*z_l), w),
            sp.Matrix(2, 3, lambda j, i: dL_dz[j] * a_prev[i]), where=meaning)

# %% [markdown] tags=["solution"]
# As a vector-Jacobian product: whatever the upstream gradient $g = \partial L/\partial z$
# is, the weight gradient is $g_j a_i$ in entry $(j, i)$. Here it is written index by index
# with `einsum` and compared with `jax.vjp` of $z = w a$ for a $2\times 3$ layer:

# %% tags=["solution"]
def weighted_sums(w, a):
    return w @ a


def weight_gradient(w, a, g):
    return jnp.einsum("j,i->ji", g, a)


check_vjp("once.weight", weighted_sums, weight_gradient, at=None,
          sample=lambda rng: (rng.standard_normal((2, 3)), rng.standard_normal(3)), wrt="w",
          points=4)

# %% [markdown] tags=["solution"]
# *Part 2* supplies $\partial L/\partial z^{[l]}_j$ recursively. The pre-activation
# $z^{[l-1]}_i$ goes through the activation $f$ and is then copied into every unit $j$ of
# the next layer, each copy multiplied by $w_{ji}$. The copy gate adds the gradients of the
# copies, the multiply gates scale them by the weights, and the activation multiplies by its
# slope:
#
# $$\frac{\partial L}{\partial z^{[l-1]}_i} = f'\big(z^{[l-1]}_i\big)
#   \sum_{j} w_{ji}\,\frac{\partial L}{\partial z^{[l]}_j}.$$
#
# SymPy proves it with the activation $f$ and the loss $L$ both undefined functions, for 3
# units feeding 2:

# %% tags=["solution"]
z_prev = sp.Matrix(sp.symbols("z^{[l-1]}_1:4", real=True))
f = sp.Function("f")
z_l_value = w * z_prev.applyfunc(f)
meaning = {z_l[j]: z_l_value[j] for j in (0, 1)}
meaning |= {dL_dz[j]: sp.Derivative(L(*u), u[j]).subs(dict(zip(u, z_l_value))) for j in (0, 1)}

with sp.evaluate(False):  # keep the document's order: f' first, then the sum over j
    recursion = sp.Matrix(3, 1, lambda i, _: sp.Mul(
        sp.Derivative(f(z_prev[i]), z_prev[i]),
        sp.Add(*[sp.Mul(w[j, i], dL_dz[j]) for j in (0, 1)])))
prove_equal("once.delta", derivative(L(*z_l), z_prev), recursion, where=meaning)

# %% [markdown] tags=["solution"]
# The matrix form of that sum is $W^{\mathsf T}\delta^{[l]}$: the recursion of Step 4 in
# “Backpropagation Derivation”. In numbers, with $f = \tanh$ (so $f' = 1 - \tanh^2$) and the sum
# over $j$ written as an index contraction:

# %% tags=["solution"]
def next_layer_scores(z_prev, w):
    return w @ jnp.tanh(z_prev)


def previous_layer_delta(z_prev, w, g):
    return (1 - jnp.tanh(z_prev) ** 2) * jnp.einsum("ji,j->i", w, g)


check_vjp("once.delta", next_layer_scores, previous_layer_delta, at=None,
          sample=lambda rng: (rng.standard_normal(3), rng.standard_normal((2, 3))),
          wrt="z_prev", points=4)

# %% [markdown]
# ## The activations' slopes
#
# The recursion needs $\sigma'(z)$ for each activation in use. The document lists four.
#
# **ReLU.** $\operatorname{ReLU}(z) = \max(0, z)$ is $z$ for $z > 0$ and $0$ otherwise.
# Differentiating branch by branch gives the indicator $\mathbf 1_{z>0}$. At $z = 0$ there
# is a corner and no derivative; the branch-wise rule assigns it the slope of the flat branch,
# 0, which is what the document's indicator says.

# %%
z = sp.Symbol("z", real=True)
ReLU = sp.Function("ReLU")
relu_branches = sp.Piecewise((z, z > 0), (0, True))
prove_chain("deriv.activations", sp.Derivative(ReLU(z), z),
            sp.Derivative(relu_branches, z),
            sp.Piecewise((1, z > 0), (0, True)), where={ReLU(z): relu_branches})

# %% [markdown]
# **Sigmoid** (worked through step by step in notebook 03) and **tanh**, each from its
# definition in exponentials, with the function's name kept on the page:

# %%
sigma = sp.Function("sigma")
prove_equal("deriv.activations", sp.Derivative(sigma(z), z), sigma(z) * (1 - sigma(z)),
            where={sigma(z): 1 / (1 + sp.exp(-z))})

# %%
tanh = sp.Function("tanh")
prove_equal("deriv.activations", sp.Derivative(tanh(z), z), 1 - tanh(z) ** 2,
            where={tanh(z): (sp.exp(z) - sp.exp(-z)) / (sp.exp(z) + sp.exp(-z))})

# %% [markdown]
# The three slopes in numbers, as vector-Jacobian products of the elementwise functions: the
# upstream gradient is multiplied entry by entry by the slope. The ReLU's points are kept
# at least 0.1 from the corner, where a finite difference would straddle the kink.

# %%
def relu(z):
    return jnp.maximum(z, 0.0)


def relu_slope(z):
    return jnp.where(z > 0, 1.0, 0.0)


def sigmoid_slope(z):
    return sigmoid(z) * (1 - sigmoid(z))


def tanh_slope(z):
    return 1 - jnp.tanh(z) ** 2


def away_from_corner(rng):
    z = rng.uniform(0.1, 3.0, 6) * rng.choice([-1.0, 1.0], 6)
    return (z,)


check_vjp("deriv.activations", relu, lambda z, g: g * relu_slope(z), at=None,
          sample=away_from_corner)
check_vjp("deriv.activations", sigmoid, lambda z, g: g * sigmoid_slope(z), at=None,
          sample=lambda rng: (rng.standard_normal(6) * 3,))
check_vjp("deriv.activations", jnp.tanh, lambda z, g: g * tanh_slope(z), at=None,
          sample=lambda rng: (rng.standard_normal(6) * 3,))

# %% [markdown]
# At the corner itself the answer is a convention, and libraries differ: `jax.nn.relu` uses
# the document's indicator (slope 0 at $z = 0$), while the gradient of `jnp.maximum(z, 0)`
# splits a tie evenly and gives $\tfrac12$.

# %%
check_close("deriv.activations", "jax", "slope of jax.nn.relu at z = 0 and 1[0 > 0] = 0",
            relu_slope(0.0), jax.grad(jax.nn.relu)(0.0))
check_close("deriv.activations", "jax", "slope of jnp.maximum(z, 0) at z = 0 and 1/2",
            0.5, jax.grad(relu)(0.0))

# %% [markdown] tags=["solution"]
# **Softmax with cross-entropy.** With $a = \operatorname{softmax}(z)$ and
# $\mathcal L = -\sum_i y_i \log a_i$, the derivative is
# $\partial\mathcal L/\partial z_i = a_i \sum_k y_k - y_i$, which is $a_i - y_i$ only when
# the targets sum to 1. For three classes SymPy proves the general form, with $a_i$ and
# $L$ as names for the softmax outputs and the loss:

# %% tags=["solution"]
zs = sp.Matrix(sp.symbols("z_1:4", real=True))
ys = sp.Matrix(sp.symbols("y_1:4", real=True))
a = sp.Matrix(sp.symbols("a_1:4", real=True))
softmax = {a[i]: sp.exp(zs[i]) / sum(sp.exp(zk) for zk in zs) for i in range(3)}
cross_entropy = -sum(ys[i] * sp.log(softmax[a[i]]) for i in range(3))

prove_equal("deriv.activations", derivative(L(*zs), zs), a * sum(ys) - ys,
            where=softmax | {L(*zs): cross_entropy})

# %% [markdown] tags=["solution"]
# and then the document's form, with the constraint $y_3 = 1 - y_1 - y_2$ substituted into
# the loss and into the right-hand side:

# %% tags=["solution"]
on_simplex = {ys[2]: 1 - ys[0] - ys[1]}
prove_equal("deriv.activations", derivative(L(*zs), zs), a - ys,
            where=softmax | on_simplex | {L(*zs): cross_entropy.subs(on_simplex)})

# %% [markdown] tags=["solution"]
# In numbers, for five classes, with soft targets drawn from a Dirichlet distribution so
# that they are non-negative and sum to 1:

# %% tags=["solution"]
def softmax_cross_entropy(z, y):
    return -jnp.sum(y * jax.nn.log_softmax(z))


def softmax_minus_targets(z, y):
    return jax.nn.softmax(z) - y


check_gradient("deriv.activations", softmax_cross_entropy, softmax_minus_targets, at=None,
               sample=lambda rng: (rng.standard_normal(5), rng.dirichlet(np.ones(5))),
               wrt="z", points=4)

# %% [markdown] tags=["solution"]
# With targets that do not sum to 1 the short form is wrong, and the check says so:

# %% tags=["solution"]
with rejects("deriv.activations", "∂L/∂z = a - y for targets that do not sum to 1"):
    check_gradient("deriv.activations", softmax_cross_entropy, softmax_minus_targets,
                   at=None, sample=lambda rng: (rng.standard_normal(5), rng.uniform(0, 1, 5)),
                   wrt="z")

# %% [markdown] tags=["solution"]
# ## The general algorithm
#
# For $L$ layers the forward pass computes and keeps $z^{[l]} = W^{[l]}a^{[l-1]} + b^{[l]}$
# and $a^{[l]} = \sigma^{[l]}(z^{[l]})$, with $a^{[0]} = x$. The backward pass is the four
# equations derived above, applied from the top:
#
# $$\delta^{[L]} = \frac{\partial\mathcal L}{\partial a^{[L]}} \odot \sigma^{[L]\prime}(z^{[L]}),
# \qquad \frac{\partial\mathcal L}{\partial W^{[l]}} = \delta^{[l]} a^{[l-1]\mathsf T},
# \qquad \frac{\partial\mathcal L}{\partial b^{[l]}} = \delta^{[l]},
# \qquad \delta^{[l-1]} = \big(W^{[l]\mathsf T}\delta^{[l]}\big) \odot \sigma^{[l-1]\prime}(z^{[l-1]}).$$
#
# To exercise the first equation in full, the test networks use a squared-error loss
# $\mathcal L = \tfrac12\lVert a^{[L]} - y\rVert^2$ on a sigmoid output, so that
# $\partial\mathcal L/\partial a^{[L]} = a^{[L]} - y$ and the output slope does not cancel.
# The hidden layers use ReLU, sigmoid or tanh. The layer widths are all different,
# $3 \to 5 \to 4 \to 6 \to 7 \to 5 \to 2$, cut to the depth wanted, and all parameters are
# packed into one flat vector $\theta$.

# %% tags=["solution"]
HIDDEN = {"ReLU": (relu, relu_slope), "sigmoid": (sigmoid, sigmoid_slope),
          "tanh": (jnp.tanh, tanh_slope)}


def widths_for(depth):
    return (3, 5, 4, 6, 7, 5)[:depth] + (2,)


def unpack(theta, widths):
    layers, start = [], 0
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        W = theta[start:start + n_out * n_in].reshape(n_out, n_in)
        b = theta[start + n_out * n_in:start + n_out * (n_in + 1)]
        layers.append((W, b))
        start += n_out * (n_in + 1)
    return layers


def n_parameters(widths):
    return sum(n_out * (n_in + 1) for n_in, n_out in zip(widths[:-1], widths[1:]))

# %% [markdown] tags=["solution"]
# The forward pass and its loss, and the backward pass. The backward pass calls no autodiff:
# it runs the forward pass to fill the cache, then applies the four equations, top layer
# first.

# %% tags=["solution"]
def forward(theta, x, widths, hidden):
    act, _ = HIDDEN[hidden]
    zs, activations = [], [x]
    for l, (W, b) in enumerate(unpack(theta, widths)):
        zs.append(W @ activations[-1] + b)
        activations.append(sigmoid(zs[-1]) if l == len(widths) - 2 else act(zs[-1]))
    return zs, activations


def network_loss(theta, x, y, widths, hidden):
    _, activations = forward(theta, x, widths, hidden)
    return 0.5 * jnp.sum((activations[-1] - y) ** 2)


def backprop(theta, x, y, widths, hidden):
    _, slope = HIDDEN[hidden]
    layers = unpack(theta, widths)
    zs, a = forward(theta, x, widths, hidden)
    L = len(layers)
    delta = (a[L] - y) * sigmoid_slope(zs[L - 1])          # δ[L] = ∂L/∂a[L] ⊙ σ'(z[L])
    grads = [None] * L
    for l in range(L, 0, -1):                                # l = L, ..., 1
        W, _ = layers[l - 1]
        grads[l - 1] = (jnp.outer(delta, a[l - 1]), delta)  # δ[l] a[l-1]ᵀ and δ[l]
        if l > 1:
            delta = (W.T @ delta) * slope(zs[l - 2])         # δ[l-1]
    return jnp.concatenate([g.ravel() for W_and_b in grads for g in W_and_b])

# %% [markdown] tags=["solution"]
# One check per hidden activation covers all depths from 1 to 6 at once: six networks share
# the input $x$ and target $y$, their losses are added, and the gradient with respect to
# $\theta_d$ is the gradient of network $d$ alone. A mismatch would be reported under the
# name of its depth. Each is compared with `jax.grad` and with central differences at three
# seeded random points. The weights are drawn with variance $1/n^{[l-1]}$, so that even the
# deepest networks neither saturate their output nor blow up, and their gradients are large
# enough for the finite differences to resolve.

# %% tags=["solution"]
DEPTHS = range(1, 7)


def random_theta(widths, rng):
    """Weights with variance 1/fan-in and small biases, so no layer saturates."""
    return np.concatenate([np.concatenate([rng.standard_normal(n_out * n_in) / np.sqrt(n_in),
                                           0.1 * rng.standard_normal(n_out)])
                           for n_in, n_out in zip(widths[:-1], widths[1:])])


def six_networks(hidden):
    def loss(depth1, depth2, depth3, depth4, depth5, depth6, x, y):
        thetas = (depth1, depth2, depth3, depth4, depth5, depth6)
        return sum(network_loss(t, x, y, widths_for(d), hidden) for d, t in zip(DEPTHS, thetas))

    def claimed(*args):
        *thetas, x, y = args
        return tuple(backprop(t, x, y, widths_for(d), hidden) for d, t in zip(DEPTHS, thetas))

    def point(rng):
        thetas = [random_theta(widths_for(d), rng) for d in DEPTHS]
        return (*thetas, rng.standard_normal(3), rng.uniform(0, 1, 2))

    return jax.jit(loss), jax.jit(claimed), point


for hidden in HIDDEN:
    loss, claimed, point = six_networks(hidden)
    print(f"{hidden} hidden layers, depths 1 to 6:")
    check_gradient("deriv.general", loss, claimed, at=None, sample=point,
                   wrt=tuple(f"depth{d}" for d in DEPTHS))

# %% [markdown] tags=["solution"]
# The check can tell a right recursion from a plausible wrong one. Dropping the slope
# $\sigma'(z^{[l-1]})$ from the recursion (passing $W^{[l]\mathsf T}\delta^{[l]}$ down
# unchanged) is rejected:

# %% tags=["solution"]
def backprop_without_slope(theta, x, y, widths, hidden):
    layers = unpack(theta, widths)
    zs, a = forward(theta, x, widths, hidden)
    L = len(layers)
    delta = (a[L] - y) * sigmoid_slope(zs[L - 1])
    grads = [None] * L
    for l in range(L, 0, -1):
        W, _ = layers[l - 1]
        grads[l - 1] = (jnp.outer(delta, a[l - 1]), delta)
        delta = W.T @ delta
    return jnp.concatenate([g.ravel() for W_and_b in grads for g in W_and_b])


three_layers = widths_for(3)
with rejects("deriv.general", "δ[l-1] = W[l]ᵀ δ[l] without the slope σ'(z[l-1])"):
    check_gradient(
        "deriv.general",
        jax.jit(lambda theta, x, y: network_loss(theta, x, y, three_layers, "tanh")),
        jax.jit(lambda theta, x, y: backprop_without_slope(theta, x, y, three_layers, "tanh")),
        at=None, wrt="theta", points=1,
        sample=lambda rng: (random_theta(three_layers, rng), rng.standard_normal(3),
                            rng.uniform(0, 1, 2)))

# %% [markdown] tags=["solution"]
# ## A batch of samples
#
# With $B$ samples as the columns of $X = A^{[0]}$, a layer computes
# $Z^{[l]} = W^{[l]}A^{[l-1]} + b^{[l]}\mathbf 1^{\mathsf T}$, where $\mathbf 1$ has $B$ ones
# and copies the bias into every column. The loss is the mean of the per-sample losses, and
# column $k$ of $\Delta^{[l]}$ is sample $k$'s own error $\delta^{[l]}_k$. The mean loss has
# the same first derivatives as $\frac1B\operatorname{tr}\big(\Delta^{[l]\mathsf T}
# Z^{[l]}\big)$, and with symbolic $B$ and widths SymPy gives:

# %% tags=["solution"]
B = sp.Symbol("B", integer=True, positive=True)
A_prev = sp.MatrixSymbol("A^{[l-1]}", n1, B)
W_l = sp.MatrixSymbol("W^{[l]}", n2, n1)
b_l = sp.MatrixSymbol("b^{[l]}", n2, 1)
Delta = sp.MatrixSymbol(r"\Delta^{[l]}", n2, B)
ones = sp.OneMatrix(B, 1)

L_batch = sp.Trace(Delta.T * (W_l * A_prev + b_l * ones.T)) / B
prove_equal("deriv.batch", sp.Derivative(L_batch, W_l), Delta * A_prev.T / B)

# %% [markdown] tags=["solution"]
# The product $\Delta^{[l]} A^{[l-1]\mathsf T}$ adds the $B$ outer products
# $\delta^{[l]}_k a^{[l-1]\mathsf T}_k$, one per sample, so the batch gradient is the average
# of the single-sample gradients. The bias gradient is the average of the columns of
# $\Delta^{[l]}$:

# %% tags=["solution"]
prove_equal("deriv.batch", sp.Derivative(L_batch, b_l), Delta * ones / B)

# %% [markdown] tags=["solution"]
# In numbers, for the document's network shape (2 inputs, 8 ReLU units, 1 sigmoid output,
# mean binary cross-entropy) and a batch of 6 samples with 0/1 labels. Notebook 10b trains
# this network with the manual backward pass written here.

# %% tags=["solution"]
def batch_forward(W1, b1, W2, b2, X):
    Z1 = W1 @ X + b1[:, None]
    A1 = relu(Z1)
    Z2 = W2 @ A1 + b2[:, None]
    return Z1, A1, sigmoid(Z2)


def mean_bce(W1, b1, W2, b2, X, Y):
    Y_hat = batch_forward(W1, b1, W2, b2, X)[-1]
    return -jnp.mean(Y * jnp.log(Y_hat) + (1 - Y) * jnp.log(1 - Y_hat))


def batch_backprop(W1, b1, W2, b2, X, Y):
    Z1, A1, Y_hat = batch_forward(W1, b1, W2, b2, X)
    B = X.shape[1]
    Delta2 = Y_hat - Y
    Delta1 = (W2.T @ Delta2) * relu_slope(Z1)
    return (Delta1 @ X.T / B, Delta1.sum(axis=1) / B,
            Delta2 @ A1.T / B, Delta2.sum(axis=1) / B)


def batch_point(rng):
    return (rng.standard_normal((8, 2)), rng.standard_normal(8), rng.standard_normal((1, 8)),
            rng.standard_normal(1), rng.standard_normal((2, 6)),
            rng.integers(0, 2, (1, 6)).astype(float))


check_gradient("deriv.batch", jax.jit(mean_bce), jax.jit(batch_backprop), at=None,
               sample=batch_point,
               wrt=("W1", "b1", "W2", "b2"), points=4)

# %%
exercise("deriv.batch.W",
         r"With $B$ samples as the columns of $A = A^{[l-1]}$ ($n_1 \times B$), a layer computes "
         r"$Z = WA + b\mathbf 1^{\mathsf T}$ ($W$ is $n_2 \times n_1$, the column $b$ is added to "
         r"every column), and the loss is the mean over the batch of per-sample losses whose "
         r"errors $\partial \mathcal L_k/\partial z_k$ are the columns of $\Delta$ "
         r"($n_2 \times B$). Find $\dfrac{\partial \mathcal L}{\partial W}$.",
         of="sum(Delta * (W @ A + b))/B", wrt="W", answer="Delta @ A.T / B",
         inputs={"W": "n2 × n1", "b": "n2 × 1", "A": "n1 × B", "Delta": "n2 × B"},
         sizes={"n1": 3, "n2": 2, "B": 5}, symbolic_sizes=True, batch="B",
         spellings=["Delta1 @ X.T / B", r"\Delta^{[l]} A^{[l-1]\mathsf T}/B",
                    r"\Delta * A_prev.T / B"],
         same_as=lambda W, b, A, Delta: Delta @ A.T / A.shape[1])
exercise("deriv.batch.b",
         r"For the same batch, find $\dfrac{\partial \mathcal L}{\partial b}$, a column of $n_2$.",
         of="sum(Delta * (W @ A + b))/B", wrt="b", answer="sum(Delta, axis=1, keepdims=True) / B",
         inputs={"W": "n2 × n1", "b": "n2 × 1", "A": "n1 × B", "Delta": "n2 × B"},
         sizes={"n1": 3, "n2": 2, "B": 5}, batch="B",
         spellings=["Delta1.sum(axis=1) / B", r"\Delta * ones / B"],
         same_as=lambda W, b, A, Delta: Delta.sum(axis=1, keepdims=True) / A.shape[1])

# %%
summary()
