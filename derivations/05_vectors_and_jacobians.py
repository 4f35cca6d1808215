# %% [markdown] tags=["solution"]
# # 05 · Vectors and Jacobians: the backward pass is a transposed Jacobian
#
# Once inputs and outputs are vectors, a derivative is no longer one number, and its shape
# carries information: which index belongs to the output and which to the input. This
# notebook pins down the three cases (scalar to scalar, vector to scalar, vector to vector)
# and then the rule that makes backpropagation work for vectors: the gradient with respect
# to the input is the *transposed* Jacobian times the gradient with respect to the output,
# a vector-Jacobian product.
#
# It follows “Backpropagation” (kang), §6 and §7. SymPy proves the rule for arbitrary
# functions; JAX checks it on a concrete nonlinear map, and every shape is checked, with
# input and output sizes chosen different so that a transposed Jacobian cannot go unnoticed.

# %%
import sympy as sp
from gradbook import *

verifies("kang.6.shapes", "kang.7.vjp")

# %% [markdown]
# ## Scalar to scalar: the derivative is a number
#
# For $y = x^3 - 2x$ the derivative $dy/dx = 3x^2 - 2$ is a single number at each $x$. JAX's
# `jax.grad` returns it as a zero-dimensional array:

# %%
def cubic(x):
    return x ** 3 - 2 * x


def cubic_slope(x):
    return 3 * x ** 2 - 2


check_shape("kang.6.shapes", "dy/dx from jax.grad at x = 1.3", jax.grad(cubic)(1.3), ())
check_gradient("kang.6.shapes", cubic, cubic_slope, at=None,
               sample=lambda rng: (rng.standard_normal(),))

# %% [markdown]
# ## Vector to scalar: the gradient lives where the input lives
#
# For $y = \log\sum_i e^{x_i}$ with $x \in \mathbb R^n$, each partial derivative
# $\partial y/\partial x_i = e^{x_i}/\sum_k e^{x_k}$ is one entry of the gradient, so the
# gradient has $n$ entries, like $x$ (the entries form the softmax of $x$). SymPy finds the
# same entries for $n = 4$, stacked as a column:

# %%
xs = sp.Matrix(sp.symbols("x1:5", real=True))
log_sum_exp = sp.log(sum(sp.exp(xi) for xi in xs))
total = sum(sp.exp(xi) for xi in xs)
gradient = prove_equal("kang.6.shapes", derivative(log_sum_exp, xs),
                       xs.applyfunc(lambda xi: sp.exp(xi) / total))
check_shape("kang.6.shapes", "the SymPy gradient of log Σ exp(x_i), n = 4", gradient.value, (4, 1))

# %% [markdown]
# JAX returns a gradient with exactly the shape of the input, here $n = 4$:

# %%
def log_sum_exp_jax(x):
    return jnp.log(jnp.sum(jnp.exp(x)))


def softmax(x):
    return jnp.exp(x) / jnp.sum(jnp.exp(x))


check_shape("kang.6.shapes", "∂y/∂x from jax.grad, n = 4",
            jax.grad(log_sum_exp_jax)(jnp.array([0.5, -1.0, 2.0, 0.1])), (4,))
check_gradient("kang.6.shapes", log_sum_exp_jax, softmax, at=None,
               sample=lambda rng: (jnp.asarray(rng.standard_normal(4)),))

# %% [markdown] tags=["solution"]
# ## Vector to vector: the Jacobian is $m \times n$
#
# Take a nonlinear map from $\mathbb R^3$ to $\mathbb R^2$:
# $z_1 = x_1 x_2 + \sin x_3$, $z_2 = e^{x_1} - x_2 x_3^2$. Its Jacobian has one row per
# output and one column per input, entry $(i, j)$ being $\partial z_i/\partial x_j$, so it
# is $2\times 3$:
#
# $$\frac{\partial z}{\partial x} = \begin{bmatrix} x_2 & x_1 & \cos x_3 \\
# e^{x_1} & -x_3^2 & -2x_2x_3 \end{bmatrix}.$$
#
# SymPy computes the same matrix:

# %% tags=["solution"]
x = sp.Matrix(sp.symbols("x1:4", real=True))
z = sp.Matrix([x[0] * x[1] + sp.sin(x[2]), sp.exp(x[0]) - x[1] * x[2] ** 2])
by_hand = sp.Matrix([[x[1], x[0], sp.cos(x[2])],
                     [sp.exp(x[0]), -x[2] ** 2, -2 * x[1] * x[2]]])
prove_equal("kang.6.shapes", sp.Matrix(2, 3, lambda i, j: sp.Derivative(z[i], x[j])), by_hand)
check_shape("kang.6.shapes", "∂z/∂x by SymPy (m = 2 outputs, n = 3 inputs)", z.jacobian(x), (2, 3))

