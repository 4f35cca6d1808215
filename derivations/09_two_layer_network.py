# %% [markdown]
# # 09 · A two-layer network, gradient by gradient
#
# This notebook works through a whole, if small, classifier. Two input features go into a
# hidden layer of three rectified units, and those feed one sigmoid output unit that gives
# the probability of class 1. Training uses the binary cross-entropy averaged over a batch.
# Every gradient of that loss with respect to the weights comes from the chain rule, as a
# product of small local derivatives. We prove each factor and the factorisation itself with
# SymPy, put the factors together into three matrix formulas, and check those formulas
# against JAX's autodiff and finite differences.
#
# It follows “An Exercise in Backpropagation” (Jin), slides *Definitions*, *The Network* and
# the *Gradient Calculations* slides, in the slides' order. Two of the local derivatives have
# notebooks of their own: the sigmoid's slope (notebook 03) and the ReLU mask (notebook 06).
# They come up again here because the network needs them.

# %%
import math

import numpy as np
import sympy as sp
from gradbook import *

verifies("jin.defs", "jin.net", "jin.chain", "jin.dz_dh", "jin.dz_db", "jin.grads")

# %% [markdown]
# ## The definitions
#
# The slide *Definitions* fixes three functions. The first is the sigmoid
# $\sigma(x) = 1/(1+e^{-x})$. It has a second common form, with $e^{x}$ on top, which you
# get by multiplying the numerator and the denominator by $e^{x}$:

# %%
t = sp.symbols("t", real=True)
sigma = sp.Function("sigma")
sigmoid_definition = {sigma(t): 1 / (1 + sp.exp(-t)), sigma(-t): 1 / (1 + sp.exp(t))}

with sp.evaluate(False):
    sigmoid_forms = [sigma(t), 1 / (1 + sp.exp(-t)),
                     (sp.exp(t) / (sp.exp(t) * (1 + sp.exp(-t))), "times $e^t/e^t$"),
                     sp.exp(t) / (sp.exp(t) + 1)]
prove_chain("jin.defs", *sigmoid_forms, where=sigmoid_definition, box=False)

# %% [markdown]
# The curve is symmetric about the point $(0, \tfrac12)$: the probability of class 0 at
# score $t$ equals the probability of class 1 at score $-t$. The loss below uses $1-\sigma$
# in exactly this way.

# %%
prove_equal("jin.defs", 1 - sigma(t), sigma(-t), where=sigmoid_definition, box=False)

# %% [markdown]
# The second function is the rectifier $x_+ = \max(0, x)$. It passes positive numbers
# through and sends everything else to 0. The same thing can be written as cases, or as
# $(x + |x|)/2$. SymPy cannot simplify a maximum of an unknown-sign symbol against a
# case split, so the proof goes one sign at a time. `where=` replaces $x$ by a symbol
# known to be positive, and then by one known to be $\le 0$. The two runs cover every real
# $x$, including 0.

# %%
x_real = sp.symbols("x", real=True)
x_pos = sp.symbols("x_pos", positive=True)
x_nonpos = sp.symbols("x_nonpos", nonpositive=True)

relu_forms = [sp.Max(0, x_real),
              sp.Piecewise((x_real, x_real > 0), (0, True)),
              (x_real + sp.Abs(x_real)) / 2]
prove_chain("jin.defs", *relu_forms, where={x_real: x_pos}, lhs=r"x_+ \;\; (x > 0)", box=False)
prove_chain("jin.defs", *relu_forms, where={x_real: x_nonpos}, lhs=r"x_+ \;\; (x \le 0)",
            box=False)

# %% [markdown]
# The third function is the loss. One example with predicted probability $p_i$ and label
# $y_i$ costs $\ell_i = -\big(y_i \log p_i + (1-y_i)\log(1-p_i)\big)$. The loss of a batch
# of $N$ examples is the average of these costs. SymPy writes the slide's sum out for $N = 3$
# and checks that it equals the mean of the three separate costs:

# %%
N = sp.symbols("N", integer=True, positive=True)
i = sp.symbols("i", integer=True, positive=True)
p_, y_ = sp.IndexedBase("p"), sp.IndexedBase("y")
ell_k = sp.symbols(r"\ell_1:4")


def example_loss(p, y):
    return -(y * sp.log(p) + (1 - y) * sp.log(1 - p))


with sp.evaluate(False):  # keep the terms in the slide's order on the page
    cost_i = example_loss(p_[i], y_[i])
batch_loss = sp.Mul(1 / N, sp.Sum(cost_i, (i, 1, N)), evaluate=False)
mean_of_three = sp.Mul(sp.Rational(1, 3), sp.Add(*ell_k, evaluate=False), evaluate=False)
prove_equal("jin.defs", batch_loss, mean_of_three,
            where={N: 3} | {ell_k[k]: example_loss(p_[k + 1], y_[k + 1]) for k in range(3)},
            box=False)

# %% [markdown]
# Labels are 0 or 1, so in each cost only one of the two logarithms is ever present. A
# positive example costs $-\log p_i$, which is small when the network is confident it is
# positive. A negative example costs $-\log(1-p_i)$.

# %%
q = sp.symbols("p", positive=True)
with sp.evaluate(False):
    positive_example, negative_example = example_loss(q, 1), example_loss(q, 0)
prove_equal("jin.defs", positive_example, -sp.log(q), box=False)
prove_equal("jin.defs", negative_example, -sp.log(1 - q), box=False)

