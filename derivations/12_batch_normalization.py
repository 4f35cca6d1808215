# %% [markdown]
# # 12 · Batch normalization
#
# A batch-normalization layer standardises every feature with the mean and variance of the
# current mini-batch, then rescales it with a learned gain $\gamma$ and shift $\beta$. Its
# backward pass is the first in this book where the samples of a batch stop being
# independent: the statistics are computed from the input, so every sample's output moves
# when any sample of the batch moves, and the gradient with respect to $x$ is not just
# $\gamma/\sigma$ times the upstream gradient.
#
# This notebook follows “Batch Normalization: Accelerating Deep Network Training by Reducing
# Internal Covariate Shift” (Ioffe and Szegedy, 2015): the forward transform of §3,
# Algorithm 1, the backward formulas stated right after it, and the inference mode of §3.1,
# Algorithm 2. It takes the backward pass one intermediate at a time, proves each local step
# with SymPy, collapses the result into a one-line formula, and checks everything against JAX
# and finite differences on a small batch of our own. It ends with the degenerate cases (one
# sample, a constant feature) and the most common mistake.

# %%
import sympy as sp
from gradbook import *

verifies("bn.forward", "bn.staged", "bn.dx", "bn.params", "bn.inference", "bn.degenerate",
         "bn.machine")

# %% [markdown]
# ## The forward pass, one feature at a time
#
# A batch is a matrix $X$ with one row per sample ($N$ rows) and one column per feature.
# Batch normalization treats each column on its own, so it is enough to follow one column
# $x_1, \dots, x_N$. Algorithm 1 computes, in order,
#
# - the batch mean $\mu = \frac1N \sum_i x_i$,
# - the centred values $c_i = x_i - \mu$,
# - the batch variance $v = \sigma^2 = \frac1N \sum_i c_i^2$ (the biased, divide-by-$N$ one),
# - the inverse standard deviation $s = \sigma^{-1} = (v + \varepsilon)^{-1/2}$, where the small
#   constant $\varepsilon > 0$ keeps it finite when the variance is 0,
# - the normalised values $\hat x_i = c_i\, s$,
# - the output $y_i = \gamma \hat x_i + \beta$.
#
# Algorithm 1 writes $\hat x_i = (x_i - \mu)/\sqrt{\sigma^2 + \varepsilon}$ in one go; splitting
# it into a centring, an inverse square root and a product gives the backward pass one simple
# node per step. SymPy works with an explicit batch of $N = 4$ symbols $x_1, \dots, x_4$ (the
# proofs below are for that size; the numeric checks use other sizes too).

# %%
N = 4
x = sp.Matrix(sp.symbols("x1:5", real=True))
c = sp.Matrix(sp.symbols("c1:5", real=True))
xhat = sp.Matrix(sp.symbols("xhat1:5", real=True))
y = sp.Matrix(sp.symbols("y1:5", real=True))
mu, v = sp.symbols("mu v", real=True)
s = sp.Symbol("s", positive=True)
gamma, beta = sp.symbols("gamma beta", real=True)
eps = sp.Symbol("epsilon", positive=True)

# the same quantities written out in terms of x
mu_x = sp.Add(*x) / N
c_x = x - mu_x * sp.ones(N, 1)
v_x = sp.Add(*[ci ** 2 for ci in c_x]) / N
s_x = (v_x + eps) ** sp.Rational(-1, 2)
xhat_x = c_x * s_x
y_x = gamma * xhat_x + beta * sp.ones(N, 1)
forward = {mu: mu_x, v: v_x, s: s_x, **dict(zip(c, c_x)), **dict(zip(xhat, xhat_x)),
           **dict(zip(y, y_x))}

# %% [markdown]
# The point of the normalisation is that $\hat x$ has mean 0 and (almost) unit variance,
# whatever the batch. The mean vanishes because the centred values sum to zero:

# %%
with sp.evaluate(False):
    mean_of_xhat = [
        sp.Add(*xhat) / N,
        (s * sp.Add(*c) / N, r"$\hat x_i = c_i s$"),
        (s * (sp.Add(*x) - N * mu) / N, r"$c_i = x_i - \mu$"),
        (0, r"$\mu$ is the mean of the $x_i$"),
    ]
prove_chain("bn.forward", *mean_of_xhat, where=forward, box=False)

# %% [markdown]
# and the mean square of $\hat x$ is $s^2 v = \sigma^2/(\sigma^2 + \varepsilon)$: one, up to
# the $\varepsilon$ that is only there for safety.

# %%
with sp.evaluate(False):
    variance_of_xhat = [
        sp.Add(*[xi ** 2 for xi in xhat]) / N,
        (s ** 2 * sp.Add(*[ci ** 2 for ci in c]) / N, r"$\hat x_i = c_i s$"),
        (s ** 2 * v, "the definition of $v$"),
        (v / (v + eps), r"$s^2 = (v + \varepsilon)^{-1}$"),
    ]
prove_chain("bn.forward", *variance_of_xhat, where=forward)

# %% [markdown]
# So the output $y = \gamma \hat x + \beta$ has mean exactly $\beta$: the layer decides for
# itself where the feature sits, whatever the batch brought in.

# %%
with sp.evaluate(False):
    mean_of_y = [sp.Add(*y) / N,
                 (gamma * sp.Add(*xhat) / N + beta, r"$y_i = \gamma \hat x_i + \beta$"),
                 (beta, r"$\hat x$ has mean 0")]
prove_chain("bn.forward", *mean_of_y, where=forward, box=False)

# %% [markdown]
# ## A worked example
#
# In code the whole batch is handled at once, with every statistic taken down the columns
# (`axis=0`, over the samples). Our example has $N = 4$ samples and 2 features, gain
# $\gamma = (1.5,\ 0.5)$, shift $\beta = (0.1,\ -0.2)$ and $\varepsilon = 10^{-5}$:
#
# $$X = \begin{pmatrix} 1 & 2 \\ 3 & -1 \\ -2 & 0.5 \\ 2 & 2.5 \end{pmatrix}.$$

