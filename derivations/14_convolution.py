# %% [markdown] tags=["solution"]
# # 14 · Backpropagation through a convolution
#
# A convolutional layer slides one small kernel over its input, so every weight is used at
# many positions and every input entry feeds several outputs. Its backward pass turns out to
# be made of convolutions again: the gradient with respect to the input is the upstream
# gradient correlated with the *flipped* kernel (zero-padded so that it comes out the size of
# the input), and the gradient with respect to the kernel is the input correlated with the
# upstream gradient. A stride changes one thing: the upstream gradient first gets zeros
# inserted between its entries.
#
# The layer is a cross-correlation, $y_i = \sum_m w_m x_{i+m}$, which is what deep-learning
# libraries call convolution (“Deep Learning”, Goodfellow, Bengio and Courville, 2016, §9.1).
# The backward pass of such a layer is the *transposed convolution* of “A guide to
# convolution arithmetic for deep learning” (Dumoulin and Visin, 2016, §4), whose
# zero-padding and zero-insertion rules for unit and non-unit strides (§4.3–4.5) are the ones
# proven here; the gradient of a shared kernel is a sum over the positions that share it, the
# weight sharing of “Backpropagation Applied to Handwritten Zip Code Recognition” (LeCun et
# al., 1989, §3); and “Deep Learning” §9.5 states both gradients of a 2-D convolution.
#
# SymPy proves each result for explicit small sizes with every entry a symbol: the shifted,
# clipped index ranges of a correlation have no form in SymPy's matrix symbols, so there is
# no proof for symbolic sizes here. JAX and finite differences then check the formulas at
# other sizes, paddings and strides.

# %%
import numpy as np
import sympy as sp
from gradbook import *

verifies("conv.input", "conv.kernel", "conv.2d", "conv.stride", "conv.example", "conv.machine")

# %% [markdown]
# ## The layer, and a loss that stands in for any loss
#
# Three list operations describe everything in this notebook. `correlate(a, k)` is the valid
# cross-correlation: output $i$ is $\sum_m k_m a_{i+m}$, for every $i$ at which the kernel
# fits entirely inside $a$, so $n$ inputs and a kernel of $k$ taps give $n-k+1$ outputs.
# `pad(a, p)` adds $p$ zeros at each end, and `flip(k)` reverses the kernel.

# %%
def correlate(a, k):
    return [sp.Add(*[k[m] * a[i + m] for m in range(len(k))])
            for i in range(len(a) - len(k) + 1)]


def pad(a, p):
    return [sp.S.Zero] * p + list(a) + [sp.S.Zero] * p


def flip(k):
    return list(k)[::-1]


# %% [markdown]
# Take $n = 5$ inputs and a kernel of $k = 3$ taps, all symbols, so the layer has
# $n - k + 1 = 3$ outputs:

# %%
x = sp.symbols("x_0:5", real=True)
w = sp.symbols("w_0:3", real=True)
y = correlate(x, w)
sp.Matrix(y)

# %% [markdown]
# Backpropagation hands the layer the upstream gradient $g_i = \partial L/\partial y_i$ and
# asks for $\partial L/\partial x$ and $\partial L/\partial w$. By the chain rule these depend
# on the loss only through its first derivatives $g_i$, so the linear loss
# $L = \sum_i g_i\,y_i$, whose first derivatives are exactly the $g_i$, stands in for any
# loss. On the page $L$ and $y_i$ are names; `where=` says what they stand for.

# %%
g = sp.symbols("g_0:3", real=True)
L = sp.Symbol("L")
y_names = sp.symbols("y_0:3", real=True)
layer = {L: sp.Add(*[gi * yi for gi, yi in zip(g, y_names)])} | dict(zip(y_names, y))

