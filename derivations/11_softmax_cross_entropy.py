# %% [markdown] tags=["solution"]
# # 11 · Softmax and the cross-entropy loss
#
# A classifier with $n$ classes ends in a vector of scores (logits) $z \in \mathbb R^n$. The
# softmax turns them into probabilities, $p_i = e^{z_i} / \sum_l e^{z_l}$, and the network is
# trained by minimising the cross-entropy $\mathcal L = -\sum_i y_i \log p_i$ against a target
# distribution $y$. This notebook derives the two results every backward pass through that pair
# uses: the softmax Jacobian $\partial p/\partial z = \operatorname{diag}(p) - p p^{\mathsf T}$,
# and the gradient $\partial\mathcal L/\partial z = p - y$, together with the condition that the
# second one needs and that is easy to forget: the targets must add up to one.
#
# The softmax as an output non-linearity, paired with a log-probability score, is the subject of
# J. S. Bridle, “Probabilistic Interpretation of Feedforward Classification Network Outputs, with
# Relationships to Statistical Pattern Recognition” (1990). Its numerics follow Goodfellow,
# Bengio and Courville, *Deep Learning* (2016): §4.1 uses the softmax as its example of overflow
# and underflow, and §6.2.2.3 treats softmax output units and their log-likelihood loss. The
# Jacobian and the gradient in the general form are derived here. SymPy proves every step, for a
# symbolic number of classes $n$ where it can; JAX and finite differences check the boxed
# results; the last part shows why the loss should be computed from the logits with the
# log-sum-exp trick.

# %%
import sympy as sp
from gradbook import *

verifies("softmax.forward", "softmax.jacobian", "softmax.xent_grad", "softmax.xent_condition",
         "softmax.logsumexp", "softmax.stable_loss", "softmax.machine")

# %% [markdown]
# ## The softmax, and a worked example
#
# Each probability is an exponential divided by the sum $S = \sum_{l=1}^{n} e^{z_l}$ of all of
# them. The exponential makes every entry positive, and the shared denominator makes them add up
# to one. Written directly from the definition:

# %%
def softmax(z):
    e = jnp.exp(z)
    return e / jnp.sum(e)


# %% [markdown]
# Our worked example has three classes with logits $z = (2,\ 1,\ 0.1)$. Their probabilities,
# to four decimals, are $p = (0.6590,\ 0.2424,\ 0.0986)$: the largest logit gets the largest
# share, but the others keep a noticeable part of the mass.

# %%
z_example = jnp.array([2.0, 1.0, 0.1])
p_example = softmax(z_example)
check_printed("softmax.forward", "p = softmax(2, 1, 0.1)", p_example,
              ["0.6590", "0.2424", "0.0986"])
p_example

# %% [markdown] tags=["solution"]
# That the entries add up to one SymPy proves for $n = 2, \dots, 5$ classes with explicit
# symbols $z_1, \dots, z_n$. (For a symbolic $n$ the two sums, $\sum_i e^{z_i}$ on top and
# $\sum_l e^{z_l}$ below, differ only in the name of their index, and SymPy does not identify
# them; with explicit sizes there is nothing to rename.)

# %% tags=["solution"]
for n_classes in range(2, 6):
    z_n = sp.symbols(f"z1:{n_classes + 1}", real=True)
    exps = [sp.exp(zi) for zi in z_n]
    prove_equal("softmax.forward", sp.Add(*[e / sp.Add(*exps) for e in exps]), 1, box=False)

# %% [markdown] tags=["solution"]
# Adding the same constant $c$ to every logit multiplies the numerator and every term of the
# denominator by $e^{c}$, which cancels. This holds for any number of classes, so here the size
# $n$ and the indices stay symbolic. The invariance is what the log-sum-exp trick at the end of
# this notebook relies on.

# %% tags=["solution"]
n = sp.symbols("n", integer=True, positive=True)
i, k, l = sp.symbols("i k l", integer=True, positive=True)
c = sp.symbols("c", real=True)
z = sp.IndexedBase("z", shape=(n,), real=True)
S = sp.Sum(sp.exp(z[l]), (l, 1, n))
S_shifted = sp.Sum(sp.exp(z[l] + c), (l, 1, n))

with sp.evaluate(False):
    shift = [
        sp.exp(z[i] + c) / S_shifted,
        (sp.exp(c) * sp.exp(z[i]) / (sp.exp(c) * S), r"$e^{a+c} = e^{c} e^{a}$, and $e^{c}$ leaves the sum"),
        sp.exp(z[i]) / S,
    ]
