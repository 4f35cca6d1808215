# %% [markdown] tags=["solution"]
# # 04 · Logistic regression: the gradient of the cross-entropy loss
#
# A logistic-regression unit scores an input with $s = w^\top x + b$, turns the score into a
# probability $\hat y = \sigma(s)$, and is trained with the binary cross-entropy
# $\mathcal L = -\bigl(y\log\hat y + (1-y)\log(1-\hat y)\bigr)$. The whole backward pass rests
# on one short result: the gradient of the loss with respect to the score is simply
# $\hat y - y$, the prediction minus the label.
#
# This notebook follows “Backpropagation” (kang), §5.3 and its numeric example in §5.4, and
# the same result as “Backpropagation Derivation” reaches it in *Step 1* and *Step 2*. SymPy
# proves every equals sign of the derivation; JAX and finite differences check the boxed
# formulas at numbers; the example's printed numbers are checked digit by digit. It ends with
# a numerical caveat: computed naively, the loss breaks down at large scores, and the
# gradient $\hat y - y$ is also the way out.

# %%
import sympy as sp
from gradbook import *

verifies("kang.5.bce_yhat", "kang.5.bce_logit", "kang.5.logreg", "kang.5.example",
         "deriv.bce_yhat", "deriv.delta2")

# %% [markdown] tags=["solution"]
# ## The loss as a function of the prediction
#
# First treat the prediction $\hat y$ as the variable and the label $y$ as a constant. The
# loss is a weighted sum of two logarithms, so its derivative is the same weighted sum of
# their derivatives. The first logarithm gives $1/\hat y$; the second is a logarithm of
# $1-\hat y$, so the chain rule adds the factor $-1$, the derivative of $1-\hat y$.

# %% tags=["solution"]
y, y_hat = sp.symbols("y yhat", real=True)
loss = -(y * sp.log(y_hat) + (1 - y) * sp.log(1 - y_hat))

with sp.evaluate(False):
    dloss_dyhat = [
        sp.Derivative(loss, y_hat),
        (-(y * sp.Derivative(sp.log(y_hat), y_hat)
           + (1 - y) * sp.Derivative(sp.log(1 - y_hat), y_hat)), "the derivative of a sum"),
        (-(y * (1 / y_hat) + (1 - y) * (1 / (1 - y_hat)) * (-1)),
         r"$\frac{d}{du}\log u = \frac{1}{u}$, and the chain rule for $\log(1-\hat y)$"),
        -(y / y_hat - (1 - y) / (1 - y_hat)),
        (-(y / y_hat) + (1 - y) / (1 - y_hat), "the minus sign distributed"),
    ]
prove_chain("kang.5.bce_yhat", *dloss_dyhat)

# %% [markdown] tags=["solution"]
# “Backpropagation Derivation”, *Step 1*, writes the same derivative over a common
# denominator. Putting both fractions over $\hat y(1-\hat y)$ and expanding the numerator,
# the label terms $\pm y\hat y$ cancel:

# %% tags=["solution"]
with sp.evaluate(False):
    common_denominator = [
        sp.Derivative(loss, y_hat),
        -(y / y_hat) + (1 - y) / (1 - y_hat),
        ((-y * (1 - y_hat) + (1 - y) * y_hat) / (y_hat * (1 - y_hat)),
         r"over the common denominator $\hat y(1-\hat y)$"),
        sp.Add(-y, y * y_hat, y_hat, -y * y_hat) / (y_hat * (1 - y_hat)),
        (y_hat - y) / (y_hat * (1 - y_hat)),
    ]
prove_chain("deriv.bce_yhat", *common_denominator)

# %% [markdown] tags=["solution"]
# Both forms blow up as $\hat y$ approaches 0 or 1 (a confident prediction), which is a first
# hint of the numerical trouble at the end of this notebook. JAX agrees with the formula at
# the example's prediction $\hat y \approx 0.8022$ with $y = 1$, and at seeded random
# predictions away from those ends:

# %% tags=["solution"]
def bce(y_hat, y):
    return -(y * jnp.log(y_hat) + (1 - y) * jnp.log(1 - y_hat))


def bce_slope(y_hat, y):
    return (y_hat - y) / (y_hat * (1 - y_hat))


check_gradient("deriv.bce_yhat", bce, bce_slope, at=(0.8022, 1.0), wrt="y_hat",
               sample=lambda rng: (rng.uniform(0.05, 0.95), rng.uniform(0.0, 1.0)))

# %%
exercise("kang.5.bce_yhat",
         r"The binary cross-entropy of a prediction $\hat y \in (0, 1)$ against a label $y$ is "
         r"$\mathcal L = -\bigl(y\log\hat y + (1-y)\log(1-\hat y)\bigr)$. Treat $\hat y$ as the "
         r"variable and find $\dfrac{\partial \mathcal L}{\partial \hat y}$.",
         of="-(y*log(yhat) + (1 - y)*log(1 - yhat))", wrt="yhat",
         answer="-y/yhat + (1 - y)/(1 - yhat)",
         inputs={"yhat": "scalar in (0.05, 0.95)", "y": "scalar in [0, 1]"},
         example={"yhat": 0.8022, "y": 1.0},
         spellings=[r"-\frac{y}{\hat y} + \frac{1-y}{1-\hat y}",
                    "(y_hat - y) / (y_hat * (1 - y_hat))", r"(\hat y - y)/(\hat y(1-\hat y))"],
         same_as=lambda yhat, y: bce_slope(yhat, y))

# %% [markdown] tags=["solution"]
# ## Through the sigmoid: the gradient with respect to the score
#
# Now let $\hat y = \sigma(s)$ depend on the score. The chain rule multiplies the derivative
# just found by $\frac{d\hat y}{ds} = \hat y(1-\hat y)$, which notebook 03 derived. SymPy
# checks this first step with $\hat y$ replaced by its definition $1/(1+e^{-s})$, so the
# derivative on the left really is taken with respect to $s$:

# %% tags=["solution"]
s = sp.symbols("s", real=True)
prediction = {y_hat: 1 / (1 + sp.exp(-s))}

with sp.evaluate(False):
    chain_rule = [
        sp.Derivative(loss, s),
        ((-(y / y_hat) + (1 - y) / (1 - y_hat)) * (y_hat * (1 - y_hat)),
         r"$\frac{\partial \mathcal{L}}{\partial \hat y} \cdot \frac{d\hat y}{ds}$"),
    ]
prove_chain("kang.5.bce_logit", *chain_rule, where=prediction, box=False)

# %% [markdown] tags=["solution"]
# The rest is algebra in $\hat y$, and it holds for every $\hat y$ strictly between 0 and 1,
# so SymPy proves it with $\hat y$ as a free symbol. Distribute the product over the two
# fractions; in the first term $\hat y$ cancels, in the second $1-\hat y$ does; expand, and
# the two $y\hat y$ terms cancel each other:

# %% tags=["solution"]
with sp.evaluate(False):
    algebra = [
        (-(y / y_hat) + (1 - y) / (1 - y_hat)) * (y_hat * (1 - y_hat)),
        (-(y / y_hat) * (y_hat * (1 - y_hat)) + (1 - y) / (1 - y_hat) * (y_hat * (1 - y_hat)),
         "distribute"),
        (-y * (1 - y_hat) + (1 - y) * y_hat, "cancel"),
        (sp.Add(-y, y * y_hat, y_hat, -y * y_hat), "expand"),
        y_hat - y,
    ]
prove_chain("kang.5.bce_logit", *algebra, lhs=r"\frac{\partial \mathcal{L}}{\partial s}")

# %% [markdown] tags=["solution"]
# The “cancel” step does two separate cancellations, one in each term; here they are one at
# a time:

# %% tags=["solution"]
with sp.evaluate(False):
    first_term = [-(y / y_hat) * (y_hat * (1 - y_hat)), -y * (1 - y_hat)]
    second_term = [(1 - y) / (1 - y_hat) * (y_hat * (1 - y_hat)), (1 - y) * y_hat]
