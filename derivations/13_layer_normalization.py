# %% [markdown]
# # 13 · Layer normalization
#
# Layer normalization standardises each sample on its own: the mean and variance are taken
# over the features of one sample, not over the samples of one feature. The computation is
# batch normalization's (notebook 12) along the other axis, and so is its backward pass, with
# the number of samples $N$ replaced by the number of features $H$. What changes is
# everything that depended on the batch: samples no longer influence each other, training
# and inference are the same function, and a batch of one sample is no longer a problem.
# One detail of the formula changes too: the gain $\gamma$ now varies along the axis the
# sums run over, so it can no longer be pulled out of them.
#
# This notebook follows “Layer Normalization” (Ba, Kiros and Hinton, 2016). Its §3 defines
# the statistics over all the hidden units of a layer for each training case and points out
# that nothing then depends on the mini-batch; each unit has its own gain and bias (the
# abstract, and §3.1), and the abstract adds that training and testing compute the same
# thing. The backward formula is not printed there; it is derived here, proven with SymPy
# and checked against JAX and finite differences on a small batch of our own.

# %%
import sympy as sp
from gradbook import *

verifies("ln.forward", "ln.dx", "ln.params", "ln.independent", "ln.modes", "ln.machine")

# %% [markdown]
# ## The forward pass, one sample at a time
#
# A batch is a matrix $X$ with one row per sample and $H$ columns, the features (hidden
# units). Layer normalization takes one row $x_1, \dots, x_H$ and computes
#
# - its mean $\mu = \frac1H\sum_h x_h$ and variance $\sigma^2 = v = \frac1H\sum_h (x_h-\mu)^2$,
# - the inverse standard deviation $s = \sigma^{-1} = (v + \varepsilon)^{-1/2}$,
# - the normalised values $\hat x_h = (x_h - \mu)\, s$,
# - the output $y_h = \gamma_h \hat x_h + \beta_h$, with a gain $\gamma_h$ and a bias $\beta_h$
#   for every feature.
#
# Ba et al. write $\sigma$ without an $\varepsilon$; implementations add one under the square
# root, as batch normalization does, and so do we. SymPy works with one sample of $H = 4$
# explicit symbols (the proofs are for that size; the numeric checks use other sizes too).

# %%
H = 4
x = sp.Matrix(sp.symbols("x1:5", real=True))
xhat = sp.Matrix(sp.symbols("xhat1:5", real=True))
y = sp.Matrix(sp.symbols("y1:5", real=True))
gamma = sp.Matrix(sp.symbols("gamma1:5", real=True))
beta = sp.Matrix(sp.symbols("beta1:5", real=True))
mu, v = sp.symbols("mu v", real=True)
s = sp.Symbol("s", positive=True)
eps = sp.Symbol("epsilon", positive=True)
ones = sp.ones(H, 1)

# the same quantities written out in terms of x
mu_x = sp.Add(*x) / H
v_x = sp.Add(*[(xh - mu_x) ** 2 for xh in x]) / H
s_x = (v_x + eps) ** sp.Rational(-1, 2)
xhat_x = (x - mu_x * ones) * s_x
y_x = gamma.multiply_elementwise(xhat_x) + beta
forward = {mu: mu_x, v: v_x, s: s_x, **dict(zip(xhat, xhat_x)), **dict(zip(y, y_x))}

# %% [markdown]
# As in batch normalization, the normalised values of a sample have mean 0 and mean square
# $\sigma^2/(\sigma^2+\varepsilon)$, now along the row:

# %%
with sp.evaluate(False):
    mean_of_row = [sp.Add(*xhat) / H,
                   (s * (sp.Add(*x) - H * mu) / H, r"$\hat x_h = (x_h - \mu) s$"),
                   (0, r"$\mu$ is the mean of the row")]
    square_of_row = [sp.Add(*[xh ** 2 for xh in xhat]) / H,
                     (s ** 2 * v, r"the definition of $v$"),
                     v / (v + eps)]
prove_chain("ln.forward", *mean_of_row, where=forward, box=False)
prove_chain("ln.forward", *square_of_row, where=forward)