prove_chain("softmax.forward", *shift)

# %% [markdown] tags=["solution"]
# ## The Jacobian, one entry at a time, for every $n$
#
# The probability $p_i$ depends on every logit, through the denominator. Differentiating
# $p_i = e^{z_i}/S$ with respect to $z_k$ by the quotient rule needs two small facts: the
# numerator's derivative is $e^{z_i}$ when $k = i$ and 0 otherwise, that is
# $\delta_{ik}\, e^{z_i}$; and $\partial S/\partial z_k = e^{z_k}$, since $z_k$ appears in exactly
# one term of the sum. Splitting the quotient into two fractions then leaves only
# probabilities:
#
# $$\frac{\partial p_i}{\partial z_k} = p_i\,\delta_{ik} - p_i\, p_k .$$
#
# The number of classes $n$ and the indices stay symbolic. As in notebook 07, SymPy is told that
# $k$ lies in $1, \dots, n$ by writing $n = k + s$ with $s \ge 0$ (`where=`); the displayed
# names $p_i$, $p_k$ are replaced by their definitions before each step is proven.

# %% tags=["solution"]
s = sp.symbols("s", integer=True, nonnegative=True)
p = sp.IndexedBase("p")
probabilities = {p[i]: sp.exp(z[i]) / S, p[k]: sp.exp(z[k]) / S}

with sp.evaluate(False):
    jacobian_entry = [
        sp.Derivative(p[i], z[k]),
        ((sp.KroneckerDelta(i, k) * sp.exp(z[i]) * S - sp.exp(z[i]) * sp.exp(z[k])) / S ** 2,
         r"quotient rule, with $\partial S/\partial z_k = e^{z_k}$"),
        (sp.exp(z[i]) / S * sp.KroneckerDelta(i, k) - (sp.exp(z[i]) / S) * (sp.exp(z[k]) / S),
         "split into two fractions"),
        (p[i] * sp.KroneckerDelta(i, k) - p[i] * p[k], r"$p_i = e^{z_i}/S$"),
    ]
prove_chain("softmax.jacobian", *jacobian_entry, where={**probabilities, n: k + s})

# %% [markdown] tags=["solution"]
# ## The same result as a matrix
#
# Entry $(i, k)$ of $\operatorname{diag}(p)$ is $p_i\delta_{ik}$ and entry $(i, k)$ of the outer
# product $p p^{\mathsf T}$ is $p_i p_k$, so the entries above assemble into
#
# $$\frac{\partial p}{\partial z} = \operatorname{diag}(p) - p\,p^{\mathsf T}.$$
#
# As a matrix identity SymPy proves it for explicit sizes, $n = 2, 3, 4, 5$, with
# $p = (p_1, \dots, p_n)$ standing for the softmax of the symbols $z_1, \dots, z_n$: the left
# side is the matrix of derivatives of the actual softmax, the right side is built from $p$
# alone.

# %% tags=["solution"]
for n_classes in range(2, 6):
    z_n = sp.Matrix(sp.symbols(f"z1:{n_classes + 1}", real=True))
    p_n = sp.Matrix(sp.symbols(f"p1:{n_classes + 1}", positive=True))
    exps = z_n.applyfunc(sp.exp)
    prove_equal("softmax.jacobian",
                sp.Matrix(n_classes, n_classes, lambda r, q: sp.Derivative(p_n[r], z_n[q])),
                sp.diag(*p_n) - p_n * p_n.T,
                where={p_n[r]: exps[r] / sum(exps) for r in range(n_classes)},
                lhs=r"\frac{\partial p}{\partial z}")

# %% [markdown] tags=["solution"]
# Two properties can be read off. The matrix is symmetric. And each of its rows adds up to
# $p_i - p_i\sum_k p_k = 0$: moving every logit by the same amount changes nothing, as shown
# above, so the derivative in the direction $(1, \dots, 1)$ is zero.
#
# At the worked example the first row of the Jacobian is $(0.2247,\ -0.1598,\ -0.0650)$ to four
# decimals. The formula agrees with `jax.jacobian` of the softmax and with central differences
# there and at seeded random logits:

# %% tags=["solution"]
def softmax_jacobian(z):
    p = softmax(z)
    return jnp.diag(p) - jnp.outer(p, p)