prove_chain("kang.5.bce_logit", *first_term, box=False)
prove_chain("kang.5.bce_logit", *second_term, box=False)

# %% [markdown] tags=["solution"]
# The two pieces together give the boxed result directly, as one equality in $s$:

# %% tags=["solution"]
prove_equal("kang.5.bce_logit", sp.Derivative(loss, s), y_hat - y, where=prediction)

# %% [markdown] tags=["solution"]
# “Backpropagation Derivation”, *Step 2*, takes the other route: it multiplies the
# common-denominator form of *Step 1* by $\hat y(1-\hat y)$, and the whole denominator cancels
# at once. It calls the result $\delta^{(2)}$, the error signal at the output layer's
# pre-activation $z^{(2)}$:

# %% tags=["solution"]
z2 = sp.symbols("z2", real=True)
with sp.evaluate(False):
    delta2 = [
        sp.Derivative(loss, z2),
        ((y_hat - y) / (y_hat * (1 - y_hat)) * (y_hat * (1 - y_hat)),
         r"Step 1 times $\sigma'(z^{(2)}) = \hat y(1-\hat y)$"),
        y_hat - y,
    ]
prove_chain("deriv.delta2", *delta2, where={y_hat: 1 / (1 + sp.exp(-z2))},
            lhs=r"\delta^{(2)}")

# %% [markdown] tags=["solution"]
# ## The machine's check of $\partial\mathcal L/\partial s = \hat y - y$
#
# The loss is written from scratch in JAX as a function of the score, and the formula
# $\sigma(s) - y$ is compared with `jax.grad` and with central differences, at the score
# $s = 1.4$ and label $y = 1$ of the document's example and at seeded random scores with soft
# labels in $[0, 1]$:

# %% tags=["solution"]
def sigmoid(s):
    return 1 / (1 + jnp.exp(-s))


def loss_of_score(s, y):
    return bce(sigmoid(s), y)


def score_gradient(s, y):
    return sigmoid(s) - y


check_gradient("kang.5.bce_logit", loss_of_score, score_gradient, at=(1.4, 1.0), wrt="s",
               sample=lambda rng: (3 * rng.standard_normal(), rng.uniform(0.0, 1.0)))

# %%
exercise("kang.5.bce_logit",
         r"Now the prediction comes from a score, $\hat y = \sigma(s)$. Find the gradient of the "
         r"same loss with respect to the score, $\dfrac{\partial \mathcal L}{\partial s}$, in its "
         r"simplest form.",
         of="-(y*log(yhat) + (1 - y)*log(1 - yhat))", wrt="s", answer="yhat - y",
         inputs={"s": "scalar", "y": "scalar in [0, 1]"},
         where={"sigma(t)": "1/(1 + exp(-t))", "yhat": "sigma(s)"},
         example={"s": 1.4, "y": 1.0},
         spellings=[r"\hat y - y", "sigmoid(s) - y", r"\sigma(s) - y"], same_as=score_gradient)

# %% [markdown] tags=["solution"]
# In “Backpropagation Derivation” $\hat{\mathbf y}$ and $\mathbf z^{(2)}$ are vectors: with
# several sigmoid outputs and the loss summed over them, each output's score sees only its
# own term, so $\boldsymbol\delta^{(2)} = \hat{\mathbf y} - \mathbf y$ entry by entry. JAX
# agrees for three outputs:

# %% tags=["solution"]
def output_loss(z2, y):
    return jnp.sum(bce(sigmoid(z2), y))


def output_delta(z2, y):
    return sigmoid(z2) - y


check_gradient("deriv.delta2", output_loss, output_delta, at=None, points=4, wrt="z2",
               sample=lambda rng: (jnp.asarray(2 * rng.standard_normal(3)),
                                   jnp.asarray(rng.uniform(0.0, 1.0, 3))))

