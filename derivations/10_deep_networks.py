# %% [markdown]
# # 10 · Backpropagation through a deep network
#
# A network of $L$ affine layers, each followed by an elementwise activation, needs only four
# equations for its whole backward pass. An error signal $\delta^{[l]} = \partial\mathcal L /
# \partial z^{[l]}$ is started at the output, each layer reads its weight and bias gradients
# off it, and the signal is handed one layer down through the transposed weights and the
# activation's slope. This notebook derives those equations for two layers, proves each with
# SymPy, then writes a backward pass from nothing but the four equations and holds it against
# JAX's autodiff and finite differences for networks of depth 1 to 6. It ends with the
# document's small training run, its gradient check, and a count of the work and memory a
# backward pass costs.
#
# It follows “Backpropagation Derivation”, sections *Derivation for a 2-Layer Network*
# (Steps 3–5), *General Backpropagation Algorithm*, *Activation Function Derivatives*,
# *Batch Backpropagation*, *PyTorch Implementation*, *Complete Training with Gradient
# Verification* and *Computational Complexity*; and the index-by-index view of the same
# recursion in “Backpropagation, Once and for all!”, *Part 1* and *Part 2*.
#
# Vectors are columns throughout: a layer computes $z = Wa + b$, with $W$ of shape
# (outputs × inputs).

# %%
import matplotlib.pyplot as plt
import numpy as np
import sympy as sp
from gradbook import *

verifies("deriv.layer2", "deriv.hidden", "deriv.layer1", "once.weight", "once.delta",
         "deriv.activations", "deriv.general", "deriv.batch", "deriv.training",
         "deriv.gradcheck", "deriv.complexity")

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

# %% [markdown]
# ## Step 4: back into the hidden layer
#
# The same linear loss, differentiated with respect to the hidden activations, passes the
# error back through the transposed weights: every hidden unit collects the errors of all
# the outputs it feeds, each weighted by the connection.

# %%
prove_equal("deriv.hidden", sp.Derivative(L2, a1), W2.T * delta2)

# %% [markdown]
# The activation acts entry by entry, $a^{[1]}_i = \sigma(z^{[1]}_i)$, so going from
# $a^{[1]}$ to $z^{[1]}$ multiplies each entry by its own slope: an elementwise product, not
# a matrix product. SymPy's matrix symbols cannot apply a function entry by entry, so this
# step is proven with explicit sizes, 3 hidden units and 2 outputs. Nothing else is made
# concrete: the activation $\sigma$ and the loss $L$ are undefined functions, so the result
# holds for any activation and any loss, and SymPy keeps the loss's partial derivatives as
# unevaluated objects. On the page, $z^{[2]}_j$ and $\delta^{[2]}_j$ are names; `where=`
# says what they stand for, $\delta^{[2]}_j$ being $\partial L/\partial z^{[2]}_j$ at the
# network's $z^{[2]}$.

# %%
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

# %% [markdown]
# Both halves of Step 4 in numbers, for the sigmoid network above. First the hidden
# activations are the variable, then the hidden pre-activations; the claimed gradients use
# only $W^{[2]}$, $\delta^{[2]} = \hat y - y$ and $\sigma' = \sigma(1-\sigma)$.

# %%
def loss_from_hidden_activations(a1, W2, b2, y):
    y_hat = sigmoid(W2 @ a1 + b2)
    return -jnp.sum(y * jnp.log(y_hat) + (1 - y) * jnp.log(1 - y_hat))


def gradient_wrt_a1(a1, W2, b2, y):
    return W2.T @ (sigmoid(W2 @ a1 + b2) - y)


check_gradient("deriv.hidden", loss_from_hidden_activations, gradient_wrt_a1, at=None,
               sample=lambda rng: (rng.uniform(0, 1, 4), rng.standard_normal((2, 4)),
                                   rng.standard_normal(2), rng.integers(0, 2, 2).astype(float)),
               wrt="a1")

# %%
def loss_from_hidden_scores(z1, W2, b2, y):
    return loss_from_hidden_activations(sigmoid(z1), W2, b2, y)