check_jacobian("softmax.jacobian", softmax, softmax_jacobian, at=(z_example,),
               at_label="z = (2, 1, 0.1)")
check_printed("softmax.jacobian", "first row of ∂p/∂z at z = (2, 1, 0.1)",
              softmax_jacobian(z_example)[0], ["0.2247", "-0.1598", "-0.0650"])

# %%
exercise("softmax.jacobian.matrix",
         r"The softmax maps logits $z \in \mathbb R^n$ to probabilities "
         r"$p_i = e^{z_i} / \sum_l e^{z_l}$. Find its Jacobian $\partial p/\partial z$, an "
         r"$n \times n$ matrix, written with $p$.",
         of="exp(z)/sum(exp(z))", wrt="z", kind="jacobian", answer="diag(p) - outer(p, p)",
         inputs={"z": "n"}, sizes={"n": 3}, where={"p": "exp(z)/sum(exp(z))"},
         example={"z": [2.0, 1.0, 0.1]},
         mistakes={"diag(p)": "Only the diagonal: every probability depends on every logit "
                              "through the shared denominator, which adds a term to each entry.",
                   "diag(p*(1 - p))": "This treats the softmax as a sigmoid on each entry; the "
                                      "shared denominator adds a term off the diagonal too."},
         spellings=[r"\operatorname{diag}(p) - p p^{\mathsf T}", "jnp.diag(p) - jnp.outer(p, p)"],
         same_as=softmax_jacobian)

# %% [markdown] tags=["solution"]
# ## A common mistake: keeping only the diagonal
#
# Treating the softmax like an elementwise function (a sigmoid on each entry, as in notebook 03)
# gives the Jacobian $\operatorname{diag}(p \odot (1 - p))$, or, dropping the square,
# $\operatorname{diag}(p)$. Both forget that every probability depends on every logit through the
# shared denominator, which is what the $-p p^{\mathsf T}$ term accounts for. The rows of
# $\operatorname{diag}(p)$ do not add up to zero, so it cannot be right; the checks see it at
# once:

# %% tags=["solution"]
with rejects("softmax.jacobian", "∂p/∂z = diag(p), without the −p pᵀ term"):
    check_jacobian("softmax.jacobian", softmax, lambda z: jnp.diag(softmax(z)),
                   at=(z_example,), at_label="z = (2, 1, 0.1)")

# %% [markdown] tags=["solution"]
# ## The cross-entropy, rewritten through the logits
#
# Take the logarithm of $p_i = e^{z_i}/S$ first: the log of a quotient is a difference, and the
# log of $e^{z_i}$ is $z_i$. So $\log p_i = z_i - \log S$, and the loss becomes a linear term in
# the logits plus the log of the sum:

# %% tags=["solution"]
y = sp.IndexedBase("y", shape=(n,), real=True)
loss = -sp.Sum(y[i] * sp.log(sp.exp(z[i]) / S), (i, 1, n))
with sp.evaluate(False):  # the summands as written; the sums are built outside
    through_logits = y[i] * (z[i] - sp.log(S))
    differentiated = y[i] * (sp.KroneckerDelta(i, k) - p[k])
loss_through_logits = -sp.Sum(through_logits, (i, 1, n))

with sp.evaluate(False):
    rewritten = [loss, (loss_through_logits, r"$\log p_i = z_i - \log S$")]
prove_chain("softmax.xent_condition", *rewritten, lhs=r"\mathcal{L}", box=False)

# %% [markdown] tags=["solution"]
# ## Its gradient, for any targets
#
# Differentiate term by term with respect to $z_k$. The linear part gives $\delta_{ik}$; the
# log of the sum gives $e^{z_k}/S = p_k$, the same for every term. The Kronecker delta keeps
# only $y_k$ from the first sum, while $p_k$ leaves the second one as a common factor. With the
# number of classes symbolic:

# %% tags=["solution"]
sum_y = sp.Sum(y[i], (i, 1, n))
term_by_term = -sp.Sum(differentiated, (i, 1, n))
with sp.evaluate(False):
    general = [
        sp.Derivative(loss, z[k]),
        (term_by_term, r"$\partial(z_i - \log S)/\partial z_k = \delta_{ik} - p_k$"),
        (-y[k] + p[k] * sum_y, r"the delta keeps $i = k$"),
        p[k] * sum_y - y[k],
    ]
prove_chain("softmax.xent_condition", *general, where={**probabilities, n: k + s})