# %% [markdown]
# ## A worked example
#
# In code the statistics are taken along each row (`axis=-1`, over the features). Our batch
# has 2 samples and $H = 4$ features; it is the batch of notebook 12 turned on its side, so
# each row here has the statistics of a column there. The gain and bias are per feature:
# $\gamma = (1.5,\ 0.5,\ -1.0,\ 2.0)$, $\beta = (0.1,\ -0.2,\ 0.0,\ 0.3)$, and
# $\varepsilon = 10^{-5}$:
#
# $$X = \begin{pmatrix} 1 & 3 & -2 & 2 \\ 2 & -1 & 0.5 & 2.5 \end{pmatrix}.$$

# %%
EPS = 1e-5


def layer_norm(x, gamma, beta, eps=EPS):
    mu = jnp.mean(x, axis=-1, keepdims=True)
    c = x - mu
    var = jnp.mean(c ** 2, axis=-1, keepdims=True)
    return gamma * c * (var + eps) ** -0.5 + beta


X_ex = jnp.array([[1.0, 3.0, -2.0, 2.0], [2.0, -1.0, 0.5, 2.5]])
gamma_ex = jnp.array([1.5, 0.5, -1.0, 2.0])
beta_ex = jnp.array([0.1, -0.2, 0.0, 0.3])

# %% [markdown]
# The rows have means $\mu = (1.0000,\ 1.0000)$, variances $\sigma^2 = (3.5000,\ 1.8750)$ and
# inverse standard deviations $\sigma^{-1} = (0.5345,\ 0.7303)$, one number per sample.
# Then
#
# $$\hat X = \begin{pmatrix} 0.0000 & 1.0690 & -1.6036 & 0.5345 \\
# 0.7303 & -1.4606 & -0.3651 & 1.0954 \end{pmatrix}, \qquad
# Y = \begin{pmatrix} 0.1000 & 0.3345 & 1.6036 & 1.3690 \\
# 1.1954 & -0.9303 & 0.3651 & 2.4909 \end{pmatrix}.$$

# %%
mu_ex = jnp.mean(X_ex, axis=-1, keepdims=True)
var_ex = jnp.mean((X_ex - mu_ex) ** 2, axis=-1, keepdims=True)
s_ex = (var_ex + EPS) ** -0.5
xhat_ex = (X_ex - mu_ex) * s_ex

check_printed("ln.forward", "μ, one per sample", mu_ex[:, 0], ["1.0000", "1.0000"])
check_printed("ln.forward", "σ², one per sample", var_ex[:, 0], ["3.5000", "1.8750"])
check_printed("ln.forward", "σ⁻¹, one per sample", s_ex[:, 0], ["0.5345", "0.7303"])
check_printed("ln.forward", "x̂", xhat_ex, [["0.0000", "1.0690", "-1.6036", "0.5345"],
                                          ["0.7303", "-1.4606", "-0.3651", "1.0954"]])
check_printed("ln.forward", "y = γ ⊙ x̂ + β", layer_norm(X_ex, gamma_ex, beta_ex),
              [["0.1000", "0.3345", "1.6036", "1.3690"], ["1.1954", "-0.9303", "0.3651", "2.4909"]])

# %% [markdown] tags=["solution"]
# ## The backward pass
#
# As in notebook 12, write $\bar u = \partial\ell/\partial u$ and let the linear loss
# $\ell = \sum_h \bar y_h y_h$ stand in for any loss with upstream gradient $\bar y$. The
# graph of one sample is the graph of one batch-norm feature, with the $H$ features in place
# of the $N$ samples, so the staged rules carry over unchanged except for the first one. The
# gain is now a vector along the row, and the scale-and-shift node gives each $\hat x_h$ its
# own factor:

# %% tags=["solution"]
xhatbar = sp.Matrix(sp.symbols("xhatbar1:5", real=True))
ybar = sp.Matrix(sp.symbols("ybar1:5", real=True))
ell = sp.Symbol("ell")
loss = {ell: sp.Add(*[ybar[h] * y[h] for h in range(H)])}

scale_shift = {ell: sp.Add(*[ybar[h] * (gamma[h] * xhat[h] + beta[h]) for h in range(H)])}
prove_equal("ln.dx", derivative(ell, xhat), gamma.multiply_elementwise(ybar), where=scale_shift,
            lhs=r"\overline{\hat x}")