def delta1_formula(z1, W2, b2, y):
    a1 = sigmoid(z1)
    return gradient_wrt_a1(a1, W2, b2, y) * a1 * (1 - a1)


check_gradient("deriv.hidden", loss_from_hidden_scores, delta1_formula, at=None,
               sample=lambda rng: (rng.standard_normal(4), rng.standard_normal((2, 4)),
                                   rng.standard_normal(2), rng.integers(0, 2, 2).astype(float)),
               wrt="z1")

# %% [markdown]
# ## Step 5: the first layer's parameters
#
# Once $\delta^{[1]}$ is known, the first layer is in the same position as the second was in
# Step 3, with the input $x$ in the place of $a^{[1]}$. The matrix identity is the same one,
# one layer down:

# %%
L1 = sp.Trace(delta1.T * (W1 * x + b1))
prove_equal("deriv.layer1", sp.Derivative(L1, W1), delta1 * x.T)

# %%
prove_equal("deriv.layer1", sp.Derivative(L1, b1), delta1)

# %% [markdown]
# The whole chain, Steps 2 to 5, written out as code and compared with autodiff of the
# complete two-layer loss and with finite differences:

# %%
def first_layer_gradients(W1, b1, W2, b2, x, y):
    a1 = sigmoid(W1 @ x + b1)
    delta2 = sigmoid(W2 @ a1 + b2) - y
    delta1 = (W2.T @ delta2) * a1 * (1 - a1)
    return jnp.outer(delta1, x), delta1


check_gradient("deriv.layer1", two_layer_loss, first_layer_gradients, at=None,
               sample=two_layer_point, wrt=("W1", "b1"), points=4)

# %% [markdown]
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

# %%
a_prev = sp.Matrix(sp.symbols("a^{[l-1]}_1:4", real=True))
w = sp.Matrix(2, 3, lambda j, i: sp.Symbol(f"w_{{{j + 1}{i + 1}}}", real=True))
z_l = sp.symbols("z^{[l]}_1:3", real=True)
dL_dz = [sp.Symbol(rf"\frac{{\partial L}}{{\partial z^{{[l]}}_{j}}}") for j in (1, 2)]

z_l_value = w * a_prev
meaning = {z_l[j]: z_l_value[j] for j in (0, 1)}
meaning |= {dL_dz[j]: sp.Derivative(L(*u), u[j]).subs(dict(zip(u, z_l_value))) for j in (0, 1)}

prove_equal("once.weight", derivative(L(*z_l), w),
            sp.Matrix(2, 3, lambda j, i: dL_dz[j] * a_prev[i]), where=meaning)

# %% [markdown]
# As a vector-Jacobian product: whatever the upstream gradient $g = \partial L/\partial z$
# is, the weight gradient is $g_j a_i$ in entry $(j, i)$. Here it is written index by index
# with `einsum` and compared with `jax.vjp` of $z = w a$ for a $2\times 3$ layer:

# %%
def weighted_sums(w, a):
    return w @ a


def weight_gradient(w, a, g):
    return jnp.einsum("j,i->ji", g, a)


check_vjp("once.weight", weighted_sums, weight_gradient, at=None,
          sample=lambda rng: (rng.standard_normal((2, 3)), rng.standard_normal(3)), wrt="w",
          points=4)

# %% [markdown]
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

# %%
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

# %% [markdown]
# The matrix form of that sum is $W^{\mathsf T}\delta^{[l]}$: the recursion of Step 4 in
# “Backpropagation Derivation”. In numbers, with $f = \tanh$ (so $f' = 1 - \tanh^2$) and the sum
# over $j$ written as an index contraction:

# %%
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

# %% [markdown]
# **Softmax with cross-entropy.** With $a = \operatorname{softmax}(z)$ and
# $\mathcal L = -\sum_i y_i \log a_i$, the derivative is
# $\partial\mathcal L/\partial z_i = a_i \sum_k y_k - y_i$, which is $a_i - y_i$ only when
# the targets sum to 1. For three classes SymPy proves the general form, with $a_i$ and
# $L$ as names for the softmax outputs and the loss:

# %%
zs = sp.Matrix(sp.symbols("z_1:4", real=True))
ys = sp.Matrix(sp.symbols("y_1:4", real=True))
a = sp.Matrix(sp.symbols("a_1:4", real=True))
softmax = {a[i]: sp.exp(zs[i]) / sum(sp.exp(zk) for zk in zs) for i in range(3)}
cross_entropy = -sum(ys[i] * sp.log(softmax[a[i]]) for i in range(3))

prove_equal("deriv.activations", derivative(L(*zs), zs), a * sum(ys) - ys,
            where=softmax | {L(*zs): cross_entropy})

# %% [markdown]
# and then the document's form, with the constraint $y_3 = 1 - y_1 - y_2$ substituted into
# the loss and into the right-hand side:

# %%
on_simplex = {ys[2]: 1 - ys[0] - ys[1]}
prove_equal("deriv.activations", derivative(L(*zs), zs), a - ys,
            where=softmax | on_simplex | {L(*zs): cross_entropy.subs(on_simplex)})

# %% [markdown]
# In numbers, for five classes, with soft targets drawn from a Dirichlet distribution so
# that they are non-negative and sum to 1:

# %%
def softmax_cross_entropy(z, y):
    return -jnp.sum(y * jax.nn.log_softmax(z))


def softmax_minus_targets(z, y):
    return jax.nn.softmax(z) - y


check_gradient("deriv.activations", softmax_cross_entropy, softmax_minus_targets, at=None,
               sample=lambda rng: (rng.standard_normal(5), rng.dirichlet(np.ones(5))),
               wrt="z", points=4)

# %% [markdown]
# With targets that do not sum to 1 the short form is wrong, and the check says so:

# %%
with rejects("deriv.activations", "∂L/∂z = a - y for targets that do not sum to 1"):
    check_gradient("deriv.activations", softmax_cross_entropy, softmax_minus_targets,
                   at=None, sample=lambda rng: (rng.standard_normal(5), rng.uniform(0, 1, 5)),
                   wrt="z")

# %% [markdown]
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

# %%
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

# %% [markdown]
# The forward pass and its loss, and the backward pass. The backward pass calls no autodiff:
# it runs the forward pass to fill the cache, then applies the four equations, top layer
# first.

# %%
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

# %% [markdown]
# One check per hidden activation covers all depths from 1 to 6 at once: six networks share
# the input $x$ and target $y$, their losses are added, and the gradient with respect to
# $\theta_d$ is the gradient of network $d$ alone. A mismatch would be reported under the
# name of its depth. Each is compared with `jax.grad` and with central differences at three
# seeded random points. The weights are drawn with variance $1/n^{[l-1]}$, so that even the
# deepest networks neither saturate their output nor blow up, and their gradients are large
# enough for the finite differences to resolve.

# %%
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

# %% [markdown]
# The check can tell a right recursion from a plausible wrong one. Dropping the slope
# $\sigma'(z^{[l-1]})$ from the recursion (passing $W^{[l]\mathsf T}\delta^{[l]}$ down
# unchanged) is rejected:

# %%
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

# %% [markdown]
# ## A batch of samples
#
# With $B$ samples as the columns of $X = A^{[0]}$, a layer computes
# $Z^{[l]} = W^{[l]}A^{[l-1]} + b^{[l]}\mathbf 1^{\mathsf T}$, where $\mathbf 1$ has $B$ ones
# and copies the bias into every column. The loss is the mean of the per-sample losses, and
# column $k$ of $\Delta^{[l]}$ is sample $k$'s own error $\delta^{[l]}_k$. The mean loss has
# the same first derivatives as $\frac1B\operatorname{tr}\big(\Delta^{[l]\mathsf T}
# Z^{[l]}\big)$, and with symbolic $B$ and widths SymPy gives:

# %%
B = sp.Symbol("B", integer=True, positive=True)
A_prev = sp.MatrixSymbol("A^{[l-1]}", n1, B)
W_l = sp.MatrixSymbol("W^{[l]}", n2, n1)
b_l = sp.MatrixSymbol("b^{[l]}", n2, 1)
Delta = sp.MatrixSymbol(r"\Delta^{[l]}", n2, B)
ones = sp.OneMatrix(B, 1)

L_batch = sp.Trace(Delta.T * (W_l * A_prev + b_l * ones.T)) / B
prove_equal("deriv.batch", sp.Derivative(L_batch, W_l), Delta * A_prev.T / B)

# %% [markdown]
# The product $\Delta^{[l]} A^{[l-1]\mathsf T}$ adds the $B$ outer products
# $\delta^{[l]}_k a^{[l-1]\mathsf T}_k$, one per sample, so the batch gradient is the average
# of the single-sample gradients. The bias gradient is the average of the columns of
# $\Delta^{[l]}$:

# %%
prove_equal("deriv.batch", sp.Derivative(L_batch, b_l), Delta * ones / B)

# %% [markdown]
# In numbers, for the document's network shape (2 inputs, 8 ReLU units, 1 sigmoid output,
# mean binary cross-entropy) and a batch of 6 samples with 0/1 labels. The manual backward
# pass below is the one the training run further down uses.

# %%
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

# %% [markdown]
# ## The document's training run
#
# The document trains that network on a small problem: 100 points drawn from a standard
# normal in the plane, labelled 1 where $x_0 x_1 > 0$ (the first and third quadrants),
# weights initialised as $0.5$ times standard normals, biases at zero, plain gradient
# descent with learning rate 0.5 for 1000 epochs, every gradient from the manual backward
# pass. The document seeds PyTorch's generator; here NumPy's generator with seed 42 draws
# the data and the initial weights, so the numbers differ from a PyTorch run but the set-up
# is the same. The document's code stores samples as rows and computes $XW$; here they are
# columns and the layer computes $WX$, so every matrix is the transpose of the document's.

# %%
rng = np.random.default_rng(42)
X_train = jnp.asarray(rng.standard_normal((2, 100)))
Y_train = jnp.where(X_train[0] * X_train[1] > 0, 1.0, 0.0)[None, :]
initial = (0.5 * jnp.asarray(rng.standard_normal((8, 2))), jnp.zeros(8),
           0.5 * jnp.asarray(rng.standard_normal((1, 8))), jnp.zeros(1))
LEARNING_RATE, EPOCHS = 0.5, 1000

# %% [markdown]
# The document clips $\hat y$ to $[10^{-7}, 1 - 10^{-7}]$ before taking logarithms, but
# only for the loss it prints: its backward pass uses $\hat y - y$ unclipped, which is the
# gradient of the unclipped loss. Here the loss recorded and differentiated is the unclipped
# mean cross-entropy, which float64 evaluates without trouble; the clipped value is recorded
# too, to see what the clip changes. Each epoch records the parameters it started from, and
# the loop runs as one compiled `lax.scan`.

# %%
def clipped_mean_bce(W1, b1, W2, b2, X, Y):
    Y_hat = jnp.clip(batch_forward(W1, b1, W2, b2, X)[-1], 1e-7, 1 - 1e-7)
    return -jnp.mean(Y * jnp.log(Y_hat) + (1 - Y) * jnp.log(1 - Y_hat))


@jax.jit
def train(params):
    def epoch(params, _):
        grads = batch_backprop(*params, X_train, Y_train)
        Y_hat = batch_forward(*params, X_train)[-1]
        record = (params, mean_bce(*params, X_train, Y_train),
                  clipped_mean_bce(*params, X_train, Y_train),
                  jnp.min(jnp.minimum(Y_hat, 1 - Y_hat)))
        return tuple(p - LEARNING_RATE * g for p, g in zip(params, grads)), record

    return jax.lax.scan(epoch, params, None, length=EPOCHS)


final, (history, losses, clipped_losses, closest_to_0_or_1) = train(initial)