# %%
EPS = 1e-5


def batch_norm(x, gamma, beta, eps=EPS):
    mu = jnp.mean(x, axis=0)
    c = x - mu
    var = jnp.mean(c ** 2, axis=0)
    s = (var + eps) ** -0.5
    xhat = c * s
    return gamma * xhat + beta


X_ex = jnp.array([[1.0, 2.0], [3.0, -1.0], [-2.0, 0.5], [2.0, 2.5]])
gamma_ex = jnp.array([1.5, 0.5])
beta_ex = jnp.array([0.1, -0.2])

# %% [markdown]
# Both columns have mean $\mu = (1.0000,\ 1.0000)$, so the centred columns are
# $(0.0, 2.0, -3.0, 1.0)$ and $(1.0, -2.0, -0.5, 1.5)$; their variances are
# $\sigma^2 = (3.5000,\ 1.8750)$ and the inverse standard deviations
# $\sigma^{-1} = (0.5345,\ 0.7303)$. (With
# $\varepsilon = 10^{-5}$ these differ from $1/\sqrt{3.5}$ and $1/\sqrt{1.875}$ only in the
# sixth digit.)

# %%
mu_ex = jnp.mean(X_ex, axis=0)
c_ex = X_ex - mu_ex
var_ex = jnp.mean(c_ex ** 2, axis=0)
s_ex = (var_ex + EPS) ** -0.5
xhat_ex = c_ex * s_ex

check_printed("bn.forward", "μ", mu_ex, ["1.0000", "1.0000"])
check_printed("bn.forward", "c = x − μ", c_ex,
              [["0.0", "1.0"], ["2.0", "-2.0"], ["-3.0", "-0.5"], ["1.0", "1.5"]])
check_printed("bn.forward", "σ²", var_ex, ["3.5000", "1.8750"])
check_printed("bn.forward", "σ⁻¹ = (σ² + ε)^(−1/2)", s_ex, ["0.5345", "0.7303"])

# %% [markdown]
# The normalised values and the output are then
#
# $$\hat X = \begin{pmatrix} 0.0000 & 0.7303 \\ 1.0690 & -1.4606 \\ -1.6036 & -0.3651 \\
# 0.5345 & 1.0954 \end{pmatrix}, \qquad
# Y = \begin{pmatrix} 0.1000 & 0.1651 \\ 1.7036 & -0.9303 \\ -2.3053 & -0.3826 \\
# 0.9018 & 0.3477 \end{pmatrix}.$$

# %%
check_printed("bn.forward", "x̂", xhat_ex,
              [["0.0000", "0.7303"], ["1.0690", "-1.4606"], ["-1.6036", "-0.3651"],
               ["0.5345", "1.0954"]])
check_printed("bn.forward", "y = γ x̂ + β", batch_norm(X_ex, gamma_ex, beta_ex),
              [["0.1000", "0.1651"], ["1.7036", "-0.9303"], ["-2.3053", "-0.3826"],
               ["0.9018", "0.3477"]])

# %% [markdown] tags=["solution"]
# ## The backward pass, one node at a time
#
# Write $\bar u$ for $\partial \ell / \partial u$, the gradient of the loss with respect to
# an intermediate $u$, so that $\bar y_i$ is the upstream gradient arriving at the layer.
# The backward pass visits the nodes in reverse order. At a node $w = f(u)$ it turns
# $\bar w$ into $u$'s share $\sum_k \bar w_k\, \partial w_k / \partial u$; where $u$ feeds
# several nodes, the shares add up.
#
# To prove a node's rule on its own, replace everything after the node by the linear loss
# $\ell = \sum_k \bar w_k w_k$, with the $\bar w_k$ held fixed: its gradient with respect to
# $w$ is exactly $\bar w$, so its gradient with respect to $u$ is exactly $u$'s share.
# (The same device stood in for an arbitrary loss in notebooks 07 and 08.) All sums run over
# the $N = 4$ samples of one feature.

# %% tags=["solution"]
ell = sp.Symbol("ell")
ybar = sp.Matrix(sp.symbols("ybar1:5", real=True))
xhatbar = sp.Matrix(sp.symbols("xhatbar1:5", real=True))
cbar = sp.Matrix(sp.symbols("cbar1:5", real=True))
sbar, vbar, mubar = sp.symbols("sbar vbar mubar", real=True)
ones = sp.ones(N, 1)

# %% [markdown] tags=["solution"]
# **Scale and shift**, $y_i = \gamma \hat x_i + \beta$. Each $\hat x_i$ reaches only its own
# $y_i$, with slope $\gamma$:

# %% tags=["solution"]
scale_shift = {ell: sp.Add(*[ybar[i] * (gamma * xhat[i] + beta) for i in range(N)])}
prove_equal("bn.staged", derivative(ell, xhat), gamma * ybar, where=scale_shift)

# %% [markdown] tags=["solution"]
# The same node gives the gradients of the two parameters. Each $y_i$ depends on $\gamma$
# and $\beta$, so their gradients collect a term from every sample:
# $\bar\gamma = \sum_i \bar y_i \hat x_i$ and $\bar\beta = \sum_i \bar y_i$ (the two lines of
# §3 for $\partial\ell/\partial\gamma$ and $\partial\ell/\partial\beta$).

# %% tags=["solution"]
prove_equal("bn.params", sp.Derivative(ell, gamma),
            sp.Add(*[ybar[i] * xhat[i] for i in range(N)]), where=scale_shift)
prove_equal("bn.params", sp.Derivative(ell, beta), sp.Add(*ybar), where=scale_shift)

# %% [markdown] tags=["solution"]
# **Normalise**, $\hat x_i = c_i\, s$. A product passes the upstream gradient to each factor
# times the other factor. The single number $s$ is used by every sample, so its share is a
# sum over the batch; each $c_i$ gets the first of its two shares:

# %% tags=["solution"]
normalise = {ell: sp.Add(*[xhatbar[i] * c[i] * s for i in range(N)])}
prove_equal("bn.staged", sp.Derivative(ell, s),
            sp.Add(*[xhatbar[i] * c[i] for i in range(N)]), where=normalise)
prove_equal("bn.staged", derivative(ell, c), s * xhatbar, where=normalise, box=False)

# %% [markdown] tags=["solution"]
# **Inverse standard deviation**, $s = (v + \varepsilon)^{-1/2}$. The power rule, and the
# result written back in terms of $s$, which the forward pass already has:

# %% tags=["solution"]
with sp.evaluate(False):
    inverse_std = [sp.Derivative(ell, v),
                   (sbar * sp.Rational(-1, 2) * (v + eps) ** sp.Rational(-3, 2), "power rule"),
                   (-sbar * s ** 3 / 2, r"$(v + \varepsilon)^{-3/2} = s^3$")]
prove_chain("bn.staged", *inverse_std,
            where={ell: sbar * (v + eps) ** sp.Rational(-1, 2), s: (v + eps) ** sp.Rational(-1, 2)})

# %% [markdown] tags=["solution"]
# **Variance**, $v = \frac1N \sum_i c_i^2$. Each $c_i$ gets its second share, $\bar v$ times
# $2c_i/N$:

# %% tags=["solution"]
variance = {ell: vbar * sp.Add(*[ci ** 2 for ci in c]) / N}
prove_equal("bn.staged", derivative(ell, c), sp.Rational(2, N) * vbar * c, where=variance,
            box=False)

# %% [markdown] tags=["solution"]
# The centred values feed two nodes, the product $\hat x = c\,s$ and the variance, so
# $\bar c_i = s\,\overline{\hat x}_i + \tfrac2N \bar v\, c_i$. To see that adding the two shares
# is right, SymPy differentiates the true loss $\ell = \sum_i \bar y_i y_i$ written as a
# function of the $c_i$ alone (through both paths), and compares it with the two shares,
# each built from the rules above:

# %% tags=["solution"]
rules = {**{xhatbar[i]: gamma * ybar[i] for i in range(N)},
         sbar: sp.Add(*[xhatbar[i] * c[i] for i in range(N)]),
         vbar: -sbar * s ** 3 / 2,
         **{cbar[i]: s * xhatbar[i] + sp.Rational(2, N) * vbar * c[i] for i in range(N)},
         mubar: -sp.Add(*cbar)}
after_c = {ell: sp.Add(*[ybar[i] * (gamma * c[i] * s + beta) for i in range(N)]),
           s: (v + eps) ** sp.Rational(-1, 2), v: sp.Add(*[ci ** 2 for ci in c]) / N, **rules}
prove_equal("bn.staged", derivative(ell, c), s * xhatbar + sp.Rational(2, N) * vbar * c,
            where=after_c)

# %% [markdown] tags=["solution"]
# **Centring**, $c_i = x_i - \mu$. A difference passes the gradient on unchanged to $x_i$,
# and with a minus sign to $\mu$; since $\mu$ is shared by every sample, its gradient is the
# sum:

# %% tags=["solution"]
centring = {ell: sp.Add(*[cbar[i] * (x[i] - mu) for i in range(N)])}
prove_equal("bn.staged", sp.Derivative(ell, mu), -sp.Add(*cbar), where=centring)
prove_equal("bn.staged", derivative(ell, x), cbar, where=centring, box=False)

# %% [markdown] tags=["solution"]
# **Mean**, $\mu = \frac1N\sum_i x_i$. Every sample gets an equal share $\bar\mu / N$:

# %% tags=["solution"]
mean = {ell: mubar * sp.Add(*x) / N}
prove_equal("bn.staged", derivative(ell, x), mubar / N * ones, where=mean, box=False)

# %% [markdown] tags=["solution"]
# The inputs feed two nodes as well, the centring and the mean, so
# $\bar x_i = \bar c_i + \bar\mu / N$. That completes the staged backward pass. Below, the
# rules just proven are composed in order, starting from the upstream $\bar y$ (each line is
# one node's rule, with the forward values written in terms of $x$), and SymPy confirms that
# the result is the gradient of $\ell = \sum_i \bar y_i y_i$ with respect to $x$, for the
# batch of four:

# %% tags=["solution"]
xhatbar_x = gamma * ybar
sbar_x = sp.Add(*[xhatbar_x[i] * c_x[i] for i in range(N)])
vbar_x = -sbar_x * s_x ** 3 / 2
cbar_x = s_x * xhatbar_x + sp.Rational(2, N) * vbar_x * c_x
mubar_x = -sp.Add(*cbar_x)
last_stages = {mubar: mubar_x, **dict(zip(cbar, cbar_x))}
loss = {ell: sp.Add(*[ybar[i] * y[i] for i in range(N)])}
prove_equal("bn.staged", derivative(ell, x), cbar + mubar / N * ones,
            where={**loss, **forward, **last_stages}, lhs=r"\bar x")

# %% [markdown] tags=["solution"]
# Ioffe and Szegedy group the same computation differently: they go from $\hat x$ straight to
# the variance, and write the gradient of $\mu$ with two terms, one through $\hat x$ and one
# through $\sigma^2$:
# $\bar\mu = -s\sum_i \overline{\hat x}_i + \bar v \sum_i (-2c_i)/N$, and
# $\bar x_i = s\,\overline{\hat x}_i + \bar v\, 2c_i/N + \bar\mu/N$, with
# $\bar v = \sum_i \overline{\hat x}_i c_i \cdot (-\tfrac12)(v+\varepsilon)^{-3/2}$, which is our
# $-\tfrac12 \bar s s^3$. Their $\bar x_i$ is our $\bar c_i + \bar\mu/N$ with the two shares of
# $\bar c_i$ written out, and their $\bar\mu$ is our $-\sum_i \bar c_i$, term for term (its
# second term is zero anyway, since the $c_i$ sum to 0):