# %% [markdown] tags=["solution"]
# From $\overline{\hat x}$ on, the nodes (normalise, inverse standard deviation, variance,
# centring, mean) are those of notebook 12 with sums over the features, and the same algebra
# gives the one-line form with $N$ replaced by $H$, but with $\overline{\hat x} = \gamma \odot \bar y$
# where batch normalization had $\gamma\bar y$:
#
# $$\bar x_h = \frac{\sigma^{-1}}{H}\Bigl(H \overline{\hat x}_h - \sum_k \overline{\hat x}_k
#   - \hat x_h \sum_k \overline{\hat x}_k \hat x_k\Bigr), \qquad \overline{\hat x}_h = \gamma_h \bar y_h.$$
#
# In notebook 12 the gain was a single number for the whole column being summed, so it could
# be pulled out in front of the bracket. Here it changes from one term of the sums to the
# next and must stay inside. SymPy proves the formula directly, as the derivative of $\ell$
# with every definition written in terms of $x$:

# %% tags=["solution"]
sum_xx = sp.Add(*[xhatbar[h] * xhat[h] for h in range(H)])
closed_form = s / H * (H * xhatbar - sp.Add(*xhatbar) * ones - xhat * sum_xx)
gain = dict(zip(xhatbar, gamma.multiply_elementwise(ybar)))
prove_equal("ln.dx", derivative(ell, x), closed_form, where={**loss, **forward, **gain},
            lhs=r"\bar x")

# %% [markdown] tags=["solution"]
# In code, every reduction runs along the row (`axis=-1`), and the gain is applied first:

# %% tags=["solution"]
def layer_norm_backward(x, gamma, beta, ybar, eps=EPS):
    h = x.shape[-1]
    mu = jnp.mean(x, axis=-1, keepdims=True)
    s = (jnp.mean((x - mu) ** 2, axis=-1, keepdims=True) + eps) ** -0.5
    xhat = (x - mu) * s
    xhatbar = gamma * ybar
    return s / h * (h * xhatbar - jnp.sum(xhatbar, axis=-1, keepdims=True)
                    - xhat * jnp.sum(xhatbar * xhat, axis=-1, keepdims=True))

# %% [markdown] tags=["solution"]
# With the upstream gradient $\bar Y$ below (again notebook 12's, turned on its side), the
# gradient with respect to the input is
#
# $$\bar Y = \begin{pmatrix} 0.3 & -0.5 & 1.0 & 0.2 \\ -1.0 & 0.2 & 0.4 & -0.6 \end{pmatrix},
# \qquad
# \bar X = \begin{pmatrix} 0.2940 & -0.3016 & -0.1489 & 0.1565 \\
# -0.2264 & -0.0219 & 0.0949 & 0.1534 \end{pmatrix}.$$
#
# JAX and finite differences agree there and at seeded random batches of 3 samples and
# 5 features:

# %% tags=["solution"]
def random_batch(rng):
    return (jnp.asarray(rng.standard_normal((3, 5))), jnp.asarray(rng.standard_normal(5)),
            jnp.asarray(rng.standard_normal(5)))


Ybar_ex = jnp.array([[0.3, -0.5, 1.0, 0.2], [-1.0, 0.2, 0.4, -0.6]])
check_vjp("ln.dx", layer_norm, layer_norm_backward, at=(X_ex, gamma_ex, beta_ex),
          cotangent=Ybar_ex, wrt="x", sample=random_batch, at_label="our worked example")
xbar_ex = layer_norm_backward(X_ex, gamma_ex, beta_ex, Ybar_ex)
check_printed("ln.dx", "x̄", xbar_ex, [["0.2940", "-0.3016", "-0.1489", "0.1565"],
                                      ["-0.2264", "-0.0219", "0.0949", "0.1534"]])