# %% [markdown]
# ## The network
#
# The slide *The Network* defines
# $f(\mathbf x) = \sigma\big(\max(0, \mathbf x \mathbf w_1)\,\mathbf w_2 + b\big)$, applied
# to a whole batch at once. $\mathbf x \in \mathbb R^{N\times 2}$ has one example per row,
# $\mathbf w_1 \in \mathbb R^{2\times 3}$, $\mathbf w_2 \in \mathbb R^{3\times 1}$, and
# $b$ is a single number. The later slides name the intermediate results, and the code uses
# the same names. $\mathbf h = \max(0, \mathbf x\mathbf w_1)$ holds the hidden activations
# ($N\times 3$). $\mathbf z = \mathbf h\mathbf w_2 + b$ holds one score per example, and
# $\mathbf y_{\text{pred}} = \sigma(\mathbf z)$ holds one probability per example.
#
# In JAX each step is a small named function. `forward` returns all three intermediates,
# because the backward pass reuses them. $\mathbf h\mathbf w_2$ is an $N\times 1$ column;
# its one column is the score vector, and the bias is broadcast along it.

# %%
def relu(a):
    return jnp.maximum(0.0, a)


def sigmoid(z):
    return 1 / (1 + jnp.exp(-z))


def hidden(x, w1):
    return relu(x @ w1)


def scores(h, w2, b):
    return (h @ w2)[:, 0] + b


def forward(x, w1, w2, b):
    h = hidden(x, w1)
    z = scores(h, w2, b)
    y_pred = sigmoid(z)
    return h, z, y_pred


def network(x, w1, w2, b):
    h, z, y_pred = forward(x, w1, w2, b)
    return y_pred


def bce(y_pred, y):
    return jnp.mean(-(y * jnp.log(y_pred) + (1 - y) * jnp.log(1 - y_pred)))


def loss(w1, w2, b, x, y):
    return bce(network(x, w1, w2, b), y)


# %% [markdown]
# ### A data set of our own
#
# The slides give no data and no parameter values. All the numbers below are ours. We draw
# eight points in the plane from a seeded generator and label a point 1 when its two
# coordinates have the same sign (first or third quadrant), else 0. No straight line
# separates these classes, so the hidden layer has real work to do. The starting parameters
# come from the same generator.

# %%
rng = np.random.default_rng(2025)
x_data = jnp.asarray(rng.standard_normal((8, 2)))
y_data = jnp.where(x_data[:, 0] * x_data[:, 1] > 0, 1.0, 0.0)
w1_0 = jnp.asarray(rng.standard_normal((2, 3)))
w2_0 = jnp.asarray(rng.standard_normal((3, 1)))
b_0 = float(rng.standard_normal())

# %% [markdown]
# ### Shapes
#
# The parameters have the shapes the slide states. For every batch size the network returns
# one probability per example, and its intermediates have the shapes the *Gradient
# Calculations* slides give them: $\mathbf h$ is $N\times 3$ and $\mathbf z$ has length $N$.

# %%
check_shape("jin.net", "w₁", w1_0, (2, 3))
check_shape("jin.net", "w₂", w2_0, (3, 1))
check_shape("jin.net", "b", jnp.shape(b_0), ())

for n in (1, 2, 8, 100):
    h_n, z_n, y_pred_n = forward(jnp.ones((n, 2)), w1_0, w2_0, b_0)
    check_shape("jin.net", f"h for N = {n}", h_n, (n, 3))
    check_shape("jin.net", f"z for N = {n}", z_n, (n,))
    check_shape("jin.net", f"y_pred = f(x) for N = {n}", y_pred_n, (n,))

# %% [markdown]
# ### The same network in SymPy
#
# For the proofs below the network is also written symbolically, for a batch of $N = 2$.
# Every entry is its own symbol, and the maximum is SymPy's `Max`, so this is the slide's
# formula with nothing changed:

# %%
n_batch = 2
x = sp.Matrix(n_batch, 2, lambda r, k: sp.Symbol(f"x_{{{r + 1}{k + 1}}}", real=True))
w1 = sp.Matrix(2, 3, lambda k, j: sp.Symbol(f"w_{{1,{k + 1}{j + 1}}}", real=True))
w2 = sp.Matrix(3, 1, lambda j, _: sp.Symbol(f"w_{{2,{j + 1}}}", real=True))
b = sp.Symbol("b", real=True)
y = sp.Matrix(sp.symbols("y_1:3", real=True))
ones = sp.ones(n_batch, 1)


def sigmoid_expr(s):
    return 1 / (1 + sp.exp(-s))


f_of_x = ((x * w1).applyfunc(lambda s: sp.Max(0, s)) * w2 + ones * b).applyfunc(sigmoid_expr)
f_of_x

# %% [markdown]
# We put the first two examples of our data set and the starting parameters into that
# formula, and the result agrees with the JAX forward pass. A third version is a plain
# Python loop over examples and units, written only with the `math` module. It agrees on
# all eight examples.

# %%
numbers = {b: b_0}
for symbols, array in ((x, x_data[:2]), (w1, w1_0), (w2, w2_0)):
    numbers |= dict(zip(symbols, np.asarray(array).ravel()))

check_close("jin.net", "jax", "f(x) by SymPy and by JAX, first two examples",
            network(x_data[:2], w1_0, w2_0, b_0),
            [float(v) for v in f_of_x.subs(numbers).evalf(30)])

# %%
def network_by_loops(x, w1, w2, b):
    probabilities = []
    for example in np.asarray(x).tolist():
        h_row = [max(0.0, sum(example[k] * float(w1[k, j]) for k in range(2))) for j in range(3)]
        z_value = sum(h_row[j] * float(w2[j, 0]) for j in range(3)) + b
        probabilities.append(1 / (1 + math.exp(-z_value)))
    return probabilities