# %% tags=["solution"]
with sp.evaluate(False):
    ioffe_mu = [mubar,
                (-sp.Add(*[s * xhatbar[i] + sp.Rational(2, N) * vbar * c[i] for i in range(N)]),
                 r"the two shares of each $\bar c_i$"),
                -s * sp.Add(*xhatbar) + vbar * sp.Add(*[-2 * ci for ci in c]) / N]
prove_chain("bn.staged", *ioffe_mu, where=rules, box=False)

# %% [markdown] tags=["solution"]
# ### The stages at the worked example
#
# Take the upstream gradient
#
# $$\bar Y = \begin{pmatrix} 0.3 & -1.0 \\ -0.5 & 0.2 \\ 1.0 & 0.4 \\ 0.2 & -0.6 \end{pmatrix}.$$
#
# The staged backward pass, feature by feature (`axis=0`), is short in code:

# %% tags=["solution"]
def batch_norm_backward_staged(x, gamma, beta, ybar, eps=EPS):
    n = x.shape[0]
    mu = jnp.mean(x, axis=0)
    c = x - mu
    var = jnp.mean(c ** 2, axis=0)
    s = (var + eps) ** -0.5
    xhatbar = gamma * ybar
    sbar = jnp.sum(xhatbar * c, axis=0)
    vbar = -0.5 * sbar * s ** 3
    cbar = s * xhatbar + 2 / n * vbar * c
    mubar = -jnp.sum(cbar, axis=0)
    xbar = cbar + mubar / n
    return {"xhat": xhatbar, "s": sbar, "var": vbar, "c": cbar, "mu": mubar, "x": xbar}


Ybar_ex = jnp.array([[0.3, -1.0], [-0.5, 0.2], [1.0, 0.4], [0.2, -0.6]])
stages = batch_norm_backward_staged(X_ex, gamma_ex, beta_ex, Ybar_ex)

# %% [markdown] tags=["solution"]
# Going back through the nodes: $\overline{\hat X} = \gamma \bar Y$ has columns
# $(0.45, -0.75, 1.5, 0.3)$ and $(-0.5, 0.1, 0.2, -0.3)$. Then $\bar s = (-5.70,\ -1.25)$
# and $\bar v = \bar\sigma^2 = (0.4353,\ 0.2434)$:

# %% tags=["solution"]
check_printed("bn.staged", "x̂̄ = γ ȳ", stages["xhat"],
              [["0.45", "-0.5"], ["-0.75", "0.1"], ["1.5", "0.2"], ["0.3", "-0.3"]])
check_printed("bn.staged", "s̄", stages["s"], ["-5.70", "-1.25"])
check_printed("bn.staged", "v̄ = σ̄²", stages["var"], ["0.4353", "0.2434"])

# %% [markdown] tags=["solution"]
# The centred values collect both of their shares, then $\bar\mu = (-0.8018,\ 0.3651)$, and
# finally the gradient with respect to the input:
#
# $$\bar C = \begin{pmatrix} 0.2405 & -0.2434 \\ 0.0344 & -0.1704 \\ 0.1489 & 0.0852 \\
# 0.3780 & -0.0365 \end{pmatrix}, \qquad
# \bar X = \begin{pmatrix} 0.0401 & -0.1521 \\ -0.1661 & -0.0791 \\ -0.0515 & 0.1765 \\
# 0.1775 & 0.0548 \end{pmatrix}.$$

# %% tags=["solution"]
xbar_printed = [["0.0401", "-0.1521"], ["-0.1661", "-0.0791"], ["-0.0515", "0.1765"],
                ["0.1775", "0.0548"]]
check_printed("bn.staged", "c̄", stages["c"],
              [["0.2405", "-0.2434"], ["0.0344", "-0.1704"], ["0.1489", "0.0852"],
               ["0.3780", "-0.0365"]])
check_printed("bn.staged", "μ̄", stages["mu"], ["-0.8018", "0.3651"])
check_printed("bn.staged", "x̄", stages["x"], xbar_printed)

# %% [markdown] tags=["solution"]
# JAX's vector-Jacobian product of the forward pass, and central finite differences, agree
# with the staged pass at this example and at seeded random batches of 6 samples and
# 3 features:

# %% tags=["solution"]
def random_batch(rng):
    return (jnp.asarray(rng.standard_normal((6, 3))), jnp.asarray(rng.standard_normal(3)),
            jnp.asarray(rng.standard_normal(3)))


check_vjp("bn.staged", batch_norm,
          lambda x, gamma, beta, ybar: batch_norm_backward_staged(x, gamma, beta, ybar)["x"],
          at=(X_ex, gamma_ex, beta_ex), cotangent=Ybar_ex, wrt="x", sample=random_batch,
          at_label="our worked example")

# %% [markdown] tags=["solution"]
# ## The one-line form
#
# The stages simplify a great deal once they are written in terms of $\hat x$. Since
# $c_i = \hat x_i / s$, the variance's share is
# $\tfrac2N \bar v c_i = -\tfrac1N s\,\gamma\, \hat x_i \sum_j \bar y_j \hat x_j$, so
# $\bar c_i = s\gamma\bigl(\bar y_i - \tfrac1N \hat x_i \sum_j \bar y_j\hat x_j\bigr)$.
# Summing over $i$ and using $\sum_i \hat x_i = 0$ gives $\bar\mu = -s\gamma\sum_j \bar y_j$.
# Adding $\bar\mu/N$ to $\bar c_i$ leaves
#
# $$\bar x_i = \frac{\gamma\, \sigma^{-1}}{N}\Bigl(N \bar y_i - \sum_j \bar y_j
#   - \hat x_i \sum_j \bar y_j \hat x_j\Bigr), \qquad \sigma^{-1} = (\sigma^2+\varepsilon)^{-1/2}.$$
#
# This one-line form is not printed in the paper; it follows from its backward formulas.
# The algebra uses only two facts about the forward pass, $\hat x_i = c_i s$ and
# $\sum_i c_i = 0$, so SymPy proves each step for $N = 4$ with the backward rules above,
# $s$ kept as a symbol, and $c_4 = -(c_1 + c_2 + c_3)$:

# %% tags=["solution"]
sum_yx = sp.Add(*[ybar[i] * xhat[i] for i in range(N)])
cbar_short = s * gamma * (ybar - xhat * sum_yx / N)
closed_form = gamma * s / N * (N * ybar - sp.Add(*ybar) * ones - xhat * sum_yx)
with sp.evaluate(False):
    one_line = [
        cbar + mubar / N * ones,
        (cbar_short + mubar / N * ones, r"$c_i = \hat x_i / s$ in the variance's share"),
        (cbar_short - s * gamma * sp.Add(*ybar) / N * ones, r"$\sum_i \hat x_i = 0$ in $\bar\mu$"),
        closed_form,
    ]
centred = {c[N - 1]: -sp.Add(*c[:N - 1]), **dict(zip(xhat, c * s))}
prove_chain("bn.dx", *one_line, where={**rules, **centred}, lhs=r"\bar x")

# %% [markdown] tags=["solution"]
# And directly, with no stages at all: the derivative of $\ell = \sum_i \bar y_i y_i$ with
# respect to $x$, taken by SymPy from the forward definitions alone, is the one-line form.

# %% tags=["solution"]
prove_equal("bn.dx", derivative(ell, x), closed_form, where={**loss, **forward},
            lhs=r"\bar x")

# %% [markdown] tags=["solution"]
# In code it is three reductions over the batch and one elementwise expression:

# %% tags=["solution"]
def batch_norm_backward(x, gamma, beta, ybar, eps=EPS):
    n = x.shape[0]
    mu = jnp.mean(x, axis=0)
    s = (jnp.mean((x - mu) ** 2, axis=0) + eps) ** -0.5
    xhat = (x - mu) * s
    return gamma * s / n * (n * ybar - jnp.sum(ybar, axis=0)
                            - xhat * jnp.sum(ybar * xhat, axis=0))


check_vjp("bn.dx", batch_norm, batch_norm_backward, at=(X_ex, gamma_ex, beta_ex),
          cotangent=Ybar_ex, wrt="x", sample=random_batch, at_label="our worked example")
check_printed("bn.dx", "x̄ by the one-line form",
              batch_norm_backward(X_ex, gamma_ex, beta_ex, Ybar_ex), xbar_printed)

# %%
exercise("bn.dx.column",
         r"One feature of a batch of $N$ samples, $x \in \mathbb R^N$, is normalised with the "
         r"batch's own statistics, $\mu = \tfrac1N\sum_i x_i$, "
         r"$s = (\tfrac1N\sum_i (x_i - \mu)^2 + \varepsilon)^{-1/2}$ "
         r"($\varepsilon = 10^{-5}$), $\hat x = (x - \mu)\,s$, and $y = \gamma \hat x + \beta$. "
         r"The upstream gradient is $g = \partial \mathcal L/\partial y$. Find "
         r"$\partial \mathcal L/\partial x$.",
         of="sum(g*(gamma*xhat + beta))", wrt="x",
         answer="gamma*s/N*(N*g - sum(g) - xhat*sum(g*xhat))",
         inputs={"x": "N", "gamma": "scalar", "beta": "scalar", "g": "N"}, sizes={"N": 4},
         where={"mu": "sum(x)/N", "s": "1/sqrt(sum((x - mu)**2)/N + 0.00001)",
                "xhat": "(x - mu)*s"},
         example={"x": [1.0, 3.0, -2.0, 2.0], "gamma": 1.5, "beta": 0.1,
                  "g": [0.5, -1.0, 0.25, 1.25]},
         mistakes={"gamma*s*g": "This treats the mean and the variance as constants; both are "
                                "computed from x, and the paths through them add two terms."},
         spellings=[r"N \bar y_i - \sum_j \bar y_j", "n * ybar - jnp.sum(ybar, axis=0)"],
         same_as=lambda x, gamma, beta, g: batch_norm_backward(
             x[:, None], gamma, beta, g[:, None])[:, 0])

# %% [markdown] tags=["solution"]
# Each column of $\bar X$ sums to zero: $(0.0401 - 0.1661 - 0.0515 + 0.1775 = 0)$. That is no
# accident. Adding the same number to every sample of a feature moves $\mu$ by that number
# and changes nothing else, so the loss cannot change in that direction. In the formula,
# the three terms sum to $N\sum\bar y - N\sum\bar y - 0$:

# %% tags=["solution"]
prove_equal("bn.dx", sp.Add(*closed_form), 0, where=forward, box=False)
column_sums = jnp.sum(batch_norm_backward(X_ex, gamma_ex, beta_ex, Ybar_ex), axis=0)
check_that("bn.dx", "num", jnp.max(jnp.abs(column_sums)) < 1e-15,
           f"the columns of x̄ sum to {column_sums[0]:.1e} and {column_sums[1]:.1e}")

# %% [markdown] tags=["solution"]
# ## The parameters
#
# The gradients of $\gamma$ and $\beta$ are per feature, summed over the batch:
# $\bar\gamma = \sum_i \bar y_i \hat x_i = (-2.0312,\ -1.8257)$ and
# $\bar\beta = \sum_i \bar y_i = (1.0,\ -1.0)$ at the example. SymPy proves them once more
# for the full layer, with $\hat x$ written in terms of $x$:

# %% tags=["solution"]
prove_equal("bn.params", sp.Derivative(ell, gamma), sum_yx, where={**loss, **forward},
            lhs=r"\bar\gamma")
prove_equal("bn.params", sp.Derivative(ell, beta), sp.Add(*ybar), where={**loss, **forward},
            lhs=r"\bar\beta")