# %% [markdown]
# At several epochs along the way, the manual gradient at that epoch's parameters is
# compared with `jax.grad` of the mean cross-entropy:

# %%
def flat(arrays):
    return jnp.concatenate([jnp.ravel(a) for a in arrays])


manual_gradient = jax.jit(lambda params: flat(batch_backprop(*params, X_train, Y_train)))
autodiff_gradient = jax.jit(lambda params: flat(jax.grad(mean_bce, argnums=(0, 1, 2, 3))(
    *params, X_train, Y_train)))
for k in (0, 1, 10, 100, 999):
    params_k = tuple(h[k] for h in history)
    check_close("deriv.training", "jax", f"manual and jax.grad gradients at epoch {k}",
                autodiff_gradient(params_k), manual_gradient(params_k))

# %% [markdown]
# Training does what it should: the loss falls, and at the end the network classifies every
# training point correctly.

# %%
accuracy = float(jnp.mean((batch_forward(*final, X_train)[-1] > 0.5) == (Y_train > 0.5)))
print(f"loss at epoch 0: {float(losses[0]):.4f}, at epoch 999: {float(losses[-1]):.4f}; "
      f"final training accuracy {100 * accuracy:.0f}%")
check_that("deriv.training", "jax", losses[-1] < 0.1 * losses[0],
           f"the loss falls from {float(losses[0]):.4f} to {float(losses[-1]):.4f}, "
           "below a tenth of its starting value")

# %%
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.semilogy(np.arange(EPOCHS), np.asarray(losses))
ax.set_xlabel("epoch")
ax.set_ylabel("mean binary cross-entropy")
ax.set_title("2 → 8 (ReLU) → 1 (sigmoid), learning rate 0.5")
ax.grid(True, which="both", alpha=0.3)
show_figure(fig, "training loss over 1000 epochs, log scale, falling from about 0.71 to 0.02")

# %% [markdown]
# The clip does come into play late in training: the most confident predictions get much
# closer to 0 or 1 than $10^{-7}$. It changes the recorded loss only in the eighth decimal,
# far below anything the plot could show, and it never touches the gradient, because
# neither the document's backward pass nor this one looks at the clipped values.

# %%
print(f"closest any prediction gets to 0 or 1: {float(jnp.min(closest_to_0_or_1)):.0e}; "
      f"largest |clipped - unclipped| loss over the run: "
      f"{float(jnp.max(jnp.abs(clipped_losses - losses))):.1e}")

# %% [markdown]
# ## The gradient check
#
# The document's final check compares backpropagation with central differences,
# $\big(f(\theta + \epsilon e_i) - f(\theta - \epsilon e_i)\big)/(2\epsilon)$ with
# $\epsilon = 10^{-5}$, one parameter at a time, on 10 random samples with random 0/1 labels
# and a freshly initialised network, and requires the relative error
# $|g_{\text{num}} - g_{\text{bp}}| / (|g_{\text{num}}| + 10^{-8})$ to stay below $10^{-4}$
# for every parameter. Here the network is initialised as PyTorch's `nn.Linear` does,
# uniformly in $\pm 1/\sqrt{\text{fan-in}}$, from a seeded generator; backpropagation is the
# manual `batch_backprop` above.

# %%
rng = np.random.default_rng(0)
W1_c, W2_c = rng.uniform(-1, 1, (8, 2)) / np.sqrt(2), rng.uniform(-1, 1, (1, 8)) / np.sqrt(8)
b1_c, b2_c = rng.uniform(-1, 1, 8) / np.sqrt(2), rng.uniform(-1, 1, 1) / np.sqrt(8)
X_small = rng.standard_normal((2, 10))
Y_small = rng.integers(0, 2, (1, 10)).astype(float)
SHAPES = [(8, 2), (8,), (1, 8), (1,)]
theta_c = np.concatenate([a.ravel() for a in (W1_c, b1_c, W2_c, b2_c)])


def split(theta):
    ends = np.cumsum([int(np.prod(s)) for s in SHAPES])
    return tuple(p.reshape(s) for p, s in zip(jnp.split(theta, ends[:-1]), SHAPES))