check_close("jin.net", "jax", "f(x) by plain Python loops and by JAX, all eight examples",
            network(x_data, w1_0, w2_0, b_0), network_by_loops(x_data, w1_0, w2_0, b_0))

# %% [markdown]
# ## The chain rule, written out
#
# The second *Gradient Calculations* slide factors each gradient through the intermediates:
#
# $$\frac{\partial \ell}{\partial \mathbf w_2} =
#   \frac{\partial \ell}{\partial \mathbf y_{\text{pred}}}
#   \frac{\partial \mathbf y_{\text{pred}}}{\partial \mathbf z}
#   \frac{\partial \mathbf z}{\partial \mathbf w_2},\qquad
#   \frac{\partial \ell}{\partial b} =
#   \frac{\partial \ell}{\partial \mathbf y_{\text{pred}}}
#   \frac{\partial \mathbf y_{\text{pred}}}{\partial \mathbf z}
#   \frac{\partial \mathbf z}{\partial b},$$
#
# $$\frac{\partial \ell}{\partial \mathbf w_1} =
#   \frac{\partial \ell}{\partial \mathbf y_{\text{pred}}}
#   \frac{\partial \mathbf y_{\text{pred}}}{\partial \mathbf z}
#   \frac{\partial \mathbf z}{\partial \mathbf h}
#   \frac{\partial \mathbf h}{\partial \mathbf x\mathbf w_1}
#   \frac{\partial \mathbf x\mathbf w_1}{\partial \mathbf w_1}.$$
#
# To make these products concrete, read each factor as a Jacobian. Its rows follow the
# entries of the output and its columns follow the entries of the input, with a matrix
# flattened row after row. The factors then multiply as ordinary matrices:
# $1\times N$, then $N\times N$, and so on. The product for $\mathbf w_2$ is a
# $1\times 3$ row, the transpose of a gradient shaped like $\mathbf w_2$. The product for
# $\mathbf w_1$ is a row of six numbers, the gradient's entries read row by row.
#
# **The ReLU in a proof.** $\max(0, \cdot)$ has a corner at 0, and the proof needs a formula
# it can differentiate. On any region of parameter space where the signs of the
# pre-activations $\mathbf a = \mathbf x\mathbf w_1$ are fixed, the rectifier is linear:
# $\mathbf h = \mathbf m \odot \mathbf a$, where $\mathbf m$ is the 0/1 pattern of the
# positive entries. For the symbolic proofs we fix the pattern of our first two examples at
# the starting parameters. Any other pattern gives the same proof with different zeros and
# ones:

# %%
mask_pattern = sp.Matrix(np.asarray(x_data[:2] @ w1_0 > 0).astype(int))
mask_pattern

# %% [markdown]
# Each intermediate gets a symbol of its own: $a_{ij}$ for the pre-activations, $h_{ij}$,
# $z_i$, $y_{\text{pred},i}$, and $\ell$ for the loss. Each symbol is also given its value in
# terms of the inputs and parameters, so that a proof can replace it by that value.

# %%
a = sp.Matrix(n_batch, 3, lambda r, j: sp.Symbol(f"a_{{{r + 1}{j + 1}}}", real=True))
h = sp.Matrix(n_batch, 3, lambda r, j: sp.Symbol(f"h_{{{r + 1}{j + 1}}}", real=True))
z = sp.Matrix(sp.symbols("z_1:3", real=True))
y_pred = sp.Matrix(sp.symbols(r"y_{\mathrm{pred}\,1} y_{\mathrm{pred}\,2}", real=True))
ell = sp.Symbol(r"\ell")

a_of_w1 = x * w1
h_of_a = mask_pattern.multiply_elementwise(a)
z_of_h = h * w2 + ones * b
y_pred_of_z = z.applyfunc(sigmoid_expr)
ell_of_y_pred = sum(example_loss(y_pred[r], y[r]) for r in range(n_batch)) / n_batch

value = {}  # each intermediate in terms of x, w1, w2, b, built in the forward order
value |= {a[k]: a_of_w1[k] for k in range(6)}
value |= {h[k]: h_of_a[k].xreplace(value) for k in range(6)}
value |= {z[r]: z_of_h[r].xreplace(value) for r in range(n_batch)}
value |= {y_pred[r]: y_pred_of_z[r].xreplace(value) for r in range(n_batch)}

# %% [markdown]
# Every factor is the Jacobian of one small step, computed by SymPy in that step's own
# variables. For example, $\partial\mathbf z/\partial\mathbf h$ comes from
# $\mathbf z = \mathbf h\mathbf w_2 + \mathbf 1 b$ alone. For the chain rule, each factor is
# then evaluated at the network's own intermediates.

# %%
def flat(m):
    return m.reshape(m.rows * m.cols, 1)


local_jacobian = {
    r"\frac{\partial \ell}{\partial \mathbf{y}_{\mathrm{pred}}}":
        sp.Matrix([ell_of_y_pred]).jacobian(y_pred),
    r"\frac{\partial \mathbf{y}_{\mathrm{pred}}}{\partial \mathbf{z}}": y_pred_of_z.jacobian(z),
    r"\frac{\partial \mathbf{z}}{\partial \mathbf{w}_2}": z_of_h.jacobian(w2),
    r"\frac{\partial \mathbf{z}}{\partial b}": z_of_h.jacobian(sp.Matrix([b])),
    r"\frac{\partial \mathbf{z}}{\partial \mathbf{h}}": z_of_h.jacobian(flat(h)),
    r"\frac{\partial \mathbf{h}}{\partial \mathbf{x}\mathbf{w}_1}": flat(h_of_a).jacobian(flat(a)),
    r"\frac{\partial \mathbf{x}\mathbf{w}_1}{\partial \mathbf{w}_1}":
        flat(a_of_w1).jacobian(flat(w1)),
}
dl_dy, dy_dz, dz_dw2, dz_db, dz_dh, dh_da, da_dw1 = (
    sp.MatrixSymbol(name, *J.shape) for name, J in local_jacobian.items())