# %% [markdown] tags=["solution"]
# So in general $\partial\mathcal L/\partial z = p \sum_i y_i - y$. The familiar $p - y$ is the
# special case in which the targets add up to one, as they do for a one-hot label or any
# probability distribution over the classes. Under that condition, $\sum_i y_i = 1$:

# %% tags=["solution"]
with sp.evaluate(False):
    general_form = p[k] * sum_y - y[k]
prove_equal("softmax.xent_grad", general_form, p[k] - y[k], where={sum_y: 1},
            lhs=r"\frac{\partial \mathcal{L}}{\partial z_k}\Big|_{\sum_i y_i = 1}")

# %% [markdown] tags=["solution"]
# The same result without assuming anything about a sum: for three classes with the constraint
# built into the targets, $y_3 = 1 - y_1 - y_2$, SymPy differentiates the full loss, with the
# names $\mathcal L$ and $p_i$ replaced by their definitions, and gets $p - y$ entry by entry.

# %% tags=["solution"]
z3 = sp.Matrix(sp.symbols("z1:4", real=True))
p3 = sp.Matrix(sp.symbols("p1:4", positive=True))
y1, y2 = sp.symbols("y1 y2", real=True)
y3 = sp.Matrix([y1, y2, 1 - y1 - y2])
L3 = sp.symbols(r"\mathcal{L}")
exps3 = z3.applyfunc(sp.exp)
three_classes = {L3: -sum(y3[r] * sp.log(p3[r]) for r in range(3)),
                 **{p3[r]: exps3[r] / sum(exps3) for r in range(3)}}
with sp.evaluate(False):
    p_minus_y = sp.Matrix([p3[r] - y3[r] for r in range(3)])
prove_equal("softmax.xent_grad", derivative(L3, z3), p_minus_y, where=three_classes,
            lhs=r"\frac{\partial \mathcal{L}}{\partial z}")

# %% [markdown] tags=["solution"]
# The gradient can also be reached through the Jacobian of the first part, as a
# vector-Jacobian product (notebook 05): $\partial\mathcal L/\partial p = -y/p$ entry by entry,
# and $(\operatorname{diag}(p) - p p^{\mathsf T})^{\mathsf T}(-y/p) = -y + p\sum_i y_i$. SymPy
# confirms it for four classes with free symbols $p_i$ and $y_i$; no condition on either sum is
# used here.

# %% tags=["solution"]
p4 = sp.Matrix(sp.symbols("p1:5", positive=True))
y4 = sp.Matrix(sp.symbols("y1:5", real=True))
dL_dp = sp.Matrix([-yi / pi for yi, pi in zip(y4, p4)])
via_jacobian = [sp.MatMul((sp.diag(*p4) - p4 * p4.T).T, dL_dp, evaluate=False),
                p4 * sum(y4) - y4]
prove_chain("softmax.xent_condition", *via_jacobian,
            lhs=r"\left(\frac{\partial p}{\partial z}\right)^{\mathsf T}"
                r"\frac{\partial \mathcal{L}}{\partial p}")

# %% [markdown] tags=["solution"]
# ## The machine's check of $p - y$
#
# At the worked example, with the first class as the label, $y = (1, 0, 0)$, the loss is
# $-\log 0.6590 = 0.4170$ and the gradient is $p - y = (-0.3410,\ 0.2424,\ 0.0986)$: the
# correct class is pushed up, the others down in proportion to their probabilities. The
# formula is checked against `jax.grad` of the loss written from scratch and against finite
# differences, there and at seeded random logits with random target distributions (drawn from a
# Dirichlet distribution, so that they are positive and add up to one).

# %% tags=["solution"]
def cross_entropy(z, y):
    return -jnp.sum(y * jnp.log(softmax(z)))


def xent_gradient(z, y):
    return softmax(z) - y


y_example = jnp.array([1.0, 0.0, 0.0])
check_gradient("softmax.xent_grad", cross_entropy, xent_gradient, at=(z_example, y_example),
               at_label="z = (2, 1, 0.1), y = (1, 0, 0)", wrt="z",
               sample=lambda rng: (jnp.asarray(2 * rng.standard_normal(3)),
                                   jnp.asarray(rng.dirichlet([1.0, 1.0, 1.0]))))
check_printed("softmax.xent_grad", "L at the worked example",
              cross_entropy(z_example, y_example), "0.4170")
