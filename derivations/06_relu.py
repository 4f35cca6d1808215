# %% [markdown] tags=["solution"]
# # 06 · ReLU: a diagonal Jacobian and its mask
#
# The rectifier $z = \max(x, 0)$, applied entry by entry, is the simplest nonlinearity in a
# network, and its backward pass is a filter: the upstream gradient passes where the input
# was positive and is blocked where it was not. This notebook derives that rule as a
# Jacobian, checks the document's small example number by number, applies it to a whole
# matrix of pre-activations, and then shows what happens when the mask is taken from the
# wrong tensor.
#
# It follows “Backpropagation” (kang), §8 (with the bug list of §11) and “An Exercise in
# Backpropagation” (Jin), slide *Gradient Calculations*. SymPy proves the Jacobian; JAX and
# finite differences check it at points away from the kink at 0.

# %%
import sympy as sp
from gradbook import *

verifies("kang.8.relu_jacobian", "kang.8.example", "jin.relu_mask", "kang.11.bugs")

# %% [markdown] tags=["solution"]
# ## The Jacobian of an elementwise maximum
#
# Output $z_i = \max(x_i, 0)$ depends on $x_i$ alone, so every off-diagonal entry
# $\partial z_i/\partial x_j$ ($i \ne j$) is 0. On the diagonal the slope is 1 where
# $x_i > 0$ and 0 where $x_i < 0$. At $x_i = 0$ the function has a corner and no derivative;
# the document, like most libraries, uses 0 there. To prove the result *with* that
# convention, SymPy is given the maximum in the form it stands for,
# $\max(t, 0) = t$ if $t > 0$ and $0$ otherwise, for four real inputs of unknown sign:

# %% tags=["solution"]
x = sp.Matrix(sp.symbols("x1:5", real=True))
with sp.evaluate(False):
    z = x.applyfunc(lambda t: sp.Max(t, 0))
relu_rule = {sp.Max(t, 0, evaluate=False): sp.Piecewise((t, t > 0), (0, True)) for t in x}
mask = [sp.Piecewise((1, t > 0), (0, True)) for t in x]

relu_jacobian = sp.Matrix(4, 4, lambda i, j: sp.Derivative(z[i], x[j]))
prove_equal("kang.8.relu_jacobian", relu_jacobian, sp.diag(*mask), where=relu_rule)

# %% [markdown] tags=["solution"]
# The convention at 0 is a real choice, not a detail SymPy glosses over: stated with
# $x_i \ge 0$ in place of $x_i > 0$, the same proof fails, because the two masks differ
# when an input is exactly 0.

# %% tags=["solution"]
with rejects("kang.8.relu_jacobian", "the mask 1 for x_i ≥ 0 (a different value at x_i = 0)"):
    prove_equal("kang.8.relu_jacobian", relu_jacobian,
                sp.diag(*[sp.Piecewise((1, t >= 0), (0, True)) for t in x]), where=relu_rule)

# %% [markdown] tags=["solution"]
# Once the signs are known, the mask is known too. For any input whose entries are positive,
# negative, positive, negative (the sign pattern of the example below), the Jacobian is
# $\operatorname{diag}(1, 0, 1, 0)$, whatever the magnitudes:

# %% tags=["solution"]
x1, x3 = sp.symbols("x1 x3", positive=True)
x2, x4 = sp.symbols("x2 x4", negative=True)
signed = sp.Matrix([x1, x2, x3, x4])
with sp.evaluate(False):
    z_signed = signed.applyfunc(lambda t: sp.Max(t, 0))
prove_equal("kang.8.relu_jacobian", sp.Matrix(4, 4, lambda i, j: sp.Derivative(z_signed[i], signed[j])),
            sp.diag(1, 0, 1, 0))

# %% [markdown] tags=["solution"]
# ## The machine's check
#
# The claimed Jacobian, $\operatorname{diag}(m)$ with $m_i = 1$ where $x_i > 0$, is compared
# with `jax.jacobian` and with central differences at the document's input and at seeded
# random inputs of length 6. The random inputs are kept at least 0.1 away from the corner,
# where a finite difference would straddle the kink and neither answer would be a derivative.

# %% tags=["solution"]
def relu(x):
    return jnp.maximum(x, 0.0)


def relu_mask(x):
    return jnp.where(x > 0, 1.0, 0.0)


def away_from_corner(values):
    return jnp.asarray(values + 0.1 * jnp.sign(values))


x_example = jnp.array([1.0, -2.0, 3.0, -1.0])
check_jacobian("kang.8.relu_jacobian", relu, lambda x: jnp.diag(relu_mask(x)), at=(x_example,),
               sample=lambda rng: (away_from_corner(rng.standard_normal(6)),))