# %%
exercise("ln.dx.sample",
         r"One sample $x \in \mathbb R^H$ is normalised over its own $H$ features, "
         r"$\mu = \tfrac1H\sum_h x_h$, $s = (\tfrac1H\sum_h (x_h - \mu)^2 + \varepsilon)^{-1/2}$ "
         r"($\varepsilon = 10^{-5}$), $\hat x = (x - \mu)\,s$, and $y = \gamma \odot \hat x + \beta$ "
         r"with a gain and a bias per feature. The upstream gradient is "
         r"$g = \partial \mathcal L/\partial y$. Find $\partial \mathcal L/\partial x$.",
         of="sum(g*(gamma*xhat + beta))", wrt="x",
         answer="s/H*(H*gamma*g - sum(gamma*g) - xhat*sum(gamma*g*xhat))",
         inputs={"x": "H", "gamma": "H", "beta": "H", "g": "H"}, sizes={"H": 4},
         where={"mu": "sum(x)/H", "s": "1/sqrt(sum((x - mu)**2)/H + 0.00001)",
                "xhat": "(x - mu)*s"},
         example={"x": [1.0, 3.0, -2.0, 2.0], "gamma": [1.5, 0.5, -1.0, 2.0],
                  "beta": [0.1, -0.2, 0.0, 0.3], "g": [0.3, -0.5, 1.0, 0.2]},
         mistakes={"gamma*s*g": "This treats the mean and the variance as constants; both are "
                                "computed from x, and the paths through them add two terms.",
                   "gamma*s/H*(H*g - sum(g) - xhat*sum(g*xhat))":
                       "Batch normalization's formula with the gain pulled out of the sums: here "
                       "the gain varies along the axis the sums run over, so it stays inside."},
         spellings=["h * xhatbar - jnp.sum(xhatbar", r"H \bar{\hat x}_h"],
         same_as=lambda x, gamma, beta, g: layer_norm_backward(
             x[None, :], gamma, beta, g[None, :])[0])

# %% [markdown] tags=["solution"]
# ### Two mistakes carried over from batch normalization
#
# Copying notebook 12's backward pass goes wrong in two ways. The first is to keep its axis:
# statistics and sums taken over the batch (`axis=0`) instead of over the features. That is
# the gradient of a different layer, and JAX rejects it:

# %% tags=["solution"]
def layer_norm_backward_batch_axis(x, gamma, beta, ybar, eps=EPS):
    n = x.shape[0]
    mu = jnp.mean(x, axis=0)
    s = (jnp.mean((x - mu) ** 2, axis=0) + eps) ** -0.5
    xhat = (x - mu) * s
    xhatbar = gamma * ybar
    return s / n * (n * xhatbar - jnp.sum(xhatbar, axis=0)
                    - xhat * jnp.sum(xhatbar * xhat, axis=0))


with rejects("ln.dx", "batch-norm's axis: statistics and sums over the samples, not the features"):
    check_vjp("ln.dx", layer_norm, layer_norm_backward_batch_axis, at=(X_ex, gamma_ex, beta_ex),
              cotangent=Ybar_ex, wrt="x", sample=random_batch, at_label="our worked example")

# %% [markdown] tags=["solution"]
# The second keeps the right axis but batch norm's formula with $\gamma$ in front,
# $\gamma \odot \frac{\sigma^{-1}}{H}(H\bar y - \sum\bar y - \hat x\sum \bar y\hat x)$. It
# would be right if all the gains were equal; with ours it gives $0.0401$ instead of
# $0.2940$ in the first entry:

# %% tags=["solution"]
def layer_norm_backward_gain_outside(x, gamma, beta, ybar, eps=EPS):
    h = x.shape[-1]
    mu = jnp.mean(x, axis=-1, keepdims=True)
    s = (jnp.mean((x - mu) ** 2, axis=-1, keepdims=True) + eps) ** -0.5
    xhat = (x - mu) * s
    return gamma * s / h * (h * ybar - jnp.sum(ybar, axis=-1, keepdims=True)
                            - xhat * jnp.sum(ybar * xhat, axis=-1, keepdims=True))


with rejects("ln.dx", "γ pulled out of the feature sums, as in batch norm's formula"):
    check_vjp("ln.dx", layer_norm, layer_norm_backward_gain_outside,
              at=(X_ex, gamma_ex, beta_ex), cotangent=Ybar_ex, wrt="x", sample=random_batch,
              at_label="our worked example")