# %% [markdown] tags=["solution"]
# ## The input gradient: correlate with the flipped kernel
#
# Input $x_j$ reaches the loss through every output whose window covers it, so the chain rule
# sums over those outputs. Output $y_i$ contains $x_j$ exactly once, multiplied by the tap
# $w_{j-i}$ (when $0 \le j-i < k$), which gives
# $\partial L/\partial x_j = \sum_i g_i\, w_{j-i}$. Read along $i$, the kernel's index runs
# *backwards*: this is a correlation of $g$ with the flipped kernel $[w_2, w_1, w_0]$. At the
# two ends fewer outputs cover $x_j$; padding $g$ with $k - 1 = 2$ zeros on each side supplies
# the missing terms as zeros, and the padded correlation, the *full* correlation, has
# $3 + 2\cdot 2 - 3 + 1 = 5$ entries, one per input.

# %% tags=["solution"]
X = sp.Matrix(x)
with sp.evaluate(False):
    input_gradient = [
        derivative(L, X),
        (sp.Matrix([sp.Add(*[g[i] * sp.Derivative(y_names[i], xj) for i in range(3)])
                    for xj in x]),
         r"the chain rule through every output $y_i$, with $\partial L/\partial y_i = g_i$"),
        (sp.Matrix([sp.Add(*[g[i] * w[j - i] for i in range(3) if 0 <= j - i < 3])
                    for j in range(5)]),
         r"$y_i$ contains $x_j$ once, multiplied by $w_{j-i}$"),
        (sp.Matrix(correlate(pad(g, 2), flip(w))),
         r"pad $g$ with $k-1$ zeros; correlate with the flipped kernel"),
    ]
prove_chain("conv.input", *input_gradient, where=layer)

# %% [markdown] tags=["solution"]
# A correlation with a flipped kernel is a convolution, $(g * w)_j = \sum_m w_m\, g_{j-m}$,
# so the same gradient is the *full convolution* of $g$ with the kernel as it stands, which
# is how the result is often quoted:

# %% tags=["solution"]
def convolve_full(a, k):
    n = len(a) + len(k) - 1
    return [sp.Add(*[k[m] * a[j - m] for m in range(len(k)) if 0 <= j - m < len(a)])
            for j in range(n)]


with sp.evaluate(False):
    as_convolution = [sp.Matrix(correlate(pad(g, 2), flip(w))), sp.Matrix(convolve_full(g, w))]
prove_chain("conv.input", *as_convolution, box=False)

# %% [markdown] tags=["solution"]
# ## The common mistake: forgetting the flip
#
# The forward pass correlates with $w$, so it is tempting to backpropagate by correlating the
# padded gradient with $w$ as well. That pairs $g_0$ with $w_2$ in the first entry instead of
# with $w_0$, and SymPy rejects it. (For a kernel that reads the same backwards the mistake
# would go unseen, so none of the kernels in this notebook is symmetric.)

# %% tags=["solution"]
with rejects("conv.input", "the input gradient computed with the unflipped kernel"):
    prove_equal("conv.input", derivative(L, X), sp.Matrix(correlate(pad(g, 2), w)),
                where=layer)

# %% [markdown] tags=["solution"]
# ## The kernel gradient: correlate the input with the upstream gradient
#
# Tap $w_m$ is shared by all three outputs: in $y_i$ it multiplies $x_{i+m}$. Its gradient is
# therefore the sum, over all positions that share it, of the upstream gradient there times
# the input it met, $\partial L/\partial w_m = \sum_i g_i\, x_{i+m}$, and that is the valid
# correlation of the input with $g$ (here $g$ plays the kernel, with $3$ taps, and
# $5 - 3 + 1 = 3$ results, one per tap):

# %% tags=["solution"]
W = sp.Matrix(w)
with sp.evaluate(False):
    kernel_gradient = [
        derivative(L, W),
        (sp.Matrix([sp.Add(*[g[i] * sp.Derivative(y_names[i], wm) for i in range(3)])
                    for wm in w]),
         r"the chain rule through every output $y_i$"),
        (sp.Matrix([sp.Add(*[g[i] * x[i + m] for i in range(3)]) for m in range(3)]),
         r"in $y_i$, $w_m$ multiplies $x_{i+m}$"),
        (sp.Matrix(correlate(x, g)), r"the correlation of $x$ with $g$"),
    ]