# %%
exercise("kang.8.relu_jacobian",
         r"The rectifier acts entry by entry, $z_i = \max(x_i, 0)$ for $x \in \mathbb R^n$. Find "
         r"the Jacobian $\dfrac{\partial z}{\partial x}$, an $n \times n$ matrix. At $x_i = 0$, "
         r"where the rectifier has a corner, follow the document's convention: slope 0.",
         of="relu(x)", wrt="x", kind="jacobian", answer="diag(x > 0)",
         inputs={"x": "n"}, where={"z": "relu(x)"}, sizes={"n": 6}, mask="x > 0",
         example={"x": [1.0, -2.0, 3.0, -1.0]}, ties=[{"x": [1.0, 0.0, -2.0, 0.0]}],
         spellings=[r"\operatorname{diag}(m)", "jnp.diag(relu_mask(x))"],
         same_as=lambda x: jnp.diag(relu_mask(x)))

# %% [markdown] tags=["solution"]
# ## The worked example
#
# “Backpropagation” (kang), §8.2, takes $x = [1, -2, 3, -1]$. Every number it prints follows
# from the mask:

# %% tags=["solution"]
check_printed("kang.8.example", "z = max(x, 0)", relu(x_example), ["1", "0", "3", "0"])
check_printed("kang.8.example", "mask m", relu_mask(x_example), ["1", "0", "1", "0"])
J_example = jnp.diag(relu_mask(x_example))
check_printed("kang.8.example", "J = ∂z/∂x",
              J_example, [["1", "0", "0", "0"], ["0", "0", "0", "0"],
               ["0", "0", "1", "0"], ["0", "0", "0", "0"]])

# %% [markdown] tags=["solution"]
# With upstream gradient $\partial\mathcal L/\partial z = [4, -1, 5, 9]$ the backward pass is
# $J^\top \partial\mathcal L/\partial z$. The Jacobian is diagonal, so transposing it changes
# nothing, and multiplying by a diagonal matrix is the same as multiplying entry by entry by
# the mask: the entries at inactive units, $-1$ and $9$, are dropped.

# %% tags=["solution"]
g_example = jnp.array([4.0, -1.0, 5.0, 9.0])
check_printed("kang.8.example", "∂L/∂x = Jᵀ ∂L/∂z", J_example.T @ g_example, ["4", "0", "5", "0"])
check_printed("kang.8.example", "∂L/∂x = J ∂L/∂z", J_example @ g_example, ["4", "0", "5", "0"])
check_printed("kang.8.example", "∂L/∂x = m ⊙ ∂L/∂z", relu_mask(x_example) * g_example,
              ["4", "0", "5", "0"])

# %% [markdown] tags=["solution"]
# JAX agrees on the Jacobian at this input, and its backward pass `jax.vjp` returns the same
# gradient:

# %% tags=["solution"]
check_close("kang.8.example", "jax", "J = diag(m) and jax.jacobian at x = [1, -2, 3, -1]",
            jax.jacobian(relu)(x_example), J_example)
check_vjp("kang.8.example", relu, lambda x, g: relu_mask(x) * g, at=(x_example,),
          cotangent=g_example, points=0)
_, relu_pullback = jax.vjp(relu, x_example)
check_printed("kang.8.example", "∂L/∂x from jax.vjp", relu_pullback(g_example)[0],
              ["4", "0", "5", "0"])

# %% [markdown] tags=["solution"]
# ## A whole matrix of pre-activations
#
# In Jin's network the rectifier acts on a matrix, $h = \max(0, x w_1)$, where
# $x \in \mathbb R^{N\times 2}$ holds one example per row and $w_1 \in \mathbb R^{2\times 3}$,
# so the pre-activation $a = x w_1$ is $N \times 3$. The slide's rule is that
# $\partial h_{ij}/\partial a_{ij}$ is 1 if $a_{ij} > 0$ and 0 otherwise. As before, $h_{ij}$
# depends on $a_{ij}$ and nothing else, so if both matrices are flattened into vectors (row
# after row), the Jacobian is diagonal with the mask on its diagonal. SymPy proves it for
# $N = 2$:

# %% tags=["solution"]
pre = sp.Matrix(2, 3, lambda i, j: sp.Symbol(f"a{i + 1}{j + 1}", real=True))
post = sp.Matrix(2, 3, lambda i, j: sp.Symbol(f"h{i + 1}{j + 1}", real=True))
h_rule = {post[k]: sp.Piecewise((pre[k], pre[k] > 0), (0, True)) for k in range(6)}
entry_mask = [sp.Piecewise((1, pre[k] > 0), (0, True)) for k in range(6)]

prove_equal("jin.relu_mask", sp.Matrix(6, 6, lambda r, c: sp.Derivative(post[r], pre[c])),
            sp.diag(*entry_mask), where=h_rule,
            lhs=r"\frac{\partial\, \mathrm{vec}\, h}{\partial\, \mathrm{vec}(x w_1)}")

# %% [markdown] tags=["solution"]
# In a backward pass that diagonal Jacobian is never formed: the upstream gradient $G$ (an
# $N\times 3$ matrix) is multiplied entry by entry by the mask of $a$. JAX checks that rule
# on a $5\times 3$ pre-activation at seeded random points away from the corner:

# %% tags=["solution"]
check_vjp("jin.relu_mask", relu, lambda a, G: relu_mask(a) * G, at=None,
          sample=lambda rng: (away_from_corner(rng.standard_normal((5, 3))),))

# %% [markdown] tags=["solution"]
# Through the whole layer $h = \max(0, x w_1)$ the mask is evaluated on $x w_1$, and the
# masked gradient then flows back through the product as in Jin's *Appendix* ($x^\top$ on
# the left for $w_1$, $w_1^\top$ on the right for $x$). With $N = 5$ rows and the document's
# $2\times 3$ weight matrix:

# %% tags=["solution"]
def relu_layer(x, w1):
    return relu(x @ w1)


def relu_layer_backward(x, w1, G):
    masked = relu_mask(x @ w1) * G
    return masked @ w1.T, x.T @ masked


def layer_inputs(rng):
    return (jnp.asarray(rng.standard_normal((5, 2))), jnp.asarray(rng.standard_normal((2, 3))))


check_vjp("jin.relu_mask", relu_layer, relu_layer_backward, at=None, wrt=("x", "w1"),
          sample=layer_inputs)

# %% [markdown] tags=["solution"]
# The mask could equally be read off the output with a *strict* test: $h_{ij} > 0$ holds
# exactly when $a_{ij} > 0$, because the rectifier maps every non-positive entry to 0 and
# leaves positive ones positive.

# %% tags=["solution"]
def backward_mask_from_output(x, w1, G):
    masked = relu_mask(relu_layer(x, w1)) * G
    return masked @ w1.T, x.T @ masked


check_vjp("jin.relu_mask", relu_layer, backward_mask_from_output, at=None, wrt=("x", "w1"),
          sample=layer_inputs)

# %%
exercise("jin.relu_mask",
         r"A hidden layer computes $h = \max(0, a)$ entry by entry, with pre-activation "
         r"$a = x w_1$: $x$ holds $N$ samples as rows ($N \times d$), $w_1$ is $d \times k$. "
         r"Given the upstream gradient $G = \partial\mathcal L/\partial h$ ($N \times k$), find "
         r"$\left(\dfrac{\partial \mathcal L}{\partial x}, \dfrac{\partial \mathcal L}"
         r"{\partial w_1}\right)$. Where an entry of $a$ is exactly 0, the slope is 0.",
         of="sum(G * relu(x @ w1))", wrt=("x", "w1"),
         answer="(((a > 0) * G) @ w1.T, x.T @ ((a > 0) * G))",
         inputs={"x": "N × d", "w1": "d × k", "G": "N × k"}, where={"a": "x @ w1", "h": "relu(a)"},
         sizes={"N": 5, "d": 2, "k": 3}, mask="a > 0",
         ties=[{"x": [[1.0, 0.0], [0.0, 1.0]], "w1": [[1.0, 0.0, -1.0], [2.0, 1.0, 0.0]],
                "G": [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]}],
         spellings=["relu_mask(x @ w1) * G", "masked @ w1.T, x.T @ masked"],
         same_as=relu_layer_backward)

# %% [markdown] tags=["solution"]
# ## A common bug: the mask from the wrong tensor
#
# “Backpropagation” (kang), §11, lists a ReLU mask not taken from the pre-activation among
# the common mistakes. Two plausible versions of it:
#
# 1. Reading the mask off the output with a non-strict test, `h >= 0`. Every output of a
#    rectifier is $\ge 0$, so this mask is all ones and the gradient leaks through units
#    that were switched off.
# 2. Using the layer's *input* $x$ (what kang's §8 happens to call the rectifier's input)
#    instead of the pre-activation $x w_1$.
#
# Both are caught. The first is wrong only in its values, so the check needs inputs where
# some units are off; with 5 rows of standard-normal data about half of the 15
# pre-activations are negative, so the bug cannot hide. The second cannot even be evaluated
# here: $x$ is $5 \times 2$ but the gradient is $5 \times 3$, one more reason to choose a
# non-square $w_1$.

# %% tags=["solution"]
def backward_mask_from_output_nonstrict(x, w1, G):
    masked = jnp.where(relu_layer(x, w1) >= 0, 1.0, 0.0) * G
    return masked @ w1.T, x.T @ masked


def backward_mask_from_layer_input(x, w1, G):
    masked = relu_mask(x) * G
    return masked @ w1.T, x.T @ masked


with rejects("kang.11.bugs", "ReLU mask taken from the output as h ≥ 0 (always true)"):
    check_vjp("jin.relu_mask", relu_layer, backward_mask_from_output_nonstrict, at=None,
              wrt=("x", "w1"), sample=layer_inputs)
with rejects("kang.11.bugs", "ReLU mask taken from the layer input x instead of x w₁"):
    check_vjp("jin.relu_mask", relu_layer, backward_mask_from_layer_input, at=None,
              wrt=("x", "w1"), sample=layer_inputs)

# %%
summary()