check_printed("softmax.xent_grad", "p − y at the worked example",
              xent_gradient(z_example, y_example), ["-0.3410", "0.2424", "0.0986"])

# %%
exercise("softmax.xent_grad.z",
         r"The targets $y$ are a probability distribution over the $n$ classes (here made from "
         r"positive weights $t$ as $y = t / \sum_i t_i$), and the loss is the cross-entropy "
         r"$\mathcal L = -\sum_i y_i \log p_i$ of the softmax $p$ of the logits $z$. Find "
         r"$\partial \mathcal L / \partial z$ in its simplest form.",
         of="-sum(y*log(p))", wrt="z", answer="p - y",
         inputs={"z": "n", "t": "n in [0.1, 1]"}, sizes={"n": 3},
         where={"p": "exp(z)/sum(exp(z))", "y": "t/sum(t)"},
         example={"z": [2.0, 1.0, 0.1], "t": [1.0, 0.2, 0.2]},
         mistakes={"-y/p": "That is the gradient with respect to p; the chain rule through the "
                           "softmax's Jacobian still has to be applied."},
         spellings=["softmax(z) - y", r"p\,(\sum_i y_i - 1)"],
         same_as=lambda z, t: xent_gradient(z, t / jnp.sum(t)))

# %% [markdown] tags=["solution"]
# ## Why the condition $\sum_i y_i = 1$ matters
#
# Targets that do not add up to one are not exotic: a multi-label target marking two classes as
# present, $y = (1, 1, 0)$, adds up to 2, and so do label weights or an unnormalised count. For
# it the true gradient is $2p - y$, and $p - y$ is off by a whole $p$. The checks reject $p - y$
# at this target, with the logits of the worked example:

# %% tags=["solution"]
y_two_labels = jnp.array([1.0, 1.0, 0.0])
with rejects("softmax.xent_condition", "∂L/∂z = p − y for targets y = (1, 1, 0), Σy = 2"):
    check_gradient("softmax.xent_condition", cross_entropy, xent_gradient,
                   at=(z_example, y_two_labels), at_label="z = (2, 1, 0.1), y = (1, 1, 0)",
                   wrt="z", points=0)

# %% [markdown] tags=["solution"]
# The difference is exactly the missing term: `jax.grad` minus $(p - y)$ is
# $p\,(\sum_i y_i - 1) = p$ here.

# %% tags=["solution"]
jax_gradient = jax.grad(cross_entropy)(z_example, y_two_labels)
check_close("softmax.xent_condition", "jax", "jax.grad − (p − y) and p·(Σy − 1)",
            jax_gradient - xent_gradient(z_example, y_two_labels),
            softmax(z_example) * (jnp.sum(y_two_labels) - 1))

# %% [markdown] tags=["solution"]
# The general form $p\sum_i y_i - y$ holds for any targets. It is checked at this target and
# at seeded random logits with random non-negative targets whose sums range from about 0 to 6:

# %% tags=["solution"]
def xent_gradient_any_targets(z, y):
    return softmax(z) * jnp.sum(y) - y


check_gradient("softmax.xent_condition", cross_entropy, xent_gradient_any_targets,
               at=(z_example, y_two_labels), at_label="z = (2, 1, 0.1), y = (1, 1, 0)",
               wrt="z", points=4,
               sample=lambda rng: (jnp.asarray(2 * rng.standard_normal(3)),
                                   jnp.asarray(rng.uniform(0.0, 2.0, 3))))

# %% [markdown] tags=["solution"]
# ## The log-sum-exp trick
#
# The loss needs $\log S = \log \sum_l e^{z_l}$. In float64, $e^{z}$ overflows to infinity once
# $z$ exceeds about 709.78, so a single logit of 1000 makes the naive sum infinite. The way out
# is the shift invariance from the beginning: for any real $m$, factor $e^{m}$ out of the sum,
#
# $$\log \sum_l e^{z_l} = m + \log \sum_l e^{z_l - m}.$$
#
# SymPy proves it for a symbolic number of terms and a symbolic $m$:

# %% tags=["solution"]
m = sp.symbols("m", real=True)
S_minus_m = sp.Sum(sp.exp(z[l] - m), (l, 1, n))
with sp.evaluate(False):
    log_sum_exp = [
        sp.log(S),
        (sp.log(sp.exp(m) * sp.exp(-m) * S), r"$e^{m} e^{-m} = 1$"),
        (sp.log(sp.exp(m) * S_minus_m), r"$e^{-m}$ into every term of the sum"),
        (m + sp.log(S_minus_m), r"$\log(e^{m} a) = m + \log a$"),
    ]