prove_chain("conv.kernel", *kernel_gradient, where=layer)

# %% [markdown] tags=["solution"]
# ## Zero padding
#
# A layer with zero padding $p$ correlates the padded input, $y = \mathrm{correlate}
# (\mathrm{pad}(x, p), w)$. With $p = 1$ and $k = 3$ (“same” padding) it has as many outputs
# as inputs. The padded zeros are constants, so their gradients are simply dropped: the full
# correlation of $g$ would have $n + 2p$ entries, and cutting $p$ from each end is the same as
# padding $g$ with only $k - 1 - p$ zeros to begin with. The kernel gradient is the same
# correlation as before, taken with the padded input.

# %% tags=["solution"]
g_same = sp.symbols("g_0:5", real=True)
y_same = correlate(pad(x, 1), w)
same_layer = {L: sp.Add(*[gi * yi for gi, yi in zip(g_same, y_same)])}
k, p = 3, 1
prove_equal("conv.input", derivative(L, X), sp.Matrix(correlate(pad(g_same, k - 1 - p), flip(w))),
            where=same_layer)
prove_equal("conv.kernel", derivative(L, W), sp.Matrix(correlate(pad(x, 1), g_same)),
            where=same_layer)

# %% [markdown] tags=["solution"]
# ## The machine's check in one dimension
#
# In JAX the layer is written straight from its definition, one shifted slice of the input
# per tap. The claimed gradients are written with `jnp.correlate`, which computes the valid
# correlation $\sum_m k_m a_{i+m}$; JAX's `vjp` and central differences are the references.
# The sizes differ from the proof (8 inputs, 3 taps) and the padding is a parameter.

# %% tags=["solution"]
def layer_1d(x, w, p=0):
    x = jnp.pad(x, p)
    n_out = x.shape[0] - w.shape[0] + 1
    return sum(w[m] * x[m:m + n_out] for m in range(w.shape[0]))


def layer_1d_backward(x, w, g, p=0):
    k = w.shape[0]
    dx = jnp.correlate(jnp.pad(g, k - 1 - p), w[::-1], mode="valid")
    dw = jnp.correlate(jnp.pad(x, p), g, mode="valid")
    return dx, dw


x_1d, w_1d = jnp.linspace(-1.0, 2.0, 8), jnp.array([0.5, -1.0, 2.0])
check_vjp("conv.input", layer_1d, lambda x, w, g: layer_1d_backward(x, w, g)[0],
          at=(x_1d, w_1d), at_label="a point of our own", wrt="x", label="p = 0")
check_vjp("conv.kernel", layer_1d, lambda x, w, g: layer_1d_backward(x, w, g)[1],
          at=(x_1d, w_1d), at_label="a point of our own", wrt="w", label="p = 0")

# %% [markdown] tags=["solution"]
# The same with padding $p = 1$, and with $p = 2 = k - 1$, the largest padding at which every
# output still sees an input (the gradient is then padded with no zeros at all):

# %% tags=["solution"]
for p in (1, 2):
    check_vjp("conv.input", lambda x, w: layer_1d(x, w, p),
              lambda x, w, g: layer_1d_backward(x, w, g, p), at=(x_1d, w_1d),
              at_label="a point of our own", wrt=(0, 1), label=f"p = {p}")

# %% [markdown] tags=["solution"]
# The shapes: a valid correlation of $n = 8$ inputs with $k = 3$ taps has $n - k + 1 = 6$
# outputs, and the full correlation of those 6 gradients with 3 taps has
# $6 + 2(k-1) - k + 1 = 8$ entries, one per input, whatever $n$ and $k$ are. And the full
# convolution `jnp.convolve(g, w, "full")` is the same vector:

# %% tags=["solution"]
g_1d = jnp.array([1.0, -2.0, 0.5, 3.0, -1.0, 2.0])
dx_1d, dw_1d = layer_1d_backward(x_1d, w_1d, g_1d)
check_shape("conv.input", "y = correlate(x, w)", layer_1d(x_1d, w_1d), (6,))
check_shape("conv.input", "∂L/∂x = correlate(pad(g, 2), flip(w))", dx_1d, (8,))
check_close("conv.input", "jax", "the full correlation with the flipped kernel and the full "
            "convolution jnp.convolve(g, w)", jnp.convolve(g_1d, w_1d, mode="full"), dx_1d)