@jax.jit
def gradient_check(theta, X, Y):
    eps = jnp.asarray(1e-5, theta.dtype)              # the document's step, in θ's precision
    loss = lambda t: mean_bce(*split(t), X, Y)
    steps = eps * jnp.eye(theta.size, dtype=theta.dtype)
    numeric = jax.vmap(lambda e: (loss(theta + e) - loss(theta - e)) / (2 * eps))(steps)
    return numeric, flat(batch_backprop(*split(theta), X, Y)), loss(theta)


numeric, backprop_gradient, loss_value = gradient_check(*map(jnp.asarray,
                                                                (theta_c, X_small, Y_small)))
relative = jnp.abs(numeric - backprop_gradient) / (jnp.abs(numeric) + 1e-8)
check_that("deriv.gradcheck", "fd", jnp.max(relative) < 1e-4,
           f"float64, ε = 1e-5, loss {float(loss_value):.4f}: largest relative error over the "
           f"33 parameters is "
           f"{float(jnp.max(relative)):.1e}, below the document's 1e-4")

# %% [markdown]
# That passes with four orders of magnitude to spare, and the margin can be predicted. A
# central difference with step $\epsilon$ has two errors: truncation,
# $\tfrac{\epsilon^2}{6}\,|\partial_i^3 f|$, and rounding, since each loss value carries an
# error of a few units of the last place $u\,|f|$ and the difference of two of them is
# divided by $2\epsilon$: about $c\,u\,|f|/\epsilon$. With $u = 2^{-53}$ in float64, a
# generous $c = 10$, and the third derivative along each parameter computed by JAX, the
# predicted error bound for each parameter is below:

# %%
@jax.jit
def third_derivatives(theta):
    def along(e):
        f = lambda t: mean_bce(*split(theta + t * e), X_small, Y_small)
        return jax.grad(jax.grad(jax.grad(f)))(0.0)
    return jax.vmap(along)(jnp.eye(theta.size))


def predicted_error(theta, loss_value, unit_roundoff, c=10.0, eps=1e-5):
    truncation = eps ** 2 / 6 * jnp.abs(third_derivatives(theta))
    return truncation + c * unit_roundoff * abs(loss_value) / eps


bound64 = predicted_error(jnp.asarray(theta_c), loss_value, 2.0 ** -53)
error64 = jnp.abs(numeric - backprop_gradient)
check_that("deriv.gradcheck", "fd", bool(jnp.all(error64 <= bound64)),
           f"float64: every |numeric - backprop| is within its predicted bound (largest error "
           f"{float(jnp.max(error64)):.1e}, largest bound {float(jnp.max(bound64)):.1e})")
worst_relative_bound = float(jnp.max(bound64 / jnp.abs(backprop_gradient)))
check_that("deriv.gradcheck", "fd", jnp.max(relative) <= worst_relative_bound,
           f"float64: largest relative error {float(jnp.max(relative)):.1e} is below the "
           f"predicted bound divided by the smallest gradient entry, {worst_relative_bound:.1e}")

# %% [markdown]
# The same error model says why the document's check is fragile in single precision, which
# is what a default PyTorch tensor holds and what the document's code runs in: with
# $u = 2^{-24} \approx 6\times10^{-8}$ and a loss near 0.7 the rounding term is
# $10 \cdot 6\times 10^{-8} \cdot 0.7 / 10^{-5} \approx 4\times10^{-2}$ at worst, and even a
# tenth of that is far above $10^{-4}$ times the gradient entries here, which range from
# $4\times10^{-4}$ to $0.27$. Repeating the check in float32 shows it:

# %%
numeric32, backprop32, loss32 = gradient_check(*(jnp.asarray(v, jnp.float32)
                                                  for v in (theta_c, X_small, Y_small)))