prove_chain("softmax.logsumexp", *log_sum_exp)

# %% [markdown] tags=["solution"]
# Any $m$ gives the same value; the choice $m = \max_l z_l$ makes it safe to compute. Then
# every exponent $z_l - m$ is at most 0, so nothing overflows, and the largest term is exactly
# $e^0 = 1$, so the sum is at least 1 and its logarithm cannot underflow to $-\infty$ either.
# (Nor does the choice affect the gradient: the derivative of the right side with respect to
# $m$ is $1 - \sum_l p_l = 0$.)
#
# At the logits $z = (1000,\ 2,\ -3)$ the naive form returns $\infty$, while the shifted form
# gives $1000 + \log(1 + e^{-998} + e^{-1003})$, which is $1000.000000$ to six decimals (and
# to every digit float64 has).

# %% tags=["solution"]
def log_sum_exp_naive(z):
    return jnp.log(jnp.sum(jnp.exp(z)))


def log_sum_exp(z):
    m = jnp.max(z)
    return m + jnp.log(jnp.sum(jnp.exp(z - m)))


z_large = jnp.array([1000.0, 2.0, -3.0])
check_that("softmax.logsumexp", "num", jnp.isinf(log_sum_exp_naive(z_large)),
           f"the naive log Σ exp(z) at z = (1000, 2, −3) is {float(log_sum_exp_naive(z_large))}")
check_printed("softmax.logsumexp", "m + log Σ exp(z − m) at z = (1000, 2, −3)",
              log_sum_exp(z_large), "1000.000000")

# %% [markdown] tags=["solution"]
# ## The fused loss: cross-entropy straight from the logits
#
# With $\log p_i = z_i - \log S$ from above, the cross-entropy for any targets is
# $\mathcal L = \log S\,\sum_i y_i - \sum_i y_i z_i$, and when the targets add up to one,
# $\mathcal L = \operatorname{logsumexp}(z) - y\cdot z$. No probability is ever formed, and
# $\log S$ is computed with the trick. SymPy proves both forms for symbolic $n$:

# %% tags=["solution"]
sum_yz = sp.Sum(y[i] * z[i], (i, 1, n))
with sp.evaluate(False):
    fused = [loss, (loss_through_logits, r"$\log p_i = z_i - \log S$"),
             sp.log(S) * sum_y - sum_yz]
    fused_normalised = [sp.log(S) * sum_y - sum_yz, sp.log(S) - sum_yz]
prove_chain("softmax.stable_loss", *fused, lhs=r"\mathcal{L}", box=False)
prove_chain("softmax.stable_loss", *fused_normalised, where={sum_y: 1},
            lhs=r"\mathcal{L}\Big|_{\sum_i y_i = 1}")

# %% [markdown] tags=["solution"]
# Now the large logit, with the second class as the label, $y = (0, 1, 0)$. The model is
# confidently wrong, and the loss should say so: it is $\operatorname{logsumexp}(z) - z_2$, which
# is $998.000000$ to six decimals. Softmax-then-log instead computes $e^{1000} = \infty$, then
# $\infty/\infty$, which is `nan`, and $\log 0 = -\infty$ for the other classes; the loss is
# `nan`, and so is its gradient. The fused form gives the right value, and its gradient is
# $p - y$, with $p$ computed as $e^{z - \operatorname{logsumexp}(z)}$ so that it too never
# overflows.

# %% tags=["solution"]
def cross_entropy_fused(z, y):
    return log_sum_exp(z) - jnp.dot(y, z)


def xent_gradient_stable(z, y):
    return jnp.exp(z - log_sum_exp(z)) - y


y_second = jnp.array([0.0, 1.0, 0.0])
naive_loss = cross_entropy(z_large, y_second)
naive_gradient = jax.grad(cross_entropy)(z_large, y_second)
check_that("softmax.stable_loss", "num", jnp.isnan(naive_loss),
           f"softmax-then-log at z = (1000, 2, −3), y = (0, 1, 0) gives L = {float(naive_loss)}")
check_that("softmax.stable_loss", "jax", not jnp.all(jnp.isfinite(naive_gradient)),
           f"and jax.grad of it is {naive_gradient.tolist()}")