# %% [markdown] tags=["solution"]
# ## From the score to the parameters
#
# The score $s = w^\top x + b$ is linear, so its local derivatives are read off directly:
# $\partial s/\partial w = x$, $\partial s/\partial b = 1$ and $\partial s/\partial x = w$.
# SymPy proves them entry by entry for vectors of three symbols:

# %% tags=["solution"]
x = sp.Matrix(sp.symbols("x1:4", real=True))
w = sp.Matrix(sp.symbols("w1:4", real=True))
b = sp.symbols("b", real=True)
score = (w.T * x)[0] + b

prove_equal("kang.5.logreg", derivative(score, w), x)
prove_equal("kang.5.logreg", sp.Derivative(score, b), 1)
prove_equal("kang.5.logreg", derivative(score, x), w)

# %% [markdown] tags=["solution"]
# Each parameter reaches the loss only through $s$, so its gradient is the upstream gradient
# $\hat y - y$ times the local derivative. SymPy checks the three boxed results with
# $\hat y = \sigma(w^\top x + b)$ written out, so each derivative on the left is the
# derivative of the full loss:

# %% tags=["solution"]
model = {y_hat: 1 / (1 + sp.exp(-score))}
with sp.evaluate(False):
    through_w = [derivative(loss, w),
                 ((y_hat - y) * derivative(score, w), r"chain rule through $s$"),
                 (y_hat - y) * x]
    through_b = [sp.Derivative(loss, b),
                 ((y_hat - y) * sp.Derivative(score, b), r"chain rule through $s$"),
                 y_hat - y]
    through_x = [derivative(loss, x),
                 ((y_hat - y) * derivative(score, x), r"chain rule through $s$"),
                 (y_hat - y) * w]
prove_chain("kang.5.logreg", *through_w, where=model)
prove_chain("kang.5.logreg", *through_b, where=model)
prove_chain("kang.5.logreg", *through_x, where=model)

# %% [markdown] tags=["solution"]
# The same three formulas against JAX and finite differences, with the loss written from
# scratch as a function of $w$, $b$, $x$ and $y$. The first point is the document's example
# ($x = [2, -1]$, $w = [0.3, -0.7]$, $b = 0.1$, $y = 1$); the random points use five
# features, since nothing in the derivation depends on the dimension.

# %% tags=["solution"]
def logreg_loss(w, b, x, y):
    return bce(sigmoid(jnp.dot(w, x) + b), y)


def logreg_gradients(w, b, x, y):
    error = sigmoid(jnp.dot(w, x) + b) - y
    return error * x, error, error * w


example = (jnp.array([0.3, -0.7]), 0.1, jnp.array([2.0, -1.0]), 1.0)
check_gradient("kang.5.logreg", logreg_loss, logreg_gradients, at=example,
               wrt=("w", "b", "x"),
               sample=lambda rng: (jnp.asarray(rng.standard_normal(5)), rng.standard_normal(),
                                   jnp.asarray(rng.standard_normal(5)), rng.uniform(0.0, 1.0)))

# %%
exercise("kang.5.logreg",
         r"A logistic-regression unit scores an input $x \in \mathbb R^n$ with $s = w^\top x + b$ "
         r"and predicts $\hat y = \sigma(s)$; the loss is the cross-entropy above. Find the "
         r"three gradients $\left(\dfrac{\partial \mathcal L}{\partial w}, \dfrac{\partial "
         r"\mathcal L}{\partial b}, \dfrac{\partial \mathcal L}{\partial x}\right)$.",
         of="-(y*log(yhat) + (1 - y)*log(1 - yhat))", wrt=("w", "b", "x"),
         answer="((yhat - y)*x, yhat - y, (yhat - y)*w)",
         inputs={"w": "n", "b": "scalar", "x": "n", "y": "scalar in [0, 1]"},
         where={"sigma(t)": "1/(1 + exp(-t))", "s": "w @ x + b", "yhat": "sigma(s)"},
         sizes={"n": 5}, example={"w": [0.3, -0.7], "b": 0.1, "x": [2.0, -1.0], "y": 1.0},
         spellings=[r"(\hat y - y)\,x", r"(\hat y-y)x", "error * x, error, error * w"],
         same_as=logreg_gradients)