check_printed("ln.dx", "the gain-outside x̄, first entry",
              layer_norm_backward_gain_outside(X_ex, gamma_ex, beta_ex, Ybar_ex)[0, 0], "0.0401")
equal_gains = jnp.full(4, 1.5)
check_close("ln.dx", "jax", "with all gains equal (1.5), the gain-outside form and the right one",
            layer_norm_backward(X_ex, equal_gains, beta_ex, Ybar_ex),
            layer_norm_backward_gain_outside(X_ex, equal_gains, beta_ex, Ybar_ex))

# %% [markdown] tags=["solution"]
# ## Samples are independent
#
# Each row is normalised with its own statistics, so $y_n$ depends on $x_n$ alone, and every
# cross-sample block $\partial y_n / \partial x_m$ ($n \ne m$) of the Jacobian is zero. SymPy
# shows it for a batch of two samples with three features each:

# %% tags=["solution"]
X2 = sp.Matrix(2, 3, lambda n, h: sp.Symbol(f"x{n + 1}{h + 1}", real=True))
Y2 = sp.Matrix(2, 3, lambda n, h: sp.Symbol(f"y{n + 1}{h + 1}", real=True))
Xhat2 = sp.Matrix(2, 3, lambda n, h: sp.Symbol(f"xhat{n + 1}{h + 1}", real=True))
gamma3, beta3 = gamma[:3, :], beta[:3, :]


def normalise_row(row):
    centred = row - sp.Add(*row) / 3 * sp.ones(1, 3)
    return centred * (sp.Add(*[ci ** 2 for ci in centred]) / 3 + eps) ** sp.Rational(-1, 2)


xhat2_x = sp.Matrix.vstack(*[normalise_row(X2[n, :]) for n in range(2)])
y2_x = sp.Matrix(2, 3, lambda n, h: gamma3[h] * xhat2_x[n, h] + beta3[h])
batch_of_two = {**dict(zip(Xhat2, xhat2_x)), **dict(zip(Y2, y2_x))}
prove_equal("ln.independent", sp.Matrix(3, 3, lambda h, k: sp.Derivative(Y2[0, h], X2[1, k])),
            sp.zeros(3, 3), where=batch_of_two, lhs=r"\partial y_1 / \partial x_2", box=False)
prove_equal("ln.independent", sp.Matrix(3, 3, lambda h, k: sp.Derivative(Y2[1, h], X2[0, k])),
            sp.zeros(3, 3), where=batch_of_two, lhs=r"\partial y_2 / \partial x_1", box=False)

# %% [markdown] tags=["solution"]
# Within a sample the block is
# $\partial y / \partial x = \operatorname{diag}(\gamma)\,\frac{\sigma^{-1}}{H}
# \bigl(H I - \mathbf 1\mathbf 1^{\mathsf T} - \hat x \hat x^{\mathsf T}\bigr)$; its transpose
# times $\bar y$ is the one-line form above. SymPy proves both for one sample of four:

# %% tags=["solution"]
jacobian_block = sp.diag(*gamma) * s / H * (H * sp.eye(H) - ones * ones.T - xhat * xhat.T)
prove_equal("ln.independent", sp.Matrix(H, H, lambda h, k: sp.Derivative(y[h], x[k])),
            jacobian_block, where=forward, lhs=r"\frac{\partial y}{\partial x}")
prove_equal("ln.dx", jacobian_block.T * ybar, closed_form, where={**forward, **gain},
            lhs=r"\left(\frac{\partial y}{\partial x}\right)^{\mathsf T} \bar y", box=False)

# %% [markdown] tags=["solution"]
# JAX's full Jacobian of a batch, an array indexed (sample, feature, sample, feature), is
# exactly these blocks on the diagonal and zeros elsewhere, at the example and at random
# batches of three samples:

# %% tags=["solution"]
def layer_norm_jacobian(x, gamma, beta, eps=EPS):
    n, h = x.shape
    mu = jnp.mean(x, axis=-1, keepdims=True)
    s = (jnp.mean((x - mu) ** 2, axis=-1, keepdims=True) + eps) ** -0.5
    xhat = (x - mu) * s
    blocks = (gamma[None, :, None] * s[:, :, None] / h
              * (h * jnp.eye(h) - 1.0 - xhat[:, :, None] * xhat[:, None, :]))
    return jnp.einsum("nm,nhk->nhmk", jnp.eye(n), blocks)