check_printed("softmax.stable_loss", "logsumexp(z) − y·z at z = (1000, 2, −3), y = (0, 1, 0)",
              cross_entropy_fused(z_large, y_second), "998.000000")

# %% [markdown] tags=["solution"]
# The gradient of the fused loss against `jax.grad` and finite differences, at this point and
# at seeded random logits spread over $[-1000, 1000]$, far beyond where $e^{z}$ overflows:

# %% tags=["solution"]
check_gradient("softmax.stable_loss", cross_entropy_fused, xent_gradient_stable,
               at=(z_large, y_second), at_label="z = (1000, 2, −3), y = (0, 1, 0)", wrt="z",
               points=4,
               sample=lambda rng: (jnp.asarray(rng.uniform(-1000.0, 1000.0, 3)),
                                   jnp.asarray(rng.dirichlet([1.0, 1.0, 1.0]))))

# %% [markdown] tags=["solution"]
# At those points the probabilities are one-hot to every digit float64 has, since the logits lie
# hundreds apart. The harder case is several large logits close together, say $1000$ plus
# small offsets, where the naive form overflows and the probabilities are far from one-hot.
# There the fused gradient is checked against `jax.grad` alone. Finite differences are left out
# because their step is scaled to $|z|$ (about 0.006 at $z = 1000$, by the tolerance rule in the
# README), and at that step their truncation error for this curved function, a few times
# $10^{-7}$, is just above what the rule allows.

# %% tags=["solution"]
check_gradient("softmax.stable_loss", cross_entropy_fused, xent_gradient_stable,
               at=None, wrt="z", points=4, fd=False, label="logits 1000 ± a few units",
               sample=lambda rng: (jnp.asarray(1000.0 + 2 * rng.standard_normal(3)),
                                   jnp.asarray(rng.dirichlet([1.0, 1.0, 1.0]))))

# %% [markdown] tags=["solution"]
# This is why deep-learning libraries offer the softmax and the cross-entropy as one fused
# operation taking logits: the combined loss has both the simpler gradient and the safer
# arithmetic.

# %% [markdown] tags=["solution"]
# ## The same backward pass, derived by machine
#
# Everything above was worked out by hand and then tested. Here the order is reversed: `derive`
# receives only the forward computation, the cross-entropy of the softmax at the worked example
# $z = (2,\ 1,\ 0.1)$, $y = (1, 0, 0)$, with $e = e^{z}$, $S = \sum_l e_l$ and $p = e/S$
# named as in the derivation. It breaks the function into one node per operation, has SymPy
# differentiate each node's own formula, and runs the backward pass node by node; the tables
# show every number, including the fan-out at $e$, which reaches $p$ both directly and through
# $S$. The pass is checked against JAX's backward pass, `jax.grad` and finite differences at the
# example and at seeded points near it. The logits enter as the only input differentiated; the
# targets are an input held fixed, so they carry no gradient. In the drawing, $e$ splits at a
# branch point: the left branch carries its direct share to $p$, the right one its share
# through $S$.

# %% tags=["solution"]
def softmax_cross_entropy(z, y):
    e = named(jnp.exp(z), "e")
    S = named(jnp.sum(e), "S")
    p = named(e / S, "p")
    return -jnp.sum(y * jnp.log(p))


workbook = derive(softmax_cross_entropy, at=dict(z=z_example, y=y_example), wrt=["z"],
                  claim="softmax.machine", output="L")

# %% [markdown] tags=["solution"]
# The hand results, evaluated from their formulas at the same example, must match what the
# machine found: $\partial\mathcal L/\partial p = -y/p$ from the vector-Jacobian route above,
# $\partial\mathcal L/\partial z = p - y$ (the boxed gradient; these targets add up to one),
# and the same gradient reached through the softmax Jacobian,
# $(\operatorname{diag}(p) - p p^{\mathsf T})^{\mathsf T}(-y/p)$.

# %% tags=["solution"]
dL_dp_hand = -y_example / p_example
check_close("softmax.machine", "num", "∂L/∂p by derive and −y/p", workbook.grad("p"),
            dL_dp_hand)
check_close("softmax.machine", "num", "∂L/∂z by derive and p − y", workbook.grad("z"),
            xent_gradient(z_example, y_example))
check_close("softmax.machine", "num", "∂L/∂z by derive and (diag(p) − p pᵀ)ᵀ(−y/p)",
            workbook.grad("z"), softmax_jacobian(z_example).T @ dL_dp_hand)

# %% tags=["solution"]
summary()