# %% [markdown] tags=["solution"]
# ## The worked example, number by number
#
# §5.4 of “Backpropagation” (kang) evaluates everything for one sample. Each number it prints
# is recomputed below in float64 from the formulas above and must agree to the digits shown
# (within half a unit of the last one). First the score, term by term:

# %% tags=["solution"]
w0, b0, x0, y0 = example
s0 = jnp.dot(w0, x0) + b0
check_printed("kang.5.example", "the terms w1·x1, w2·x2, b", [w0[0] * x0[0], w0[1] * x0[1], b0],
              ["0.6", "0.7", "0.1"])
check_printed("kang.5.example", "s = wᵀx + b", s0, "1.4")

# %% [markdown] tags=["solution"]
# Then the sigmoid, via the exponential the document evaluates on the way:

# %% tags=["solution"]
check_printed("kang.5.example", "e^(-1.4)", jnp.exp(-s0), "0.2466")
y_hat0 = 1 / (1 + jnp.exp(-s0))
check_printed("kang.5.example", "ŷ = 1/(1 + e^(-1.4))", y_hat0, "0.8022")
check_printed("kang.5.example", "ŷ - y", y_hat0 - y0, "-0.1978")

# %% [markdown] tags=["solution"]
# And the three gradients, each the gradient core $\hat y - y$ times a local derivative:

# %% tags=["solution"]
check_printed("kang.5.example", "∂L/∂w = (ŷ - y) x", (y_hat0 - y0) * x0, ["-0.3956", "0.1978"])
check_printed("kang.5.example", "∂L/∂b = ŷ - y", y_hat0 - y0, "-0.1978")
check_printed("kang.5.example", "∂L/∂x = (ŷ - y) w", (y_hat0 - y0) * w0, ["-0.0593", "0.1385"])

# %% [markdown] tags=["solution"]
# Autodiff, knowing nothing of the derivation, lands on the same gradients at this point:

# %% tags=["solution"]
jax_w, jax_b, jax_x = jax.grad(logreg_loss, argnums=(0, 1, 2))(*example)
check_close("kang.5.example", "jax", "∂L/∂w by the formula and by jax.grad",
            jax_w, (y_hat0 - y0) * x0)
check_close("kang.5.example", "jax", "∂L/∂b by the formula and by jax.grad", jax_b, y_hat0 - y0)
check_close("kang.5.example", "jax", "∂L/∂x by the formula and by jax.grad",
            jax_x, (y_hat0 - y0) * w0)
check_printed("kang.5.example", "∂L/∂x by jax.grad", jax_x, ["-0.0593", "0.1385"])

# %% [markdown] tags=["solution"]
# ## The example on its graph
#
# The same computation, traced from code and drawn: the score $s$, then the sigmoid as the
# four elementary operations it is made of (negate, exponentiate, add 1, take the
# reciprocal), then the loss. Wrapping the loss in `jax.jit` makes it a single node named
# `bce`, so the picture stays at the level of the derivation. Every edge carries its
# forward value (green) and the gradient of $\mathcal L$ with respect to it (red), computed
# by JAX; the ones the document prints are checked against it. Reading the red numbers from
# the bottom up retraces the derivation: $-1.247$ arrives at $\hat y$, and the sigmoid's
# operations turn it into $\hat y - y = -0.1978$ at $s$.

# %% tags=["solution"]
def logreg_graph(w, b, x, y):
    s = named(jnp.dot(w, x) + b, "s")
    y_hat = named(sigmoid(s), "ŷ")
    return jax.jit(bce)(y_hat, y)


lr_graph = draw_graph(logreg_graph, *example, output="L")
lr_graph.check_printed("kang.5.example", values={"s": "1.4", "ŷ": "0.8022"},
                       grads={"s": "-0.1978", "w": ["-0.3956", "0.1978"], "b": "-0.1978",
                              "x": ["-0.0593", "0.1385"]})