# %% tags=["solution"]
def batch_norm_param_grads(x, gamma, beta, ybar, eps=EPS):
    mu = jnp.mean(x, axis=0)
    xhat = (x - mu) * (jnp.mean((x - mu) ** 2, axis=0) + eps) ** -0.5
    return jnp.sum(ybar * xhat, axis=0), jnp.sum(ybar, axis=0)


check_vjp("bn.params", batch_norm, batch_norm_param_grads, at=(X_ex, gamma_ex, beta_ex),
          cotangent=Ybar_ex, wrt=("gamma", "beta"), sample=random_batch,
          at_label="our worked example")
dgamma_ex, dbeta_ex = batch_norm_param_grads(X_ex, gamma_ex, beta_ex, Ybar_ex)
check_printed("bn.params", "γ̄", dgamma_ex, ["-2.0312", "-1.8257"])
check_printed("bn.params", "β̄", dbeta_ex, ["1.0", "-1.0"])

# %%
exercise("bn.params.column",
         r"With the same layer, $y = \gamma \hat x + \beta$ for one feature of the batch, find "
         r"the gradients of the gain and the shift, $(\partial \mathcal L/\partial\gamma,\ "
         r"\partial \mathcal L/\partial\beta)$, from the upstream gradient $g$.",
         of="sum(g*(gamma*xhat + beta))", wrt=("gamma", "beta"),
         answer="(sum(g*xhat), sum(g))",
         inputs={"x": "N", "gamma": "scalar", "beta": "scalar", "g": "N"}, sizes={"N": 4},
         where={"mu": "sum(x)/N", "s": "1/sqrt(sum((x - mu)**2)/N + 0.00001)",
                "xhat": "(x - mu)*s"},
         example={"x": [1.0, 3.0, -2.0, 2.0], "gamma": 1.5, "beta": 0.1,
                  "g": [0.5, -1.0, 0.25, 1.25]},
         mistakes={"(g*xhat, g)": "These are the per-sample terms: a parameter shared by the "
                                  "whole batch collects them all, summed over the samples."},
         spellings=["jnp.sum(ybar * xhat, axis=0), jnp.sum(ybar, axis=0)"])

# %% [markdown] tags=["solution"]
# ## The common mistake: treating the statistics as constants
#
# The tempting shortcut is to look at $y = \gamma (x - \mu)\sigma^{-1} + \beta$ and read off
# $\bar x = \gamma\, \sigma^{-1} \bar y$, as if $\mu$ and $\sigma^2$ were constants. They are
# not: both are computed from the very $x$ being differentiated, and the shortcut drops the
# two paths through them. At the example it gives $0.2405$ instead of $0.0401$ in the first
# entry, and JAX rejects it:

# %% tags=["solution"]
def batch_norm_backward_naive(x, gamma, beta, ybar, eps=EPS):
    s = (jnp.var(x, axis=0) + eps) ** -0.5
    return gamma * s * ybar


with rejects("bn.dx", "x̄ = γ σ⁻¹ ȳ, treating μ and σ² as constants"):
    check_vjp("bn.dx", batch_norm, batch_norm_backward_naive, at=(X_ex, gamma_ex, beta_ex),
              cotangent=Ybar_ex, wrt="x", sample=random_batch, at_label="our worked example")
check_printed("bn.dx", "the naive x̄, first entry",
              batch_norm_backward_naive(X_ex, gamma_ex, beta_ex, Ybar_ex)[0, 0], "0.2405")

# %% [markdown] tags=["solution"]
# ## Inference mode
#
# After training, a network must give each input the same answer whatever else is in the
# batch. §3.1 (Algorithm 2) therefore replaces the batch statistics by fixed population
# estimates collected during training, here called $\mu_{\text{run}}$ and
# $\sigma^2_{\text{run}}$. With those constants the layer is an affine map of each entry on its
# own, $y_i = \gamma (x_i - \mu_{\text{run}})(\sigma^2_{\text{run}} + \varepsilon)^{-1/2} + \beta$,
# and its backward pass is the shortcut above, now correct:
# $\bar x_i = \gamma (\sigma^2_{\text{run}}+\varepsilon)^{-1/2}\, \bar y_i$.

# %% tags=["solution"]
mu_run = sp.Symbol(r"mu_run", real=True)
var_run = sp.Symbol(r"sigma^2_run", positive=True)
s_run = (var_run + eps) ** sp.Rational(-1, 2)
inference = {ell: sp.Add(*[ybar[i] * (gamma * (x[i] - mu_run) * s_run + beta) for i in range(N)])}
prove_equal("bn.inference", derivative(ell, x), gamma * s_run * ybar, where=inference,
            lhs=r"\bar x")

# %% [markdown] tags=["solution"]
# With running statistics $\mu_{\text{run}} = (0.8,\ 1.2)$ and
# $\sigma^2_{\text{run}} = (3.2,\ 2.0)$, the first row of $\bar X$ is $(0.2516,\ -0.3536)$:

# %% tags=["solution"]
def batch_norm_inference(x, gamma, beta, mu_run, var_run, eps=EPS):
    return gamma * (x - mu_run) * (var_run + eps) ** -0.5 + beta


def batch_norm_inference_backward(x, gamma, beta, mu_run, var_run, ybar, eps=EPS):
    return gamma * (var_run + eps) ** -0.5 * ybar


mu_run_ex, var_run_ex = jnp.array([0.8, 1.2]), jnp.array([3.2, 2.0])
check_vjp("bn.inference", batch_norm_inference, batch_norm_inference_backward,
          at=(X_ex, gamma_ex, beta_ex, mu_run_ex, var_run_ex), cotangent=Ybar_ex, wrt="x",
          sample=lambda rng: random_batch(rng) + (jnp.asarray(rng.standard_normal(3)),
                                                   jnp.asarray(rng.uniform(0.5, 3.0, 3))),
          at_label="our worked example")