factors = dict(zip((dl_dy, dy_dz, dz_dw2, dz_db, dz_dh, dh_da, da_dw1), local_jacobian.values()))
in_the_network = {ell: ell_of_y_pred.xreplace(value)} | {
    F: J.xreplace(value) for F, J in factors.items()}

# %% [markdown]
# The left side of each equation below is the loss differentiated directly. The loss is
# written out in $\mathbf x, \mathbf w_1, \mathbf w_2, b$, and SymPy differentiates it with
# no chain rule of ours involved. The right side multiplies the slide's factors. First the
# gradient for $\mathbf w_2$:

# %%
prove_equal("jin.chain", derivative(ell, w2), sp.Transpose(dl_dy * dy_dz * dz_dw2),
            where=in_the_network)

# %% [markdown]
# then the one for $b$. It is a single number, written here as a $1\times 1$ matrix so that
# both sides have the same shape:

# %%
prove_equal("jin.chain", derivative(ell, sp.Matrix([b])), dl_dy * dy_dz * dz_db,
            where=in_the_network)

# %% [markdown]
# and the longest chain, for $\mathbf w_1$, with its six partial derivatives in a row:

# %%
prove_equal("jin.chain", derivative(ell, w1).reshape(1, 6),
            dl_dy * dy_dz * dz_dh * dh_da * da_dw1, where=in_the_network)

# %% [markdown] tags=["solution"]
# ## The factors one at a time
#
# ### The loss and the sigmoid
#
# The loss is a scalar and $\mathbf y_{\text{pred}}$ is a vector, so
# $\partial\ell/\partial\mathbf y_{\text{pred}}$ has one entry per example. Entry $i$
# involves only example $i$'s cost, and it carries the $1/N$ of the mean.

# %% tags=["solution"]
prove_equal("jin.chain", dl_dy,
            sp.Matrix(1, n_batch, lambda _, r: (y_pred[r] - y[r])
                      / (n_batch * y_pred[r] * (1 - y_pred[r]))),
            where={dl_dy: factors[dl_dy]})

# %% [markdown] tags=["solution"]
# The sigmoid acts on each score separately. Its Jacobian is therefore diagonal, and its
# diagonal is $\mathbf y_{\text{pred}} \odot (1-\mathbf y_{\text{pred}})$. (The slide writes
# this as an elementwise product, and notebook 03 derives it in full.)

# %% tags=["solution"]
prove_equal("jin.chain", dy_dz,
            sp.diag(*[y_pred[r] * (1 - y_pred[r]) for r in range(n_batch)]),
            where={dy_dz: factors[dy_dz]} | {y_pred[r]: y_pred_of_z[r] for r in range(n_batch)})

# %% [markdown] tags=["solution"]
# Multiplied together, the two factors make the row $\big((\mathbf y_{\text{pred}} -
# \mathbf y)/N\big)^{\mathsf T}$: the sigmoid's slope cancels the denominator of the loss's
# slope. That row is $\partial\ell/\partial\mathbf z$, which we call $\boldsymbol\delta$.
# Every remaining factor acts on it.

# %% tags=["solution"]
prove_equal("jin.chain", dl_dy * dy_dz,
            sp.Matrix(1, n_batch, lambda _, r: (y_pred[r] - y[r]) / n_batch),
            where={dl_dy: factors[dl_dy], dy_dz: factors[dy_dz]}
            | {y_pred[r]: y_pred_of_z[r] for r in range(n_batch)})

# %%
exercise("jin.chain.delta",
         r"The network's scores $\mathbf z$ (a column of $N$, one per example) give the "
         r"predictions $\mathbf y_{\text{pred}} = \sigma(\mathbf z)$, and the loss $\ell$ is the "
         r"mean binary cross-entropy over the batch. Multiply the first two factors of the chain "
         r"and find the error signal $\dfrac{\partial \ell}{\partial \mathbf z}$, a column of $N$.",
         of="mean(-(y*log(y_pred) + (1 - y)*log(1 - y_pred)))", wrt="z",
         answer="(y_pred - y)/N",
         inputs={"z": "N × 1", "y": "N × 1 in [0, 1]"},
         where={"sigma(t)": "1/(1 + exp(-t))", "y_pred": "sigma(z)"}, sizes={"N": 4}, batch="N",
         spellings=[r"(\mathbf y_{\text{pred}} - \mathbf y)/N", "(y_pred - y) / y.shape[0]",
                    r"\big((\mathbf y_{\text{pred}} -"],
         same_as=lambda z, y: (sigmoid(z) - y) / y.shape[0])

# %% [markdown] tags=["solution"]
# ### The scores: $\mathbf z = \mathbf h\mathbf w_2 + b$
#
# The slide writes out $z_i = h_{i1}w_{2,1} + h_{i2}w_{2,2} + h_{i3}w_{2,3}$ (plus $b$).
# Score $i$ reads only row $i$ of $\mathbf h$, and the weights it uses there are the
# entries of $\mathbf w_2$. So the gradient of $z_i$ with respect to row $i$ of
# $\mathbf h$ is $\mathbf w_2^{\mathsf T}$, and with respect to any other row it is zero:

# %% tags=["solution"]
score_values = {z[r]: z_of_h[r] for r in range(n_batch)}
for r in range(n_batch):
    for row in range(n_batch):
        prove_equal("jin.dz_dh", derivative(z[r], h.row(row)),
                    w2.T if row == r else sp.zeros(1, 3), where=score_values, box=False)

# %% [markdown] tags=["solution"]
# Put in one Jacobian, with $\mathbf h$ flattened row by row, those blocks of
# $\mathbf w_2^{\mathsf T}$ sit on the diagonal, one block per example:

# %% tags=["solution"]
prove_equal("jin.dz_dh", dz_dh, sp.diag(*[w2.T] * n_batch), where={dz_dh: factors[dz_dh]})

# %% [markdown] tags=["solution"]
# Now the other input of the product, $\mathbf w_2$. The weight $w_{2,j}$ appears once in
# every score, always multiplying $h_{ij}$. The derivative of the score vector with respect
# to $w_{2,j}$ is therefore column $j$ of $\mathbf h$: $h_{1j}, \dots, h_{Nj}$.

# %% tags=["solution"]
for j in range(3):
    prove_equal("jin.dz_dh", sp.Matrix([sp.Derivative(z[r], w2[j]) for r in range(n_batch)]),
                h.col(j), where=score_values, box=False)

# %% [markdown] tags=["solution"]
# and side by side, those columns are $\mathbf h$ itself:

# %% tags=["solution"]
prove_equal("jin.dz_dh", dz_dw2, h, where={dz_dw2: factors[dz_dw2]})

# %% [markdown] tags=["solution"]
# For a batch of any size, take an upstream gradient $\mathbf g = \partial\ell/\partial\mathbf z$
# (an $N\times 1$ column) and the linear loss $\operatorname{tr}(\mathbf g^{\mathsf T}\mathbf z)$,
# whose gradient with respect to $\mathbf z$ is exactly $\mathbf g$. The two facts above then
# become $\partial\ell/\partial\mathbf h = \mathbf g\,\mathbf w_2^{\mathsf T}$ (row $i$ is
# $g_i\mathbf w_2^{\mathsf T}$) and
# $\partial\ell/\partial\mathbf w_2 = \mathbf h^{\mathsf T}\mathbf g$ (entry $j$ pairs
# column $j$ of $\mathbf h$ with $\mathbf g$). SymPy proves both with matrix symbols of
# symbolic size $N$. The bias is $b$ times a column of $N$ ones, which SymPy
# prints as a bold $\mathbf 1$:

# %% tags=["solution"]
Nb = sp.symbols("N", integer=True, positive=True)
H = sp.MatrixSymbol(r"\mathbf{h}", Nb, 3)
W2 = sp.MatrixSymbol(r"\mathbf{w}_2", 3, 1)
B = sp.MatrixSymbol("b", 1, 1)
G = sp.MatrixSymbol(r"\mathbf{g}", Nb, 1)
ones_N = sp.OneMatrix(Nb, 1)
linear_loss = sp.Trace(G.T * (H * W2 + ones_N * B))

prove_equal("jin.dz_dh", sp.Derivative(linear_loss, H), G * W2.T)

# %% tags=["solution"]
prove_equal("jin.dz_dh", sp.Derivative(linear_loss, W2), H.T * G)

# %% [markdown] tags=["solution"]
# JAX agrees at the hidden activations of our data set and at seeded random points. Its
# Jacobian of the scores with respect to $\mathbf h$ has axes (score $i$, row $k$,
# column $j$). Entry $(i, k, j)$ should be $w_{2,j}$ when $k = i$ and 0 otherwise. Its
# Jacobian with respect to $\mathbf w_2$ should be $\mathbf h$ (with a trailing axis of
# length 1, the column of $\mathbf w_2$).

# %% tags=["solution"]
h_data, z_data, y_pred_data = forward(x_data, w1_0, w2_0, b_0)
at_our_data = dict(at=(h_data, w2_0, b_0), at_label="our data set")

check_jacobian("jin.dz_dh", scores,
               lambda h, w2, b: jnp.einsum("ik,j->ikj", jnp.eye(h.shape[0]), w2[:, 0]),
               wrt="h", **at_our_data)
check_jacobian("jin.dz_dh", scores, lambda h, w2, b: h[:, :, None], wrt="w2", **at_our_data)
check_vjp("jin.dz_dh", scores, lambda h, w2, b, g: (g[:, None] @ w2.T, h.T @ g[:, None]),
          wrt=("h", "w2"), **at_our_data)

# %% [markdown] tags=["solution"]
# ### The bias
#
# In code, $b$ is one number added to all $N$ scores (broadcasting). As an explicit matrix
# expression, $\mathbf z = \mathbf h\mathbf w_2 + \mathbf 1 b$ with $\mathbf 1$ a column of
# $N$ ones, so every score moves one-for-one with $b$:

# %% tags=["solution"]
prove_equal("jin.dz_db", sp.Matrix([sp.Derivative(z[r], b) for r in range(n_batch)]), ones,
            where=score_values)

# %% tags=["solution"]
prove_equal("jin.dz_db", dz_db, ones, where={dz_db: factors[dz_db]})