# %% [markdown] tags=["solution"]
# JAX lays out `jax.jacobian` the same way, outputs first:

# %% tags=["solution"]
def f(x):
    return jnp.array([x[0] * x[1] + jnp.sin(x[2]), jnp.exp(x[0]) - x[1] * x[2] ** 2])


def jacobian_of_f(x):
    return jnp.array([[x[1], x[0], jnp.cos(x[2])],
                      [jnp.exp(x[0]), -x[2] ** 2, -2 * x[1] * x[2]]])


check_shape("kang.6.shapes", "∂z/∂x from jax.jacobian", jax.jacobian(f)(jnp.array([0.5, -1.2, 2.0])),
            (2, 3))
check_jacobian("kang.6.shapes", f, jacobian_of_f, at=None,
               sample=lambda rng: (jnp.asarray(rng.standard_normal(3)),))

# %%
exercise("kang.6.shapes",
         r"The map $f:\mathbb R^3\to\mathbb R^2$ has outputs $z_1 = x_1 x_2 + \sin x_3$ and "
         r"$z_2 = e^{x_1} - x_2 x_3^2$. Find its Jacobian $\dfrac{\partial z}{\partial x}$: one "
         r"row per output, one column per input.",
         of="[x1*x2 + sin(x3), exp(x1) - x2*x3**2]", wrt=("x1", "x2", "x3"), kind="jacobian",
         answer="[[x2, x1, cos(x3)], [exp(x1), -x3**2, -2*x2*x3]]",
         inputs={"x1": "scalar", "x2": "scalar", "x3": "scalar"},
         example={"x1": 0.5, "x2": -1.2, "x3": 2.0},
         spellings=[r"x_2 & x_1 & \cos x_3", "[x[1], x[0], jnp.cos(x[2])]"],
         same_as=lambda x1, x2, x3: jacobian_of_f(jnp.array([x1, x2, x3])))

# %% [markdown] tags=["solution"]
# Because $m \ne n$, the check can tell the two layouts apart. The same entries written the
# other way round, $n \times m$ with row $j$ holding the derivatives with respect to $x_j$,
# are rejected:

# %% tags=["solution"]
with rejects("kang.6.shapes", "the Jacobian laid out n × m (inputs first)"):
    check_jacobian("kang.6.shapes", f, lambda x: jacobian_of_f(x).T, at=None,
                   sample=lambda rng: (jnp.asarray(rng.standard_normal(3)),))

# %% [markdown] tags=["solution"]
# ## The backward pass: a vector-Jacobian product
#
# Now let a scalar loss $\mathcal L$ depend on $x$ only through $z = f(x)$. Each $x_j$ can
# change the loss through every output $z_i$, and the multivariable chain rule adds those
# paths: $\frac{\partial \mathcal L}{\partial x_j} = \sum_i \frac{\partial \mathcal L}{\partial
# z_i}\frac{\partial z_i}{\partial x_j}$. The sum runs over the *row* index of the Jacobian,
# so in matrix form it is the transposed Jacobian that multiplies the upstream gradient:
# $\frac{\partial \mathcal L}{\partial x} = \left(\frac{\partial z}{\partial x}\right)^{\!\top}
# \frac{\partial \mathcal L}{\partial z}$.
#
# SymPy proves this with nothing known about the functions: $z_1, z_2$ are arbitrary
# differentiable functions of $x \in \mathbb R^3$, and $\ell$ is an arbitrary function of
# the two outputs.

# %% tags=["solution"]
ell = sp.Function("ell")
x = sp.Matrix(sp.symbols("x1:4", real=True))
z = sp.Matrix([sp.Function("z1")(*x), sp.Function("z2")(*x)])
loss = ell(*z)

jacobian = sp.Matrix(2, 3, lambda i, j: sp.Derivative(z[i], x[j]))
upstream = sp.Matrix([sp.Derivative(loss, zi) for zi in z])
vjp = prove_equal("kang.7.vjp", derivative(loss, x),
                  sp.MatMul(jacobian.T, upstream, evaluate=False),
                  lhs=r"\frac{\partial \mathcal{L}}{\partial x}")

# %% [markdown] tags=["solution"]
# The shapes multiply as the document says, $(n\times m)(m\times 1) = (n\times 1)$ with
# $n = 3$ and $m = 2$:

# %% tags=["solution"]
check_shape("kang.7.vjp", "(∂z/∂x)ᵀ", jacobian.T, (3, 2))
check_shape("kang.7.vjp", "∂L/∂z", upstream, (2, 1))
check_shape("kang.7.vjp", "(∂z/∂x)ᵀ ∂L/∂z", jacobian.T * upstream, (3, 1))

# %% [markdown] tags=["solution"]
# Nothing in the proof depends on there being more inputs than outputs. The same identity
# for $n = 2$ inputs and $m = 4$ outputs:

# %% tags=["solution"]
x2 = sp.Matrix(sp.symbols("x1:3", real=True))
z4 = sp.Matrix([sp.Function(f"z{i}")(*x2) for i in range(1, 5)])
jacobian_42 = sp.Matrix(4, 2, lambda i, j: sp.Derivative(z4[i], x2[j]))
upstream_4 = sp.Matrix([sp.Derivative(ell(*z4), zi) for zi in z4])
prove_equal("kang.7.vjp", derivative(ell(*z4), x2),
            sp.MatMul(jacobian_42.T, upstream_4, evaluate=False),
            lhs=r"\frac{\partial \mathcal{L}}{\partial x}")
check_shape("kang.7.vjp", "(∂z/∂x)ᵀ ∂L/∂z for n = 2, m = 4", jacobian_42.T * upstream_4, (2, 1))

# %% [markdown] tags=["solution"]
# ## The machine's check
#
# For the concrete map $f:\mathbb R^3\to\mathbb R^2$ above, the product of the hand-derived
# Jacobian's transpose with an upstream gradient $g \in \mathbb R^2$ is compared with JAX's
# own backward pass, `jax.vjp`, and with central differences of $\langle g, f(x)\rangle$,
# at seeded random $x$ and $g$:

# %% tags=["solution"]
def backward(x, g):
    return jacobian_of_f(x).T @ g


check_vjp("kang.7.vjp", f, backward, at=None,
          sample=lambda rng: (jnp.asarray(rng.standard_normal(3)),))

# %% [markdown] tags=["solution"]
# JAX's pullback hands back a gradient shaped like the input, $n = 3$ entries from an
# upstream gradient of $m = 2$:

# %% tags=["solution"]
_, pullback = jax.vjp(f, jnp.array([0.5, -1.2, 2.0]))
(input_gradient,) = pullback(jnp.array([1.0, -2.0]))
check_shape("kang.7.vjp", "∂L/∂x from jax.vjp (upstream gradient in ℝ²)", input_gradient, (3,))

# %% [markdown] tags=["solution"]
# ## Forgetting the transpose
#
# The most common slip is to multiply by the Jacobian itself. With $m \ne n$ the product
# $(m\times n)$ times a vector of length $m$ does not even exist, and the check refuses it:

# %% tags=["solution"]
with rejects("kang.7.vjp", "the Jacobian without the transpose, (∂z/∂x) ∂L/∂z, for m ≠ n"):
    check_vjp("kang.7.vjp", f, lambda x, g: jacobian_of_f(x) @ g, at=None,
              sample=lambda rng: (jnp.asarray(rng.standard_normal(3)),))

# %% [markdown] tags=["solution"]
# For a square Jacobian the shapes fit either way, and only the values can reveal the slip.
# Take $h:\mathbb R^3\to\mathbb R^3$, $h(x) = (x_1x_2,\; x_2 + x_3^2,\; x_3\sin x_1)$, whose
# Jacobian is not symmetric. The transposed product passes and the untransposed one is
# rejected on its numbers:

# %% tags=["solution"]
def h(x):
    return jnp.array([x[0] * x[1], x[1] + x[2] ** 2, x[2] * jnp.sin(x[0])])


def jacobian_of_h(x):
    return jnp.array([[x[1], x[0], 0.0],
                      [0.0, 1.0, 2 * x[2]],
                      [x[2] * jnp.cos(x[0]), 0.0, jnp.sin(x[0])]])


check_vjp("kang.7.vjp", h, lambda x, g: jacobian_of_h(x).T @ g, at=None,
          sample=lambda rng: (jnp.asarray(rng.standard_normal(3)),))
with rejects("kang.7.vjp", "the Jacobian without the transpose, for a square Jacobian"):
    check_vjp("kang.7.vjp", h, lambda x, g: jacobian_of_h(x) @ g, at=None,
              sample=lambda rng: (jnp.asarray(rng.standard_normal(3)),))

# %%
exercise("kang.7.vjp",
         r"A function maps $x \in \mathbb R^n$ to $z \in \mathbb R^m$, and its Jacobian at the "
         r"current point is $J = \partial z/\partial x$, an $m \times n$ matrix. A scalar loss "
         r"$\mathcal L$ depends on $x$ only through $z$, and the upstream gradient "
         r"$g = \partial\mathcal L/\partial z$ (a column of length $m$) is known. Find "
         r"$\dfrac{\partial \mathcal L}{\partial x}$.",
         of="sum(g * (J @ x))", wrt="x", answer="J.T @ g",
         inputs={"J": "m × n", "g": "m × 1", "x": "n × 1"}, sizes={"m": 2, "n": 3},
         symbolic_sizes=True,
         spellings=["jacobian_of_f(x).T @ g", r"\right)^{\!\top}", r"J^\top \partial"])

# %%
summary()