check_jacobian("ln.independent", layer_norm, layer_norm_jacobian, at=(X_ex, gamma_ex, beta_ex),
               sample=random_batch, at_label="our worked example")

# %% [markdown] tags=["solution"]
# Batch normalization (statistics down the columns) has no such zeros: there the
# cross-sample blocks are full. We compare the two on our batch with a third sample
# $(0, 1, -1, 0.5)$ added, because with only two samples batch normalization sends every
# column to $\pm 1$ (up to $\varepsilon$), whatever the values, and its Jacobian nearly
# vanishes.

# %% tags=["solution"]
def batch_norm(x, gamma, beta, eps=EPS):
    mu = jnp.mean(x, axis=0)
    return gamma * (x - mu) * (jnp.mean((x - mu) ** 2, axis=0) + eps) ** -0.5 + beta


X_three = jnp.vstack([X_ex, jnp.array([[0.0, 1.0, -1.0, 0.5]])])
ln_jac = jax.jacobian(layer_norm)(X_three, gamma_ex, beta_ex)
bn_jac = jax.jacobian(batch_norm)(X_three, gamma_ex, beta_ex)
check_that("ln.independent", "jax", bool(jnp.all(ln_jac[0, :, 1:, :] == 0.0)),
           "jax.jacobian of layer norm: the blocks ∂y₁/∂x₂ and ∂y₁/∂x₃ are exactly 0")
check_that("ln.independent", "jax", float(jnp.max(jnp.abs(bn_jac[0, :, 1, :]))) > 0.1,
           "jax.jacobian of batch norm on the same batch: the block ∂y₁/∂x₂ has entries up to "
           f"{float(jnp.max(jnp.abs(bn_jac[0, :, 1, :]))):.3f}")

# %% [markdown] tags=["solution"]
# ## The parameters
#
# The gain and bias are shared by all samples, so, unlike $\bar x$, their gradients do
# collect a term from every sample: $\bar\gamma_h = \sum_n \bar y_{nh} \hat x_{nh}$ and
# $\bar\beta_h = \sum_n \bar y_{nh}$, a sum down each column. SymPy proves it for the batch
# of two:

# %% tags=["solution"]
Ybar2 = sp.Matrix(2, 3, lambda n, h: sp.Symbol(f"ybar{n + 1}{h + 1}", real=True))
batch_loss = {ell: sp.Add(*[Ybar2[n, h] * Y2[n, h] for n in range(2) for h in range(3)]),
              **batch_of_two}
prove_equal("ln.params", derivative(ell, gamma3),
            sp.Matrix(3, 1, lambda h, _: Ybar2[0, h] * Xhat2[0, h] + Ybar2[1, h] * Xhat2[1, h]),
            where=batch_loss, lhs=r"\bar\gamma")
prove_equal("ln.params", derivative(ell, beta3),
            sp.Matrix(3, 1, lambda h, _: Ybar2[0, h] + Ybar2[1, h]), where=batch_loss,
            lhs=r"\bar\beta")

# %% [markdown] tags=["solution"]
# At the example, $\bar\gamma = (-0.7303,\ -0.8266,\ -1.7496,\ -0.5504)$ and
# $\bar\beta = (-0.7,\ -0.3,\ 1.4,\ -0.4)$:

# %% tags=["solution"]
def layer_norm_param_grads(x, gamma, beta, ybar, eps=EPS):
    mu = jnp.mean(x, axis=-1, keepdims=True)
    xhat = (x - mu) * (jnp.mean((x - mu) ** 2, axis=-1, keepdims=True) + eps) ** -0.5
    return jnp.sum(ybar * xhat, axis=0), jnp.sum(ybar, axis=0)


check_vjp("ln.params", layer_norm, layer_norm_param_grads, at=(X_ex, gamma_ex, beta_ex),
          cotangent=Ybar_ex, wrt=("gamma", "beta"), sample=random_batch,
          at_label="our worked example")