# %% [markdown] tags=["solution"]
# The missing flip again, now against JAX: it fails at the first point.

# %% tags=["solution"]
with rejects("conv.input", "the input gradient computed with the unflipped kernel"):
    check_vjp("conv.input", layer_1d,
              lambda x, w, g: jnp.correlate(jnp.pad(g, 2), w, mode="valid"),
              at=(x_1d, w_1d), at_label="a point of our own", wrt="x")

# %%
exercise("conv.input.x",
         r"A layer correlates its input $x$ ($n$ entries) with a kernel $w$ of $k$ taps, "
         r"$y_i = \sum_m w_m\,x_{i+m}$ for the $n - k + 1$ positions at which the kernel fits, "
         r"and the layer above hands back $g = \partial L/\partial y$ ($m = n - k + 1$ entries). "
         r"Find "
         r"$\partial L/\partial x$, one entry per input. Besides NumPy's operations an answer "
         r"may use `corr(a, b)`, the correlation of the layer ($\sum_m b_m a_{i+m}$ wherever "
         r"$b$ fits inside $a$, like `np.correlate`), `conv(a, b)`, the full convolution "
         r"($\sum_m b_m a_{j-m}$ for every $j$, like `np.convolve`), `pad(a, p)`, which adds "
         r"$p$ zeros at each end, and `flip(a)`, which reverses it.",
         of="sum(g * corr(x, w))", wrt="x", answer="corr(pad(g, k - 1), flip(w))",
         inputs={"x": "n", "w": "k", "g": "m"},
         sizes={"n": 6, "k": 3, "m": 4},
         example={"x": [1.0, 2.0, -1.0, 0.5, 3.0], "w": [0.5, -1.0, 2.0], "g": [1.0, 2.0, -1.0]},
         mistakes={"corr(pad(g, k - 1), w)":
                   "The unflipped kernel: the forward pass correlates with w, but input x_j "
                   "meets tap w_(j-i) in output i, so read along the outputs the kernel runs "
                   "backwards. Correlate the padded gradient with the flipped kernel."},
         spellings=["correlate(pad(g, 2), flip(w))", "jnp.pad(g, k - 1 - p), w[::-1]",
                    "jnp.convolve(g, w, mode=\"full\")"],
         same_as=lambda x, w, g: layer_1d_backward(x, w, g)[0])

# %%
exercise("conv.kernel.w",
         r"For the same layer, $y_i = \sum_m w_m\,x_{i+m}$ with the upstream gradient "
         r"$g = \partial L/\partial y$, find $\partial L/\partial w$, one entry per tap "
         r"(`corr`, `conv`, `pad` and `flip` as in the exercise before).",
         of="sum(g * corr(x, w))", wrt="w", answer="corr(x, g)",
         inputs={"x": "n", "w": "k", "g": "m"},
         sizes={"n": 6, "k": 3, "m": 4},
         example={"x": [1.0, 2.0, -1.0, 0.5, 3.0], "w": [0.5, -1.0, 2.0], "g": [1.0, 2.0, -1.0]},
         mistakes={"corr(x, flip(g))":
                   "The flip belongs to the input gradient only: in output i the tap w_m "
                   "multiplies x_(i+m), the two indices run together, so the kernel gradient "
                   "is the plain correlation of the input with g, nothing reversed.",
                   "corr(g, x)":
                   "The arguments are swapped: it is g that slides along the input, so the "
                   "input comes first; correlating g with x gives the kernel gradient "
                   "reversed."},
         spellings=["correlate(x, g)", "jnp.correlate(jnp.pad(x, p), g"],
         same_as=lambda x, w, g: layer_1d_backward(x, w, g)[1])