check_printed("bn.inference", "x̄ in inference mode, first row",
              batch_norm_inference_backward(X_ex, gamma_ex, beta_ex, mu_run_ex, var_run_ex,
                                            Ybar_ex)[0], ["0.2516", "-0.3536"])

# %% [markdown] tags=["solution"]
# The two modes differ even when they compute the same output. Set the running statistics
# to this very batch's mean and variance: the inference layer then returns exactly the
# training layer's $Y$, yet its gradient is $\gamma\sigma^{-1}\bar Y$, the naive one, not
# the training-mode $\bar X$. The outputs agree because the two functions meet at this one
# batch; their derivatives differ because in training the statistics move when $x$ moves,
# and in inference they do not.

# %% tags=["solution"]
check_close("bn.inference", "num", "training and inference outputs with the batch's own statistics",
            batch_norm(X_ex, gamma_ex, beta_ex),
            batch_norm_inference(X_ex, gamma_ex, beta_ex, mu_ex, var_ex))
train_grad = batch_norm_backward(X_ex, gamma_ex, beta_ex, Ybar_ex)
inference_grad = batch_norm_inference_backward(X_ex, gamma_ex, beta_ex, mu_ex, var_ex, Ybar_ex)
check_that("bn.inference", "num", jnp.max(jnp.abs(train_grad - inference_grad)) > 0.1,
           f"yet the gradients differ: first entry {float(train_grad[0, 0]):.4f} in training, "
           f"{float(inference_grad[0, 0]):.4f} in inference")

# %% [markdown] tags=["solution"]
# ## Degenerate batches: one sample, or a constant feature
#
# With a batch of a single sample, $\mu = x_1$, so $c_1 = 0$, $\sigma^2 = 0$ and
# $\sigma^{-1} = \varepsilon^{-1/2}$: finite only thanks to $\varepsilon$ (without it,
# $\hat x_1 = 0 \cdot \infty$ is undefined). Then $\hat x_1 = 0$ and the output is $\beta$,
# whatever $x_1$ is. A function that does not depend on $x$ has gradient exactly 0:
# batch normalization with $N = 1$ passes no gradient at all to the layer below. SymPy
# follows the forward definitions with a single symbol $x_1$:

# %% tags=["solution"]
# with N = 1 the mean of the batch is its only value, and the variance is c_1²
one_sample = {ell: ybar[0] * y[0], y[0]: gamma * xhat[0] + beta, xhat[0]: c[0] * s,
              c[0]: x[0] - mu, mu: x[0], v: c[0] ** 2, s: (v + eps) ** sp.Rational(-1, 2)}
prove_equal("bn.degenerate", s, eps ** sp.Rational(-1, 2), where=one_sample, box=False)
prove_equal("bn.degenerate", y[0], beta, where=one_sample, box=False)
with sp.evaluate(False):
    single = [sp.Derivative(ell, x[0]),
              (sp.Derivative(ybar[0] * beta, x[0]), r"$c_1 = x_1 - \mu = 0$, so $y_1 = \beta$"),
              0]
prove_chain("bn.degenerate", *single, where=one_sample, lhs=r"\bar x_1")

# %% [markdown] tags=["solution"]
# JAX computes exactly that: with one sample the output equals $\beta$ to the last bit, and
# the backward pass returns exact zeros (with $N = 1$ the share through the mean is
# $\bar\mu = -\bar c_1$, which cancels the direct share $\bar c_1$ exactly). With
# $\varepsilon = 0$ the same computation produces NaN.

# %% tags=["solution"]
x_single = jnp.array([[0.7, -1.3]])
y_single, pullback_single = jax.vjp(lambda x: batch_norm(x, gamma_ex, beta_ex), x_single)
(xbar_single,) = pullback_single(jnp.array([[0.3, -1.0]]))
check_that("bn.degenerate", "num", bool(jnp.all(y_single == beta_ex)),
           f"with N = 1 the output is β = {list(map(float, y_single[0]))} exactly")
check_that("bn.degenerate", "jax", bool(jnp.all(xbar_single == 0.0)),
           "with N = 1 jax.vjp returns x̄ = 0 exactly")
y_single_no_eps = batch_norm(x_single, gamma_ex, beta_ex, eps=0.0)
check_that("bn.degenerate", "num", bool(jnp.all(jnp.isnan(y_single_no_eps))),
           "with N = 1 and ε = 0 the output is NaN (0 · ∞)")
check_vjp("bn.degenerate", batch_norm, lambda x, gamma, beta, ybar: jnp.zeros_like(x),
          at=(x_single, gamma_ex, beta_ex), cotangent=jnp.array([[0.3, -1.0]]), wrt="x",
          at_label="one sample", label="N = 1")

# %% [markdown] tags=["solution"]
# A feature that is constant over a larger batch, $x_i = a$ for every $i$, also has
# $\sigma^2 = 0$, $\hat x = 0$ and output $\beta$. Its gradient, however, is not zero. Moving
# one sample away from the others creates a small spread, and at zero variance the
# normalisation magnifies it by $\varepsilon^{-1/2}$ (about 316 for $\varepsilon = 10^{-5}$).
# In the one-line form the last term drops out ($\hat x = 0$) and
# $\bar x_i = \gamma\,\varepsilon^{-1/2}(\bar y_i - \tfrac1N\sum_j \bar y_j)$: finite, but
# large. Only the uniform shift of all the samples, which leaves the column constant, has
# zero gradient. SymPy proves both statements at $x_i = a$ for $N = 4$:

# %% tags=["solution"]
a = sp.Symbol("a", real=True)
constant = {**forward, **{xi: a for xi in x}}
prove_equal("bn.degenerate", y, beta * ones, where=constant, box=False)
prove_equal("bn.degenerate", closed_form,
            gamma * eps ** sp.Rational(-1, 2) * (ybar - sp.Add(*ybar) / N * ones),
            where=constant, lhs=r"\bar x")