# %% [markdown] tags=["solution"]
# ## A numerical caveat: compute the loss from the score
#
# The loss above first computes $\hat y = \sigma(s)$ and then $\log(1-\hat y)$. For a large
# score that is a problem in floating point: at $s = 40$ the true $1 - \sigma(s)$ is about
# $e^{-40} \approx 4\times10^{-18}$, far below the spacing of float64 numbers near 1
# ($2^{-53} \approx 1.1\times10^{-16}$), so $\sigma(40)$ rounds to exactly 1 and
# $1-\hat y$ to exactly 0. With label $y = 0$ the loss becomes $-\log 0 = \infty$, and so
# does its gradient, although the true gradient is $\hat y - y \approx 1$.

# %% tags=["solution"]
check_that("kang.5.bce_logit", "jax", float(1 - sigmoid(40.0)) == 0.0,
           "in float64, 1 - σ(40) rounds to exactly 0")
naive_gradient = jax.grad(loss_of_score)(40.0, 0.0)
check_that("kang.5.bce_logit", "jax", not jnp.isfinite(naive_gradient),
           f"jax.grad of the naive loss at s = 40, y = 0 is {float(naive_gradient)}, "
           "not the true gradient ŷ - y ≈ 1")

# %% [markdown] tags=["solution"]
# Even before it breaks down completely, the naive form is already inaccurate. At $s = 36$
# the true $1-\sigma(s) \approx 2.3\times10^{-16}$ can only come out as a whole multiple of
# the spacing $2^{-53} \approx 1.1\times10^{-16}$, here $2.2\times10^{-16}$, and the
# gradient built on it is about 4% too large.

# %% tags=["solution"]
naive_at_36 = float(jax.grad(loss_of_score)(36.0, 0.0))
true_at_36 = float(score_gradient(36.0, 0.0))
check_that("kang.5.bce_logit", "jax", abs(naive_at_36 - true_at_36) > 0.01,
           f"at s = 36, y = 0 the naive gradient is {naive_at_36:.4f}, while ŷ - y = {true_at_36:.4f}")

# %% [markdown] tags=["solution"]
# The cure is to never form $1 - \hat y$. Since $\log\sigma(s) = -\log(1+e^{-s})$ and
# $\log(1-\sigma(s)) = -\log(1+e^{s})$, the loss can be written from the score alone as
# $\mathcal L = \log(1+e^{s}) - y\,s$, where $\log(1+e^{s})$ (the softplus) is evaluated
# without overflow as `jnp.logaddexp(0, s)`. SymPy proves that this is the same function, and
# that its derivative is again $\hat y - y$:

# %% tags=["solution"]
stable_loss = sp.log(1 + sp.exp(s)) - y * s
prove_equal("kang.5.bce_logit", loss, stable_loss, where=prediction, box=False)
with sp.evaluate(False):
    stable_slope = [sp.Derivative(stable_loss, s),
                    sp.exp(s) / (1 + sp.exp(s)) - y,
                    (1 / (1 + sp.exp(-s)) - y, r"divide above and below by $e^{s}$")]
prove_chain("kang.5.bce_logit", *stable_slope)

# %% [markdown] tags=["solution"]
# In JAX the stable form keeps the gradient equal to $\sigma(s) - y$ at $s = 40$, and at
# seeded random scores spread over $[-60, 60]$, far into the range where the naive form
# fails:

# %% tags=["solution"]
def stable_loss_of_score(s, y):
    return jnp.logaddexp(0.0, s) - y * s


check_gradient("kang.5.bce_logit", stable_loss_of_score, score_gradient, at=(40.0, 0.0),
               at_label="s = 40, y = 0", points=6, wrt="s",
               sample=lambda rng: (rng.uniform(-60.0, 60.0), rng.uniform(0.0, 1.0)))

# %%
summary()