# %% [markdown] tags=["solution"]
# ## A worked example
#
# Take the input $x = [1, 2, -1, 0.5, 3]$, the kernel $w = [0.5, -1, 2]$, and suppose the
# layer above hands back $g = [1, 2, -1]$. The forward pass gives
# $y_0 = 0.5\cdot 1 - 1\cdot 2 + 2\cdot(-1) = -3.5$, and likewise $y = [-3.5, 3, 5]$.

# %% tags=["solution"]
x0 = jnp.array([1.0, 2.0, -1.0, 0.5, 3.0])
w0 = jnp.array([0.5, -1.0, 2.0])
g0 = jnp.array([1.0, 2.0, -1.0])
y0 = layer_1d(x0, w0)
print("y =", y0)
check_printed("conv.example", "y", y0, ["-3.5", "3", "5"])

# %% [markdown] tags=["solution"]
# Backward, the padded gradient is $[0, 0, 1, 2, -1, 0, 0]$ and the flipped kernel
# $[2, -1, 0.5]$. Its first window gives $2\cdot 0 - 1\cdot 0 + 0.5\cdot 1 = 0.5$, and sliding
# it along gives $\partial L/\partial x = [0.5, 0, -0.5, 5, -2]$. The kernel gradient slides
# $g$ over $x$: $\partial L/\partial w_0 = 1\cdot 1 + 2\cdot 2 - 1\cdot(-1) = 6$, and
# $\partial L/\partial w = [6, -0.5, -3]$.

# %% tags=["solution"]
dx0, dw0 = layer_1d_backward(x0, w0, g0)
print("∂L/∂x =", dx0)
print("∂L/∂w =", dw0)
check_printed("conv.example", "∂L/∂x", dx0, ["0.5", "0", "-0.5", "5", "-2"])
check_printed("conv.example", "∂L/∂w", dw0, ["6", "-0.5", "-3"])

# %% [markdown] tags=["solution"]
# JAX's `vjp` of the layer, told nothing of the derivation, returns the same two vectors. With
# the unflipped kernel the first entry would have been $2\cdot 1 = 2$ instead of $0.5$.

# %% tags=["solution"]
_, pullback = jax.vjp(layer_1d, x0, w0)
jax_dx, jax_dw = pullback(g0)
check_close("conv.example", "jax", "∂L/∂x by the formula and by jax.vjp", jax_dx, dx0)
check_close("conv.example", "jax", "∂L/∂w by the formula and by jax.vjp", jax_dw, dw0)

# %% [markdown] tags=["solution"]
# ## Two dimensions
#
# An image layer correlates in both directions, $Y_{ij} = \sum_{a,b} K_{ab}\,
# X_{i+a,\,j+b}$ on the zero-padded input. Every step above happens along each axis
# separately, so the results carry over: the input gradient is $G$ padded by $k - 1 - p$
# along each axis and correlated with the kernel flipped along *both* axes (rotated by
# 180°), and the kernel gradient is the padded input correlated with $G$. SymPy proves this
# for a $3\times 4$ input, a $2\times 3$ kernel and padding $p = 1$, which give a
# $4\times 4$ output. No two sizes are alike, so a mix-up of rows and columns cannot pass, and
# the padding of $G$ is different along the two axes ($2 - 1 - 1 = 0$ rows,
# $3 - 1 - 1 = 1$ column).

# %% tags=["solution"]
def correlate_2d(A, K):
    rows, cols = A.rows - K.rows + 1, A.cols - K.cols + 1
    return sp.Matrix(rows, cols, lambda i, j: sp.Add(*[
        K[a, b] * A[i + a, j + b] for a in range(K.rows) for b in range(K.cols)]))


def pad_2d(A, p_rows, p_cols):
    out = sp.zeros(A.rows + 2 * p_rows, A.cols + 2 * p_cols)
    out[p_rows:p_rows + A.rows, p_cols:p_cols + A.cols] = A
    return out