# %% [markdown] tags=["solution"]
# The slide writes the bias term as $\mathbf 1^{\mathsf T} b$ and the derivative as
# $\partial\mathbf z/\partial b = \mathbf 1^{\mathsf T}$. Read literally,
# $\mathbf 1^{\mathsf T} b$ is a row and cannot be added to the column
# $\mathbf h\mathbf w_2$, so we write $\mathbf 1 b$. The slide's $\mathbf 1^{\mathsf T}$ is
# the same vector of ones in the other layout, where the derivative with respect to a
# scalar is written as a row. Either way, multiplying by it adds up the upstream gradient
# over the batch. For any $N$,
# $\partial\ell/\partial b = \mathbf 1^{\mathsf T}\mathbf g = \sum_i g_i$:

# %% tags=["solution"]
prove_equal("jin.dz_db", sp.Derivative(linear_loss, B),
            sp.MatMul(sp.Transpose(ones_N), G, evaluate=False))

# %% [markdown] tags=["solution"]
# In the network, the upstream gradient is the row
# $\boldsymbol\delta = (\mathbf y_{\text{pred}} - \mathbf y)/N$ found above. The bias
# gradient of the loss is therefore the sum of the per-example errors divided by $N$,
# proven here for the $N = 2$ network by differentiating the full loss:

# %% tags=["solution"]
prove_equal("jin.dz_db", derivative(ell, sp.Matrix([b])),
            sp.Matrix([sum((y_pred[r] - y[r]) / n_batch for r in range(n_batch))]),
            where={ell: ell_of_y_pred.xreplace(value)} | {y_pred[r]: value[y_pred[r]]
                                                           for r in range(n_batch)})

# %% [markdown] tags=["solution"]
# JAX agrees. The Jacobian of the scores with respect to $b$ is a vector of ones, and the
# backward pass through the broadcast returns the sum of the upstream gradient. Returning
# the upstream gradient unsummed, a common bug, is rejected: it has one entry per example,
# but $b$ has only one.

# %% tags=["solution"]
check_jacobian("jin.dz_db", scores, lambda h, w2, b: jnp.ones(h.shape[0]), wrt="b",
               **at_our_data)
check_vjp("jin.dz_db", scores, lambda h, w2, b, g: jnp.sum(g), wrt="b", **at_our_data)

with rejects("jin.dz_db", "bias gradient not summed over the batch, ∂ℓ/∂b = g"):
    check_vjp("jin.dz_db", scores, lambda h, w2, b, g: g, wrt="b", **at_our_data)

# %% [markdown] tags=["solution"]
# ### The rectifier and the first product
#
# On the region where the pattern $\mathbf m$ holds, $\mathbf h = \mathbf m\odot\mathbf a$.
# Each $h_{ij}$ depends only on $a_{ij}$, so the Jacobian is diagonal with the pattern on
# its diagonal. This is the slide's rule: slope 1 where $(\mathbf x\mathbf w_1)_{ij} > 0$
# and 0 elsewhere. Notebook 06 proves the same rule from $\max$ itself, for inputs of
# unknown sign.

# %% tags=["solution"]
prove_equal("jin.chain", dh_da, sp.diag(*flat(mask_pattern)), where={dh_da: factors[dh_da]})

# %% [markdown] tags=["solution"]
# The last factor: $a_{ij} = \sum_k x_{ik} w_{1,kj}$, so the weight $w_{1,kj}$ enters
# column $j$ of $\mathbf a$ only, with coefficient $x_{ik}$ in row $i$. The slide puts it as
# "each column of $\mathbf w_1$ depends on $\mathbf x$". Flattened row by row, this Jacobian
# is the Kronecker product $\mathbf x\otimes I_3$: block $(i, k)$ is $x_{ik}$ times the
# $3\times 3$ identity.

# %% tags=["solution"]
prove_equal("jin.chain", da_dw1, sp.kronecker_product(x, sp.eye(3)),
            where={da_dw1: factors[da_dw1]})

# %% [markdown] tags=["solution"]
# ### The product in numbers
#
# Here is the slide's chain as literal code. Each factor is built as a full matrix with the
# formula just proven, and the factors are multiplied in the slide's order. The result is
# checked against `jax.grad` of the loss and against finite differences. This uses our data
# set, first at the starting parameters and then at seeded random parameters.
#
# The random parameters are drawn again whenever a pre-activation lands within 0.05 of the
# corner. A finite-difference step there could cross the corner, and then it would not
# measure a derivative. The starting point meets the same condition: the smallest
# $|(\mathbf x\mathbf w_1)_{ij}|$ there is 0.108, as the first check below confirms.

# %% tags=["solution"]
def relu_mask(a):
    return jnp.where(a > 0, 1.0, 0.0)


def chain_rule_product(w1, w2, b, x, y):
    h, z, y_pred = forward(x, w1, w2, b)
    n = y.shape[0]
    dl_dy = ((y_pred - y) / (n * y_pred * (1 - y_pred)))[None, :]   # 1 × N
    dy_dz = jnp.diag(y_pred * (1 - y_pred))                          # N × N
    dz_dw2 = h                                                       # N × 3
    dz_db = jnp.ones((n, 1))                                         # N × 1
    dz_dh = jnp.kron(jnp.eye(n), w2.T)                               # N × 3N
    dh_da = jnp.diag(relu_mask(x @ w1).reshape(-1))                  # 3N × 3N
    da_dw1 = jnp.kron(x, jnp.eye(3))                                 # 3N × 6
    grad_w1 = (dl_dy @ dy_dz @ dz_dh @ dh_da @ da_dw1).reshape(2, 3)
    grad_w2 = (dl_dy @ dy_dz @ dz_dw2).T
    grad_b = (dl_dy @ dy_dz @ dz_db)[0, 0]
    return grad_w1, grad_w2, grad_b