# %% [markdown] tags=["solution"]
# The one-line form was proven for every $x$ above, so evaluating it at a constant column is
# legitimate. JAX agrees at constant batches, and with $\gamma = 1.5$ the factor
# $\gamma\varepsilon^{-1/2}$ is about $474.3$:

# %% tags=["solution"]
def constant_batch(rng):
    column_values = rng.standard_normal(3)
    return (jnp.asarray(jnp.tile(column_values, (4, 1))), jnp.asarray(rng.standard_normal(3)),
            jnp.asarray(rng.standard_normal(3)))


def constant_feature_backward(x, gamma, beta, ybar, eps=EPS):
    return gamma * eps ** -0.5 * (ybar - jnp.mean(ybar, axis=0))


X_constant = jnp.array([[2.0, -1.0], [2.0, -1.0], [2.0, -1.0], [2.0, -1.0]])
check_vjp("bn.degenerate", batch_norm, constant_feature_backward,
          at=(X_constant, gamma_ex, beta_ex), cotangent=Ybar_ex, wrt="x", sample=constant_batch,
          fd=False, at_label="a constant batch", label="constant features, ε = 1e-5")
check_printed("bn.degenerate", "γ ε^(−1/2) for γ = 1.5", gamma_ex[0] * EPS ** -0.5, "474.3")

# %% [markdown] tags=["solution"]
# Finite differences need care here. Near a constant column the layer bends on the scale
# $\sqrt{\varepsilon} \approx 0.003$ in $x$ (that is where the spread $c$ stops being small
# next to $\sqrt\varepsilon$), so a central difference with the usual step
# $h \approx 6\times10^{-6}$ has a relative truncation error of order $h^2/\varepsilon$, here
# about $10^{-6}$: just over the tolerance. With $\varepsilon = 10^{-2}$ the same formula,
# $\gamma\,\varepsilon^{-1/2}(\bar y - \text{mean}\,\bar y)$, is confirmed by finite
# differences as well as by JAX:

# %% tags=["solution"]
def batch_norm_wide_eps(x, gamma, beta):
    return batch_norm(x, gamma, beta, eps=1e-2)


check_vjp("bn.degenerate", batch_norm_wide_eps,
          lambda x, gamma, beta, ybar: constant_feature_backward(x, gamma, beta, ybar, eps=1e-2),
          at=(X_constant, gamma_ex, beta_ex), cotangent=Ybar_ex, wrt="x", sample=constant_batch,
          at_label="a constant batch", label="constant features, ε = 1e-2")

# %% [markdown] tags=["solution"]
# ## The same backward pass, derived by machine
#
# The staged backward pass above was written node by node by hand. `derive` can produce it from
# the forward computation alone. It is given Algorithm 1 at our worked example, with the
# intermediates named as above ($\mu$, $c$, $v = \sigma^2$, $s = \sigma^{-1}$, $\hat x$, $y$),
# followed by the linear loss $\ell = \sum_{i,j} \bar Y_{ij}\, y_{ij}$ with the example's
# upstream gradient $\bar Y$ as fixed weights, so that $\partial\ell/\partial y$ is exactly
# $\bar Y$ (the same device as in the proofs). `derive` splits this into one node per
# operation, lets SymPy differentiate each node's formula, and runs the backward pass in
# reverse, adding the two shares where $x$ and $c$ fan out; the tables list every node's value
# and gradient. It then checks the pass against JAX's backward pass, `jax.grad` and finite
# differences, at the example and at seeded points near it. In the drawing, the edges that
# carry a whole $4 \times 2$ batch show only its shape; the per-feature ones show their numbers.

# %% tags=["solution"]
def batch_norm_loss(x, gamma, beta, ybar):
    mu = named(jnp.mean(x, axis=0), "mu")
    c = named(x - mu, "c")
    v = named(jnp.mean(c ** 2, axis=0), "v")
    s = named((v + EPS) ** -0.5, "s")
    xhat = named(c * s, "xhat")
    y = named(gamma * xhat + beta, "y")
    return jnp.sum(ybar * y)


workbook = derive(batch_norm_loss, at=dict(x=X_ex, gamma=gamma_ex, beta=beta_ex, ybar=Ybar_ex),
                  wrt=["x", "gamma", "beta"], claim="bn.machine", output="ℓ")

# %% [markdown] tags=["solution"]
# Each gradient derived by hand, evaluated at the same example, against the machine's: the
# stages of `batch_norm_backward_staged` ($\overline{\hat x}$, $\bar s$, $\bar v$, $\bar c$,
# $\bar\mu$, $\bar x$), the one-line form of $\bar x$, and the parameter gradients
# $\bar\gamma = \sum_i \bar y_i\hat x_i$, $\bar\beta = \sum_i \bar y_i$. The first line
# confirms that the loss hands the layer exactly the upstream gradient $\bar Y$.

# %% tags=["solution"]
dgamma_hand, dbeta_hand = batch_norm_param_grads(X_ex, gamma_ex, beta_ex, Ybar_ex)
hand = [("y", "y", "the upstream gradient Ȳ", Ybar_ex),
        ("xhat", "x̂", "the staged γȳ", stages["xhat"]),
        ("s", "s", "the staged s̄", stages["s"]),
        ("v", "σ²", "the staged v̄", stages["var"]),
        ("c", "c", "the staged c̄", stages["c"]),
        ("mu", "μ", "the staged μ̄", stages["mu"]),
        ("x", "x", "the staged x̄", stages["x"]),
        ("x", "x", "the one-line form", batch_norm_backward(X_ex, gamma_ex, beta_ex, Ybar_ex)),
        ("gamma", "γ", "Σ ȳ x̂", dgamma_hand),
        ("beta", "β", "Σ ȳ", dbeta_hand)]
for name, shown, formula, value in hand:
    check_close("bn.machine", "num", f"∂ℓ/∂{shown} by derive and {formula}",
                workbook.grad(name), value)

# %% tags=["solution"]
summary()