X2 = sp.Matrix(3, 4, lambda i, j: sp.Symbol(f"x_{{{i}{j}}}", real=True))
K2 = sp.Matrix(2, 3, lambda a, b: sp.Symbol(f"k_{{{a}{b}}}", real=True))
G2 = sp.Matrix(4, 4, lambda i, j: sp.Symbol(f"g_{{{i}{j}}}", real=True))
Y2 = correlate_2d(pad_2d(X2, 1, 1), K2)
image_layer = {L: sum(G2[i, j] * Y2[i, j] for i in range(4) for j in range(4))}

# %% [markdown] tags=["solution"]
# The input gradient, with the kernel rotated by 180° (`K2[::-1, ::-1]`):

# %% tags=["solution"]
prove_equal("conv.2d", derivative(L, X2), correlate_2d(pad_2d(G2, 0, 1), K2[::-1, ::-1]),
            where=image_layer,
            shown=r"\frac{\partial L}{\partial X} = \operatorname{corr}\big(G \text{ with a zero column "
                  r"added on each side},\ K \text{ rotated by } 180^{\circ}\big)\quad"
                  r"\text{(}X\ 3 \times 4,\ K\ 2 \times 3\text{)}")

# %% [markdown] tags=["solution"]
# and the kernel gradient, one entry per tap, each a sum over all 16 positions of the
# kernel (those that meet padding contribute zero):

# %% tags=["solution"]
prove_equal("conv.2d", derivative(L, K2), correlate_2d(pad_2d(X2, 1, 1), G2), where=image_layer,
            shown=r"\frac{\partial L}{\partial K} = \operatorname{corr}\big(X \text{ with a border of "
                  r"zeros},\ G\big)\quad\text{(}X\ 3 \times 4,\ K\ 2 \times 3\text{)}")

# %% [markdown] tags=["solution"]
# ### Against XLA's own convolution
#
# In JAX the forward pass is now `jax.lax.conv_general_dilated`, the convolution that XLA
# differentiates with its own rules (like every deep-learning library, it computes a
# correlation: it does not flip the kernel). The claimed gradients are written with the same
# primitive, used as a plain correlation: the input gradient correlates $G$, padded by
# $k - 1 - p$ per axis, with the rotated kernel; the kernel gradient correlates the padded
# input with $G$. A $5 \times 6$ input, a $3 \times 2$ kernel and padding 1 give a
# $5 \times 7$ output.

# %% tags=["solution"]
def conv2d(x, k, p_rows=1, p_cols=1):
    return jax.lax.conv_general_dilated(x[None, None], k[None, None], window_strides=(1, 1),
                                        padding=((p_rows, p_rows), (p_cols, p_cols)))[0, 0]


def conv2d_backward(x, k, G, p=1):
    kr, kc = k.shape
    dx = conv2d(G, k[::-1, ::-1], kr - 1 - p, kc - 1 - p)
    dk = conv2d(jnp.pad(x, p), G, 0, 0)
    return dx, dk


rng = np.random.default_rng(14)
image, kernel = jnp.asarray(rng.standard_normal((5, 6))), jnp.asarray([[1.0, -2.0],
                                                                        [0.5, 3.0],
                                                                        [-1.0, 0.25]])
check_shape("conv.2d", "Y = conv2d(X, K), padding 1", conv2d(image, kernel), (5, 7))
check_vjp("conv.2d", conv2d, conv2d_backward, at=(image, kernel),
          at_label="a point of our own", wrt=("x", "k"))

# %% [markdown] tags=["solution"]
# ## Stride 2: dilate the gradient first
#
# With stride $s$ the kernel jumps $s$ inputs at a time, $y_i = \sum_m w_m\, x_{si+m}$, and
# $n$ inputs give $\lfloor (n-k)/s \rfloor + 1$ outputs. Take $n = 7$, $k = 3$, $s = 2$: three
# outputs, reading the windows $x_{0..2}$, $x_{2..4}$ and $x_{4..6}$.

# %% tags=["solution"]
x7 = sp.symbols("x_0:7", real=True)
y_strided = [sp.Add(*[w[m] * x7[2 * i + m] for m in range(3)]) for i in range(3)]
strided_layer = ({L: sp.Add(*[gi * yi for gi, yi in zip(g, y_names)])}
                 | dict(zip(y_names, y_strided)))