dgamma_ex, dbeta_ex = layer_norm_param_grads(X_ex, gamma_ex, beta_ex, Ybar_ex)
check_printed("ln.params", "γ̄", dgamma_ex, ["-0.7303", "-0.8266", "-1.7496", "-0.5504"])
check_printed("ln.params", "β̄", dbeta_ex, ["-0.7", "-0.3", "1.4", "-0.4"])

# %%
exercise("ln.params.sample",
         r"For the same layer and one sample, find the gradients of the gain and the bias, "
         r"$(\partial \mathcal L/\partial\gamma,\ \partial \mathcal L/\partial\beta)$, each a "
         r"vector of $H$ entries.",
         of="sum(g*(gamma*xhat + beta))", wrt=("gamma", "beta"), answer="(g*xhat, g)",
         inputs={"x": "H", "gamma": "H", "beta": "H", "g": "H"}, sizes={"H": 4},
         where={"mu": "sum(x)/H", "s": "1/sqrt(sum((x - mu)**2)/H + 0.00001)",
                "xhat": "(x - mu)*s"},
         example={"x": [1.0, 3.0, -2.0, 2.0], "gamma": [1.5, 0.5, -1.0, 2.0],
                  "beta": [0.1, -0.2, 0.0, 0.3], "g": [0.3, -0.5, 1.0, 0.2]},
         mistakes={"(sum(g*xhat), sum(g))": "Summed over the features, as batch normalization "
                                            "sums over the samples: each feature has a gain of "
                                            "its own, and for one sample nothing is summed."})

# %% [markdown] tags=["solution"]
# ## Training, inference, and a batch of one
#
# Since no statistic crosses the batch, there is nothing to replace at inference time: no
# running averages, no second mode, the same function in training and in use (the paper's
# abstract says so). A sample gets the same output and the same gradient whether it comes
# alone or in a batch:

# %% tags=["solution"]
alone = layer_norm(X_ex[1:], gamma_ex, beta_ex)
check_close("ln.modes", "num", "sample 2 normalised alone and within the batch",
            layer_norm(X_ex, gamma_ex, beta_ex)[1:], alone)
_, pullback_alone = jax.vjp(lambda x: layer_norm(x, gamma_ex, beta_ex), X_ex[1:])
(xbar_alone,) = pullback_alone(Ybar_ex[1:])
check_close("ln.modes", "jax", "x̄ of sample 2 by jax.vjp alone and the batch's row 2",
            xbar_ex[1:], xbar_alone)

# %% [markdown] tags=["solution"]
# And a batch of one sample, which §3 names as the purely online case, is an ordinary case:
# its gradient is the one-line form, checked
# here at single samples by JAX and finite differences, and it is not zero. Batch
# normalization of a batch of one returns $\beta$ whatever the input, and passes back
# exactly zero (notebook 12).

# %% tags=["solution"]
check_vjp("ln.modes", layer_norm, layer_norm_backward, at=(X_ex[1:], gamma_ex, beta_ex),
          cotangent=Ybar_ex[1:], wrt="x", at_label="sample 2 alone", label="batch of one",
          sample=lambda rng: (jnp.asarray(rng.standard_normal((1, 4))),
                              jnp.asarray(rng.standard_normal(4)),
                              jnp.asarray(rng.standard_normal(4))))
check_printed("ln.modes", "x̄ of sample 2 alone", xbar_alone,
              [["-0.2264", "-0.0219", "0.0949", "0.1534"]])
_, pullback_bn = jax.vjp(lambda x: batch_norm(x, gamma_ex, beta_ex), X_ex[1:])
check_that("ln.modes", "jax", bool(jnp.all(pullback_bn(Ybar_ex[1:])[0] == 0.0)),
           "batch norm of the same single sample: jax.vjp returns x̄ = 0 exactly")

# %% [markdown] tags=["solution"]
# ## The same backward pass, derived by machine
#
# Above, only the first node's rule was derived afresh; the other stages were carried over from
# notebook 12 with their sums running along the row. `derive` stages the whole pass for this
# layer from the forward computation alone. It receives the layer at our worked example, with
# the intermediates named as in notebook 12 ($\mu$, $c$, $v = \sigma^2$, $s = \sigma^{-1}$,
# $\hat x$, $y$; the statistics are now one number per sample), followed by the linear loss
# $\ell = \sum_{n,h} \bar Y_{nh}\, y_{nh}$ whose fixed weights are the example's upstream
# gradient, so that $\partial\ell/\partial y = \bar Y$ exactly. SymPy derives each node's
# local derivative from its formula, the backward pass runs node by node (the tables show
# every value and gradient, and the two shares where $x$ and $c$ fan out), and the result is
# checked against JAX's backward pass, `jax.grad` and finite differences, at the example and
# at seeded points near it. In the drawing, edges carrying the whole $2 \times 4$ batch show
# only its shape.

