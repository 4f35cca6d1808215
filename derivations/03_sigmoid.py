# %% [markdown] tags=["solution"]
# # 03 · The derivative of the sigmoid
#
# The sigmoid squashes a real score into a probability, and its derivative has an unusually
# tidy form: $\sigma'(s) = \sigma(s)\,(1-\sigma(s))$. Backpropagation through any sigmoid unit
# uses it, so it is worth seeing every step of where it comes from.
#
# This notebook follows the derivation in “Backpropagation” (kang), §5.2, line by line, and the
# elementwise version used for a whole batch of predictions in “An Exercise in
# Backpropagation” (Jin), slide *Gradient Calculations*. SymPy proves each equals sign; JAX and
# finite differences then check the boxed result at numbers.

# %%
import sympy as sp
from gradbook import *

verifies("kang.5.sigmoid", "jin.dsigmoid")

# %% [markdown]
# ## The function
#
# Write the sigmoid of a score $s$ as a power, because the power rule is what the first step
# of the derivation uses:
# $\sigma(s) = \dfrac{1}{1+e^{-s}} = (1+e^{-s})^{-1}$.

# %%
s = sp.symbols("s", real=True)
sigma = sp.Function("sigma")
definition = {sigma(s): 1 / (1 + sp.exp(-s))}

prove_equal("kang.5.sigmoid", sigma(s), (1 + sp.exp(-s)) ** -1, where=definition, box=False)

# %% [markdown] tags=["solution"]
# ## Differentiate from the outside in
#
# The outer function is $u^{-1}$ with $u = 1+e^{-s}$. The power rule gives $-u^{-2}$, and the
# chain rule multiplies it by the inner derivative $\frac{du}{ds}$. The inner derivative is
# itself a small chain: the constant 1 contributes nothing, and $e^{-s}$ contributes
# $e^{-s}$ times the derivative of $-s$, which is $-1$.

# %% tags=["solution"]
with sp.evaluate(False):
    inner = [
        sp.Derivative(1 + sp.exp(-s), s),
        (0 + sp.Derivative(sp.exp(-s), s), "a constant has derivative 0"),
        (sp.exp(-s) * sp.Derivative(-s, s), "chain rule for $e^{-s}$"),
        sp.exp(-s) * (-1),
        -sp.exp(-s),
    ]
prove_chain("kang.5.sigmoid", *inner, box=False)

# %% [markdown] tags=["solution"]
# Put the two pieces together. The two minus signs cancel, leaving a ratio that no longer
# mentions any power of $-1$:

# %% tags=["solution"]
u = 1 + sp.exp(-s)
with sp.evaluate(False):
    outer = [
        sp.Derivative(sigma(s), s),
        (-1 * u ** -2 * sp.Derivative(u, s), "power rule, then the chain rule"),
        (-(u ** -2) * (-sp.exp(-s)), "the inner derivative from above"),
        sp.exp(-s) / u ** 2,
    ]
prove_chain("kang.5.sigmoid", *outer, where=definition, box=False)

# %% [markdown] tags=["solution"]
# That expression is correct but not yet useful: to evaluate it in a backward pass we would
# have to recompute $e^{-s}$. The document's trick is to notice that the same ratio appears
# in $1-\sigma(s)$:

# %% tags=["solution"]
with sp.evaluate(False):
    one_minus = [1 - sigma(s), 1 - 1 / u, sp.exp(-s) / u]
prove_chain("kang.5.sigmoid", *one_minus, where=definition, box=False)

# %% [markdown] tags=["solution"]
# Multiplying $\sigma(s)$ by $1-\sigma(s)$ therefore reproduces the derivative exactly, and
# the result is stated in terms of the value the forward pass already computed:

# %% tags=["solution"]
with sp.evaluate(False):
    product = [
        sigma(s) * (1 - sigma(s)),
        (1 / u) * (sp.exp(-s) / u),
        sp.exp(-s) / u ** 2,
        (sp.Derivative(sigma(s), s), "the chain we just proved"),
    ]
prove_chain("kang.5.sigmoid", *product, where=definition, box=False)
prove_equal("kang.5.sigmoid", sp.Derivative(sigma(s), s), sigma(s) * (1 - sigma(s)),
            where=definition)