error32 = jnp.abs(numeric32 - backprop32).astype(jnp.float64)
relative32 = error32 / (jnp.abs(numeric32).astype(jnp.float64) + 1e-8)
print(f"float32, ε = 1e-5: largest |numeric - backprop| {float(jnp.max(error32)):.1e}, "
      f"largest relative error {float(jnp.max(relative32)):.1e}")
bound32 = 10 * 2.0 ** -24 * float(loss32) / 1e-5
check_that("deriv.gradcheck", "fd", bool(jnp.max(error32) <= bound32),
           f"float32: the largest error {float(jnp.max(error32)):.1e} is within the rounding "
           f"bound {bound32:.1e} of the same model, so its relative error "
           f"{float(jnp.max(relative32)):.0e} is the finite difference's rounding, not an "
           "error in backprop")

# %% [markdown]
# ## What a backward pass costs
#
# The document says the backward pass costs the same order of work as the forward pass,
# $O(\sum_l n^{[l-1]} n^{[l]})$, proportional to the number of parameters, and must keep
# every layer's activations, $O(\sum_l n^{[l]})$ numbers per sample. Work is counted here
# with XLA's own cost analysis of the compiled programs, which is exact and the same on
# every run, instead of with a clock.
#
# The prediction, stated before measuring: per layer the forward pass does one matrix
# product, $W^{[l]} A^{[l-1]}$, and the backward pass does two: $\Delta^{[l]}$ times
# $A^{[l-1]\mathsf T}$ for the weights, and $W^{[l]\mathsf T}\Delta^{[l]}$ for the error one
# layer down. The
# gradient program also reruns the forward pass, so it should cost about 3 times the
# forward pass (a little less, since the first layer's error need not be passed to the
# input), and the elementwise work is too small to change that much. The check asks for the
# ratio to stay below **4** at every size.
#
# The networks: 16 inputs, equal hidden widths $n$ with ReLU, one sigmoid output, mean
# binary cross-entropy, a batch of 50 samples; widths grow at depth 3 and depths grow at
# width 64.

# %%
BATCH = 50


def mlp_loss(params, X, Y):
    A = X
    for W, b in params[:-1]:
        A = relu(W @ A + b[:, None])
    W, b = params[-1]
    Y_hat = sigmoid(W @ A + b[:, None])
    return -jnp.mean(Y * jnp.log(Y_hat) + (1 - Y) * jnp.log(1 - Y_hat))


def mlp(width, depth, seed=0):
    rng = np.random.default_rng(seed)
    widths = [16] + [width] * depth + [1]
    params = [(jnp.asarray(rng.standard_normal((m, n)) / np.sqrt(n)), jnp.zeros(m))
              for n, m in zip(widths[:-1], widths[1:])]
    X = jnp.asarray(rng.standard_normal((16, BATCH)))
    Y = jnp.asarray(rng.integers(0, 2, (1, BATCH)).astype(float))
    return widths, params, X, Y


def flops(f, *args):
    return jax.jit(f).lower(*args).compile().cost_analysis()["flops"]


def saved_for_backward(params, X, Y):
    """How many numbers with one column per sample jax.vjp keeps for the backward pass."""
    _, pullback = jax.vjp(mlp_loss, params, X, Y)
    return sum(a.size for a in jax.tree_util.tree_leaves(pullback)
               if a.ndim == 2 and a.shape[1] == BATCH)


def measure(width, depth):
    widths, params, X, Y = mlp(width, depth)
    forward_flops = flops(mlp_loss, params, X, Y)
    gradient_flops = flops(jax.grad(mlp_loss), params, X, Y)
    return dict(width=width, depth=depth, parameters=n_parameters(widths),
                neurons=sum(widths), forward=forward_flops, gradient=gradient_flops,
                ratio=gradient_flops / forward_flops, saved=saved_for_backward(params, X, Y))


by_width = [measure(n, 3) for n in (16, 32, 64, 128, 256)]
by_depth = [measure(64, d) for d in (1, 2, 4, 8)]

# %%
print(f"{'width':>5} {'depth':>5} {'params':>7} {'forward flops':>14} {'gradient flops':>15}"
      f" {'ratio':>6} {'flops/(B·params)':>17}")