# %% tags=["solution"]
def layer_norm_loss(x, gamma, beta, ybar):
    mu = named(jnp.mean(x, axis=-1, keepdims=True), "mu")
    c = named(x - mu, "c")
    v = named(jnp.mean(c ** 2, axis=-1, keepdims=True), "v")
    s = named((v + EPS) ** -0.5, "s")
    xhat = named(c * s, "xhat")
    y = named(gamma * xhat + beta, "y")
    return jnp.sum(ybar * y)


workbook = derive(layer_norm_loss, at=dict(x=X_ex, gamma=gamma_ex, beta=beta_ex, ybar=Ybar_ex),
                  wrt=["x", "gamma", "beta"], claim="ln.machine", output="ℓ")

# %% [markdown] tags=["solution"]
# Against the machine's gradients, each hand result at the same example: the first rule
# $\overline{\hat x} = \gamma \odot \bar y$; notebook 12's stages summed over the features, as
# the text above says they carry over ($\bar s = \sum_h \overline{\hat x}_h c_h$,
# $\bar v = -\tfrac12 \bar s s^3$, $\bar c = s\,\overline{\hat x} + \tfrac2H \bar v\, c$,
# $\bar\mu = -\sum_h \bar c_h$); the one-line form of $\bar x$ and the same gradient as
# the transpose of the block-diagonal Jacobian times $\bar Y$; and $\bar\gamma$, $\bar\beta$.

# %% tags=["solution"]
def layer_norm_backward_staged(x, gamma, beta, ybar, eps=EPS):
    h = x.shape[-1]
    mu = jnp.mean(x, axis=-1, keepdims=True)
    c = x - mu
    s = (jnp.mean(c ** 2, axis=-1, keepdims=True) + eps) ** -0.5
    xhatbar = gamma * ybar
    sbar = jnp.sum(xhatbar * c, axis=-1, keepdims=True)
    vbar = -0.5 * sbar * s ** 3
    cbar = s * xhatbar + 2 / h * vbar * c
    return {"xhat": xhatbar, "s": sbar, "v": vbar, "c": cbar,
            "mu": -jnp.sum(cbar, axis=-1, keepdims=True)}


ln_stages = layer_norm_backward_staged(X_ex, gamma_ex, beta_ex, Ybar_ex)
dgamma_hand, dbeta_hand = layer_norm_param_grads(X_ex, gamma_ex, beta_ex, Ybar_ex)
jacobian_route = jnp.einsum("nh,nhmk->mk", Ybar_ex,
                            layer_norm_jacobian(X_ex, gamma_ex, beta_ex))
hand = [("y", "y", "the upstream gradient Ȳ", Ybar_ex),
        ("xhat", "x̂", "γ ⊙ ȳ", ln_stages["xhat"]),
        ("s", "s", "notebook 12's s̄ along the row", ln_stages["s"]),
        ("v", "σ²", "notebook 12's v̄ along the row", ln_stages["v"]),
        ("c", "c", "notebook 12's c̄ along the row", ln_stages["c"]),
        ("mu", "μ", "notebook 12's μ̄ along the row", ln_stages["mu"]),
        ("x", "x", "the one-line form", xbar_ex),
        ("x", "x", "(∂y/∂x)ᵀ Ȳ with the block-diagonal Jacobian", jacobian_route),
        ("gamma", "γ", "Σ ȳ ⊙ x̂", dgamma_hand),
        ("beta", "β", "Σ ȳ", dbeta_hand)]
for name, shown, formula, value in hand:
    check_close("ln.machine", "num", f"∂ℓ/∂{shown} by derive and {formula}",
                workbook.grad(name), value)

# %% tags=["solution"]
summary()