# %% [markdown] tags=["solution"]
# ## The machine's check
#
# Now the boxed formula is evaluated in float64 and compared with what JAX's autodiff computes
# for the sigmoid, and with central finite differences, at $s = 1.4$ (the score in the
# document's logistic-regression example) and at seeded random scores.

# %% tags=["solution"]
def sigmoid(s):
    return 1 / (1 + jnp.exp(-s))


def sigmoid_slope(s):
    return sigmoid(s) * (1 - sigmoid(s))


check_gradient("kang.5.sigmoid", sigmoid, sigmoid_slope, at=(1.4,))

# %%
exercise("kang.5.sigmoid",
         r"Differentiate the sigmoid $\sigma(s) = \dfrac{1}{1+e^{-s}}$. Write $\dfrac{d\sigma}"
         r"{ds}$ in terms of $\sigma(s)$ itself, the value the forward pass has already computed.",
         of="sigma(s)", wrt="s", answer="sigma(s)*(1 - sigma(s))",
         inputs={"s": "scalar"}, where={"sigma(t)": "1/(1 + exp(-t))"}, example={"s": 1.4},
         spellings=[r"\sigma(s)\,(1-\sigma(s))", r"\sigma(s) (1 - \sigma(s))",
                    r"$\sigma(s)$ by $1-\sigma(s)$", "sigmoid(s) * (1 - sigmoid(s))",
                    r"e^{-s}/(1+e^{-s})^2"],
         same_as=sigmoid_slope)

# %% [markdown] tags=["solution"]
# ## A whole batch at once
#
# In Jin's network the sigmoid is applied to a vector $\mathbf z \in \mathbb R^N$ of scores,
# one per example, giving predictions $\mathbf y_{\text{pred}}$. Each prediction depends only
# on its own score, so the Jacobian $\partial \mathbf y_{\text{pred}} / \partial \mathbf z$ is
# diagonal, and its diagonal is $\mathbf y_{\text{pred}} \odot (1 - \mathbf y_{\text{pred}})$.
# SymPy proves this for a batch of three symbolic scores:

# %% tags=["solution"]
z = sp.Matrix(sp.symbols("z1:4", real=True))
y_pred = z.applyfunc(lambda zi: 1 / (1 + sp.exp(-zi)))
prove_equal("jin.dsigmoid", y_pred.jacobian(z),
            sp.diag(*[p * (1 - p) for p in y_pred]), lhs=r"\frac{\partial \mathbf{y}_{pred}}{\partial \mathbf{z}}")

# %% [markdown] tags=["solution"]
# and JAX agrees on a batch of four scores, using the diagonal matrix built from the
# predictions alone:

# %% tags=["solution"]
check_jacobian("jin.dsigmoid", sigmoid,
               lambda z: jnp.diag(sigmoid(z) * (1 - sigmoid(z))),
               at=(jnp.array([-2.0, -0.5, 0.3, 1.4]),))

# %%
exercise("jin.dsigmoid",
         r"In Jin's network the sigmoid acts on a whole batch of scores $\mathbf z \in "
         r"\mathbb R^N$ at once, one prediction per score: $\mathbf y_{\text{pred}} = "
         r"\sigma(\mathbf z)$. Find the Jacobian $\partial \mathbf y_{\text{pred}} / \partial "
         r"\mathbf z$, an $N \times N$ matrix, in terms of the predictions.",
         of="sigma(z)", wrt="z", kind="jacobian", answer="diag(y_pred*(1 - y_pred))",
         inputs={"z": "N"}, where={"sigma(t)": "1/(1 + exp(-t))", "y_pred": "sigma(z)"},
         sizes={"N": 4}, example={"z": [-2.0, -0.5, 0.3, 1.4]},
         spellings=[r"\mathbf y_{\text{pred}} \odot (1 - \mathbf y_{\text{pred}})",
                    "jnp.diag(sigmoid(z) * (1 - sigmoid(z)))"],
         same_as=lambda z: jnp.diag(sigmoid(z) * (1 - sigmoid(z))))

# %%
summary()