sp.Matrix(y_strided)

# %% [markdown] tags=["solution"]
# The chain rule is unchanged, but $x_j$ now meets the tap $w_{j-2i}$ in output $i$. That is
# a correlation with the flipped kernel of a gradient in which output $i$ sits at position
# $2i$: $g$ with $s - 1 = 1$ zero inserted between its entries, $[g_0, 0, g_1, 0, g_2]$.
# Padded with $k - 1 = 2$ zeros on each side and correlated with the flipped kernel, it gives
# $9 - 3 + 1 = 7$ entries, one per input. Every other input ($x_1$, $x_3$, $x_5$) is covered by
# a single window and receives a single term.

# %% tags=["solution"]
def dilate(a, s):
    out = [sp.S.Zero] * (s * (len(a) - 1) + 1)
    out[::s] = a
    return out


X7 = sp.Matrix(x7)
with sp.evaluate(False):
    strided_input = [
        derivative(L, X7),
        (sp.Matrix([sp.Add(*[g[i] * w[j - 2 * i] for i in range(3) if 0 <= j - 2 * i < 3])
                    for j in range(7)]),
         r"$x_j$ meets $w_{j-2i}$ in output $i$"),
        (sp.Matrix(correlate(pad(dilate(g, 2), 2), flip(w))),
         r"dilate $g$, pad with $k-1$ zeros, correlate with the flipped kernel"),
    ]
prove_chain("conv.stride", *strided_input, where=strided_layer)

# %% [markdown] tags=["solution"]
# The kernel gradient follows the same pattern: $\partial L/\partial w_m = \sum_i g_i\,
# x_{2i+m}$, the correlation of the input with the dilated gradient (5 taps over 7 inputs,
# 3 results):

# %% tags=["solution"]
prove_equal("conv.stride", derivative(L, W), sp.Matrix(correlate(x7, dilate(g, 2))),
            where=strided_layer)

# %% [markdown] tags=["solution"]
# In JAX the strided layer is `conv_general_dilated` with `window_strides=(2,)`. The claimed
# backward pass dilates with `.at[::s].set(g)`, then correlates as before. When $s$ does not
# divide $n - k$, the last $(n - k) \bmod s$ inputs are never read by any window and get
# gradient zero: the dilated gradient then needs that many extra zeros at its end, which the
# check at $n = 8$ covers.

# %% tags=["solution"]
def strided_layer_1d(x, w, s=2):
    return jax.lax.conv_general_dilated(x[None, None], w[None, None], window_strides=(s,),
                                        padding="VALID")[0, 0]


def strided_backward(x, w, g, s=2):
    n, k = x.shape[0], w.shape[0]
    dilated = jnp.zeros(s * (g.shape[0] - 1) + 1 + (n - k) % s).at[:s * g.shape[0]:s].set(g)
    dx = jnp.correlate(jnp.pad(dilated, k - 1), w[::-1], mode="valid")
    dw = jnp.correlate(x, dilated, mode="valid")
    return dx, dw


x_9 = jnp.linspace(-1.0, 1.0, 9)
check_shape("conv.stride", "y for n = 9, k = 3, s = 2: ⌊(9 − 3)/2⌋ + 1",
            strided_layer_1d(x_9, w_1d), (4,))
check_shape("conv.stride", "∂L/∂x from the dilated gradient", strided_backward(
    x_9, w_1d, jnp.ones(4))[0], (9,))
check_vjp("conv.stride", strided_layer_1d, strided_backward, at=(x_9, w_1d),
          at_label="a point of our own", wrt=("x", "w"), label="n = 9")
check_vjp("conv.stride", strided_layer_1d, strided_backward, at=(jnp.linspace(-1.0, 1.0, 8), w_1d),
          at_label="a point of our own", wrt=("x", "w"), label="n = 8")