def parameters_away_from_corner(x, y):
    def draw(rng):
        while True:
            w1 = rng.standard_normal((2, 3))
            if np.min(np.abs(np.asarray(x) @ w1)) > 0.05:
                break
        return (jnp.asarray(w1), jnp.asarray(rng.standard_normal((3, 1))),
                float(rng.standard_normal()), x, y)
    return draw


margin = float(jnp.min(jnp.abs(x_data @ w1_0)))
check_that("jin.chain", "fd", margin > 0.05,
           f"every pre-activation of our data set at the starting parameters is at least 0.05 "
           f"from the corner of max(0, ·), so finite differences do not cross it "
           f"(the smallest is {margin:.3f})")
check_gradient("jin.chain", loss, chain_rule_product, wrt=("w1", "w2", "b"),
               at=(w1_0, w2_0, b_0, x_data, y_data), at_label="our data set",
               sample=parameters_away_from_corner(x_data, y_data))

# %% [markdown] tags=["solution"]
# ## The gradients in matrix form
#
# Nobody builds those big Jacobians in practice. Most of their entries are zeros, and the
# products collapse into three short formulas. Start from the error signal
# $\boldsymbol\delta = \partial\ell/\partial\mathbf z = (\mathbf y_{\text{pred}} -
# \mathbf y)/N$, an $N\times 1$ column:
#
# * $\partial\ell/\partial\mathbf w_2 = \mathbf h^{\mathsf T}\boldsymbol\delta$: each weight
#   collects its column of $\mathbf h$, weighted by the errors;
# * $\partial\ell/\partial b = \sum_i \delta_i$: the bias collects the errors of the whole
#   batch;
# * $\partial\ell/\partial\mathbf w_1 = \mathbf x^{\mathsf T}\big((\boldsymbol\delta\,
#   \mathbf w_2^{\mathsf T}) \odot \mathbf 1[\mathbf x\mathbf w_1 > 0]\big)$: the error
#   goes back through $\mathbf w_2$ to each hidden unit, the mask switches it off at units
#   that were off, and the product with $\mathbf x^{\mathsf T}$ is the slides' *Appendix*
#   rule for $Y = XW$ (notebook 08).
#
# SymPy first confirms the two matrix formulas against the directly differentiated loss of
# the $N = 2$ network, with the same sign pattern as before. (The bias formula was proven
# above.)

# %% tags=["solution"]
X_ = sp.MatrixSymbol(r"\mathbf{x}", n_batch, 2)
H_ = sp.MatrixSymbol(r"\mathbf{h}", n_batch, 3)
W2_ = sp.MatrixSymbol(r"\mathbf{w}_2", 3, 1)
delta_ = sp.MatrixSymbol(r"\boldsymbol{\delta}", n_batch, 1)
mask_ = sp.MatrixSymbol(r"\mathbf{1}[\mathbf{x}\mathbf{w}_1 > 0]", n_batch, 3)
compact = {ell: ell_of_y_pred.xreplace(value), X_: x, W2_: w2, mask_: mask_pattern,
           H_: h.xreplace(value),
           delta_: sp.Matrix([(value[y_pred[r]] - y[r]) / n_batch for r in range(n_batch)])}

prove_equal("jin.grads", derivative(ell, w2), H_.T * delta_, where=compact)

# %% tags=["solution"]
prove_equal("jin.grads", derivative(ell, w1), X_.T * sp.HadamardProduct(delta_ * W2_.T, mask_),
            where=compact)

# %% [markdown] tags=["solution"]
# The formulas as code. They are written only from the three results above, using the
# intermediates that `forward` already returns, and never calling autodiff:

# %% tags=["solution"]
def gradients(w1, w2, b, x, y):
    h, z, y_pred = forward(x, w1, w2, b)
    delta = ((y_pred - y) / y.shape[0])[:, None]          # ∂ℓ/∂z, N × 1
    grad_w2 = h.T @ delta
    grad_b = jnp.sum(delta)
    grad_w1 = x.T @ ((delta @ w2.T) * relu_mask(x @ w1))
    return grad_w1, grad_w2, grad_b


# %% [markdown] tags=["solution"]
# On our data set, first at the starting parameters and then at three seeded random
# parameter sets, they match `jax.grad` of the mean cross-entropy and central finite
# differences of the loss:

# %% tags=["solution"]
check_gradient("jin.grads", loss, gradients, wrt=("w1", "w2", "b"),
               at=(w1_0, w2_0, b_0, x_data, y_data), at_label="our data set",
               sample=parameters_away_from_corner(x_data, y_data))

# %%
exercise("jin.grads.w2",
         r"Now the whole network, written with columns: $\mathbf a = \mathbf x\mathbf w_1$, "
         r"$\mathbf h = \max(0, \mathbf a)$, $\mathbf z = \mathbf h\mathbf w_2 + b$ (the "
         r"scalar $b$ added to every example), $\mathbf y_{\text{pred}} = \sigma(\mathbf z)$, "
         r"and $\ell$ the mean binary cross-entropy over the $N$ examples. Find "
         r"$\dfrac{\partial \ell}{\partial \mathbf w_2}$, shaped like $\mathbf w_2$ "
         r"($k \times 1$).",
         of="mean(-(y*log(y_pred) + (1 - y)*log(1 - y_pred)))", wrt="w2",
         answer="h.T @ ((y_pred - y)/N)",
         inputs={"w1": "d × k", "w2": "k × 1", "b": "scalar", "x": "N × d",
                 "y": "N × 1 in [0, 1]"},
         where={"sigma(t)": "1/(1 + exp(-t))", "a": "x @ w1", "h": "relu(a)", "z": "h @ w2 + b",
                "y_pred": "sigma(z)"},
         sizes={"N": 4, "d": 2, "k": 3}, batch="N", mask="a > 0",
         spellings=[r"\mathbf h^{\mathsf T}\boldsymbol\delta", "h.T @ delta"],
         same_as=lambda w1, w2, b, x, y: gradients(w1, w2, b, x, y[:, 0])[1])