for m in by_width + by_depth:
    print(f"{m['width']:>5} {m['depth']:>5} {m['parameters']:>7} {m['forward']:>14,.0f} "
          f"{m['gradient']:>15,.0f} {m['ratio']:>6.2f} "
          f"{m['forward'] / (BATCH * m['parameters']):>17.2f}")

# %% [markdown]
# The forward work per sample and parameter stays at 2 (one multiply and one add per
# weight), so the forward pass is $O(\text{parameters})$ per sample. The gradient costs
# close to 3 forward passes, as predicted: about 2.2 for a single hidden layer, whose error
# is never passed on to the input so that one of its three products is skipped, rising
# towards 3 as that saving matters less in wider and deeper networks.

# %%
ratios = [m["ratio"] for m in by_width + by_depth]
check_that("deriv.complexity", "measured", max(ratios) < 4,
           f"gradient flops / forward flops stays between {min(ratios):.2f} and "
           f"{max(ratios):.2f} for widths 16–256 and depths 1–8, below the stated bound 4")

# %% [markdown]
# Memory: `jax.vjp` returns the backward pass as a function, and the arrays that function
# holds are what the backward pass keeps from the forward pass. Counting only the arrays with
# one column per sample (the activations; the others are the weights themselves), and
# dividing by $B$ times the number of neurons $\sum_{l=0}^{L} n^{[l]}$, input and output
# included: the check asks, before looking, for a count between 1 and 3 numbers per neuron
# and sample at every size, which is what $O(\text{neurons})$ memory means here. For these
# ReLU networks JAX keeps two such arrays per hidden layer (the layer's output, which the
# next weight gradient needs, and what the ReLU's slope needs), plus the input and a few
# rows for the single output unit.

# %%
per_neuron = [m["saved"] / (BATCH * m["neurons"]) for m in by_width + by_depth]
for m, r in zip(by_width + by_depth, per_neuron):
    print(f"width {m['width']:>3}, depth {m['depth']}: {m['neurons']:>4} neurons, "
          f"{m['saved']:>7,} numbers kept, {r:.2f} per neuron and sample")
check_that("deriv.complexity", "measured", 1 <= min(per_neuron) and max(per_neuron) <= 3,
           f"numbers kept for the backward pass per neuron and sample stay between "
           f"{min(per_neuron):.2f} and {max(per_neuron):.2f} while neurons grow from "
           f"{min(m['neurons'] for m in by_width + by_depth)} to "
           f"{max(m['neurons'] for m in by_width + by_depth)}")

# %%
fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
axes[0].plot([m["width"] for m in by_width], [m["ratio"] for m in by_width], "o-")
axes[0].set_xscale("log", base=2)
axes[0].set_xlabel("hidden width (depth 3)")
axes[1].plot([m["depth"] for m in by_depth], [m["ratio"] for m in by_depth], "o-")
axes[1].set_xlabel("depth (width 64)")
for ax in axes[:2]:
    ax.axhline(3, color="gray", linestyle=":", label="3 (three matrix products per layer)")
    ax.axhline(4, color="red", linestyle="--", label="the stated bound 4")
    ax.set_ylim(0, 4.5)
    ax.set_ylabel("gradient flops / forward flops")
axes[0].legend(loc="lower right", fontsize=8)
everything = by_width + by_depth
cells = np.array([BATCH * m["neurons"] for m in everything])
axes[2].plot(cells, [m["saved"] for m in everything], "o")
axes[2].plot([0, cells.max()], [0, 2 * cells.max()], color="gray", linestyle=":",
             label="2 per neuron and sample")
axes[2].legend(loc="upper left", fontsize=8)
axes[2].set_xlabel("batch × neurons")
axes[2].set_ylabel("numbers kept for backward")
fig.tight_layout()
show_figure(fig, "gradient-to-forward flop ratio against width and depth, between 2.2 and 3, "
                 "and the numbers kept for the backward pass, growing in proportion to "
                 "batch × neurons")

# %%
summary()