# %% [markdown] tags=["solution"]
# XLA has the zero insertion built in: `conv_general_dilated` with `lhs_dilation=(2,)`
# inserts one zero between the entries of its input before correlating, a “fractionally
# strided” convolution in Dumoulin and Visin's words. Given $g$, the padding $k - 1$ and the
# flipped kernel, it returns the same input gradient:

# %% tags=["solution"]
g_4 = jnp.array([1.0, -2.0, 0.5, 3.0])
transposed = jax.lax.conv_general_dilated(g_4[None, None], w_1d[::-1][None, None],
                                          window_strides=(1,), padding=((2, 2),),
                                          lhs_dilation=(2,))[0, 0]
check_close("conv.stride", "jax", "the input gradient by explicit dilation and by lhs_dilation",
            transposed, strided_backward(x_9, w_1d, g_4)[0])

# %% [markdown] tags=["solution"]
# ## The same backward pass, derived by machine
#
# Both gradients were derived above as correlations. `derive` regenerates them from the
# forward computation alone. It is given the layer at the worked example, written as in
# `layer_1d` with one shifted slice of the input per tap, $y = w_0\,x_{0:3} + w_1\,x_{1:4} +
# w_2\,x_{2:5}$, where $x_{m:m+3} = (x_m, x_{m+1}, x_{m+2})$ is the window of tap $m$ (and
# each tap $w_m$ a one-entry slice of $w$, squeezed to a number), followed by the linear loss
# $L = \sum_i g_i\,y_i$ with the example's upstream gradient $g$ as fixed weights, so that
# $\partial L/\partial y = g$ exactly. SymPy derives each node's local derivative from its
# formula: a product passes back the upstream gradient times the other factor, and a slice
# puts its gradient back where it read its entries, with zeros elsewhere ("unslice"). The
# backward pass runs node by node, and the flipped kernel appears at the fan-out of $x$: the
# window $x_{m:m+3}$ receives $w_m\,g$, so $x$ collects three copies of $g$, scaled by $w_0$,
# $w_1$, $w_2$ and shifted by 0, 1 and 2 places, and their sum
# $\sum_m w_m\,g_{j-m}$ is the full convolution of $g$ with $w$, the full correlation with the
# flipped kernel. At the fan-out of $w$ each tap collects $\sum_i g_i\,x_{i+m}$ from its
# window. `derive` checks the pass against JAX's backward pass, `jax.grad` and finite
# differences at the example and at seeded points near it, and against the example's printed
# numbers. In the drawing, each of $x$ and $w$ ends in a branch point with one branch per
# slice, and each branch's gradient is written beside it: the three copies of $g$ that $x$
# collects, and the three sums that make the gradient of $w$.

# %% tags=["solution"]
def correlation_loss(x, w, g):
    y = named(w[0] * x[0:3] + w[1] * x[1:4] + w[2] * x[2:5], "y")
    return jnp.sum(g * y)


workbook = derive(correlation_loss, at=dict(x=x0, w=w0, g=g0), wrt=["x", "w"],
                  claim="conv.machine", output="L",
                  printed={"y": ["-3.5", "3", "5"], "x": ["0.5", "0", "-0.5", "5", "-2"],
                           "w": ["6", "-0.5", "-3"]})

# %% [markdown] tags=["solution"]
# The hand results at the same example against the machine's gradients: the upstream gradient
# $g$ that the loss hands the layer; $\partial L/\partial x$ as the correlation of $g$, padded
# with $k - 1 = 2$ zeros, with the flipped kernel (`layer_1d_backward`), and as the full
# convolution `jnp.convolve(g, w, "full")`; and $\partial L/\partial w$ as the valid
# correlation of $x$ with $g$.

# %% tags=["solution"]
hand = [("y", "the upstream gradient g", g0),
        ("x", "correlate(pad(g, 2), flip(w))", dx0),
        ("x", "the full convolution g ∗ w", jnp.convolve(g0, w0, mode="full")),
        ("w", "correlate(x, g)", dw0)]
for name, formula, value in hand:
    check_close("conv.machine", "num", f"∂L/∂{name} by derive and {formula}",
                workbook.grad(name), value)

# %% tags=["solution"]
summary()