exercise("jin.grads.b",
         r"For the same network, find $\dfrac{\partial \ell}{\partial b}$, a scalar.",
         of="mean(-(y*log(y_pred) + (1 - y)*log(1 - y_pred)))", wrt="b",
         answer="sum((y_pred - y)/N)",
         inputs={"w1": "d × k", "w2": "k × 1", "b": "scalar", "x": "N × d",
                 "y": "N × 1 in [0, 1]"},
         where={"sigma(t)": "1/(1 + exp(-t))", "a": "x @ w1", "h": "relu(a)", "z": "h @ w2 + b",
                "y_pred": "sigma(z)"},
         sizes={"N": 4, "d": 2, "k": 3}, batch="N", mask="a > 0",
         spellings=[r"\sum_i \delta_i", "jnp.sum(delta)"],
         same_as=lambda w1, w2, b, x, y: gradients(w1, w2, b, x, y[:, 0])[2])
exercise("jin.grads.w1",
         r"For the same network, find $\dfrac{\partial \ell}{\partial \mathbf w_1}$, shaped like "
         r"$\mathbf w_1$ ($d \times k$). Where an entry of $\mathbf a$ is 0, the rectifier's "
         r"slope is 0.",
         of="mean(-(y*log(y_pred) + (1 - y)*log(1 - y_pred)))", wrt="w1",
         answer="x.T @ ((((y_pred - y)/N) @ w2.T) * (a > 0))",
         inputs={"w1": "d × k", "w2": "k × 1", "b": "scalar", "x": "N × d",
                 "y": "N × 1 in [0, 1]"},
         where={"sigma(t)": "1/(1 + exp(-t))", "a": "x @ w1", "h": "relu(a)", "z": "h @ w2 + b",
                "y_pred": "sigma(z)"},
         sizes={"N": 4, "d": 2, "k": 3}, batch="N", mask="a > 0",
         spellings=["x.T @ ((delta @ w2.T) * relu_mask(x @ w1))",
                    r"\mathbf x^{\mathsf T}\big((\boldsymbol\delta"],
         same_as=lambda w1, w2, b, x, y: gradients(w1, w2, b, x, y[:, 0])[0])

# %% [markdown] tags=["solution"]
# Nothing in the formulas depends on having eight examples. A second check draws fresh
# batches of 64 points with the same quadrant labels and fresh parameters, again keeping
# every pre-activation away from the corner:

# %% tags=["solution"]
def batch_of_64(rng):
    x = jnp.asarray(rng.standard_normal((64, 2)))
    y = jnp.where(x[:, 0] * x[:, 1] > 0, 1.0, 0.0)
    return parameters_away_from_corner(x, y)(rng)


check_gradient("jin.grads", loss, gradients, wrt=("w1", "w2", "b"), at=None,
               sample=batch_of_64, label="batches of 64")

# %% [markdown] tags=["solution"]
# These checks can tell a factor of $N$ apart. Leaving out the $1/N$ of the mean gives the
# gradient of the summed loss instead. That is a correct gradient of a different loss, and
# it is rejected:

# %% tags=["solution"]
def gradients_of_the_sum(w1, w2, b, x, y):
    h, z, y_pred = forward(x, w1, w2, b)
    delta = (y_pred - y)[:, None]
    return x.T @ ((delta @ w2.T) * relu_mask(x @ w1)), h.T @ delta, jnp.sum(delta)


with rejects("jin.grads", "the 1/N of the mean left out (the gradient of the summed loss)"):
    check_gradient("jin.grads", loss, gradients_of_the_sum, wrt=("w1", "w2", "b"),
                   at=(w1_0, w2_0, b_0, x_data, y_data), at_label="our data set", points=0)

# %% [markdown] tags=["solution"]
# ## The network as a graph
#
# Finally the whole network, traced from the code and drawn, on our data set at the starting
# parameters. The hidden layer appears as its two operations, the product $\mathbf x
# \mathbf w_1$ and the maximum with 0; the score, the sigmoid and the loss are each wrapped
# in `jax.jit` so that each is one node. Small arrays show their values, larger ones
# their shape; in red is the gradient of $\ell$ with respect to each, as JAX computes it. The
# gradients arriving at the three parameters are the ones the formulas above give:

# %% tags=["solution"]
def network_graph(w1, w2, b, x, y):
    h = named(hidden(x, w1), "h")
    z = named(jax.jit(scores)(h, w2, b), "z")
    y_pred = named(jax.jit(sigmoid)(z), "y_pred")
    return jax.jit(bce)(y_pred, y)


net_graph = draw_graph(network_graph, w1_0, w2_0, b_0, x_data, y_data, output="ℓ")
for name, formula in zip(("w1", "w2", "b"), gradients(w1_0, w2_0, b_0, x_data, y_data)):
    check_close("jin.grads", "jax", f"∂ℓ/∂{name} on the graph and from the formula",
                formula, net_graph.grad(name))

# %%
summary()
