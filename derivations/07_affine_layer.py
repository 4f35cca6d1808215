# %% [markdown] tags=["solution"]
# # 07 · The affine layer $z = Wx + b$
#
# Almost every network is built from affine layers, so their three gradients are the ones a
# backward pass computes most often: the upstream gradient $g = \partial L/\partial z$ is
# passed on to the bias unchanged, to the input through $W^{\mathsf T}$, and to the weights
# as the outer product $g x^{\mathsf T}$.
#
# This notebook follows “Backpropagation” (kang), §9.1–9.5. First SymPy proves the results
# entry by entry, with Kronecker deltas and index sums, as the document does; then it proves
# them as matrix identities for matrices of any size; then JAX and finite differences check
# them at numbers, including the document's small example from §9.5. The last part takes up
# the first of the common bugs listed in §11 of the same post, the forgotten transpose, and
# shows that the checks catch it.

# %%
import sympy as sp
from gradbook import *

verifies("kang.9.affine", "kang.9.example", "kang.11.bugs")

# %% [markdown]
# ## The layer, one entry at a time
#
# Following §9.1, the input $x$ has $d_x$ entries, $W$ is a $d_z \times d_x$ matrix, and the
# bias $b$ and the output $z$ have $d_z$ entries. Entry $i$ of the output is a sum over the
# columns of row $i$ of $W$:
#
# $$z_i = \sum_{l=1}^{d_x} W_{il}\, x_l + b_i .$$
#
# The sizes $d_x$, $d_z$ stay symbolic, and so do the indices; SymPy's indexed objects carry
# the sums.

# %%
d_x, d_z = sp.symbols("d_x d_z", integer=True, positive=True)
i, j, k, l = sp.symbols("i j k l", integer=True, positive=True)

W = sp.IndexedBase("W", shape=(d_z, d_x))
x = sp.IndexedBase("x", shape=(d_x,))
b = sp.IndexedBase("b", shape=(d_z,))
g = sp.IndexedBase("g", shape=(d_z,))


def z(row):
    return sp.Sum(W[row, l] * x[l], (l, 1, d_x)) + b[row]


z(i)

# %% [markdown] tags=["solution"]
# ## The bias: a Kronecker delta
#
# The bias $b_k$ enters only the output entry with the same index, with coefficient one, so
# $\partial z_i / \partial b_k$ is $1$ when $i = k$ and $0$ otherwise: the Kronecker delta
# $\delta_{ik}$ (§9.2).

# %% tags=["solution"]
prove_equal("kang.9.affine", sp.Derivative(z(i), b[k]), sp.KroneckerDelta(i, k), box=False)

# %% [markdown] tags=["solution"]
# ## The input: a question of index ranges
#
# Differentiating $z_i$ with respect to $x_k$ leaves one term of the sum, the one with
# $l = k$, so the answer should be $W_{ik}$ (§9.3). SymPy is more careful than that: it does
# not know that $k$ is one of the summation indices $1, \dots, d_x$, so its answer keeps the
# condition, as a piecewise expression:

# %% tags=["solution"]
evaluate(sp.Derivative(z(i), x[k]))

# %% [markdown] tags=["solution"]
# The condition is simply that the index is in range, which every index of a vector is. We
# state that assumption to SymPy in a form it can use: the indices are positive integers
# (declared above), and every size is written as an index plus a non-negative integer, here
# $d_x = k + s$ with $s \ge 0$. Then $d_x \ge k$ holds by construction, the condition is
# true, and the piecewise expression collapses. The substitution is passed as `where=`, so
# the formula on the page keeps the general size $d_x$.

# %% tags=["solution"]
r, s = sp.symbols("r s", integer=True, nonnegative=True)

prove_equal("kang.9.affine", sp.Derivative(z(i), x[k]), W[i, k], where={d_x: k + s}, box=False)

# %% [markdown] tags=["solution"]
# ## The scalar loss behind an upstream gradient
#
# A scalar loss $L$ reaches the layer only through $z$, and all the backward pass knows of it
# is its gradient $g = \partial L / \partial z$. For the derivation it is enough to take the
# linear loss with that gradient,
#
# $$L = \sum_{m=1}^{d_z} g_m z_m ,$$
#
# whose gradient with respect to $z$ is exactly $g$: whatever $L$ really is, the chain rule
# only uses it through these first derivatives. With it, the gradient with respect to the
# bias collects the deltas, and only the term $m = k$ remains:

# %% tags=["solution"]
m = sp.symbols("m", integer=True, positive=True)
L = sp.Sum(g[m] * z(m), (m, 1, d_z))

prove_chain("kang.9.affine",
            sp.Derivative(L, b[k]),
            sp.Sum(g[m] * sp.Derivative(z(m), b[k]), (m, 1, d_z)),
            sp.Sum(g[m] * sp.KroneckerDelta(m, k), (m, 1, d_z)),
            g[k],
            where={d_z: k + r})

# %% [markdown] tags=["solution"]
# The gradient with respect to the input adds up the contributions of every output entry,
# $\sum_m g_m W_{mk}$. That is entry $k$ of $W^{\mathsf T} g$: the column $k$ of $W$, not the
# row, meets $g$.

# %% tags=["solution"]
prove_chain("kang.9.affine",
            sp.Derivative(L, x[k]),
            sp.Sum(g[m] * sp.Derivative(z(m), x[k]), (m, 1, d_z)),
            sp.Sum(g[m] * W[m, k], (m, 1, d_z)),
            where={d_x: k + s})

# %% [markdown] tags=["solution"]
# ## The weights: only one output entry survives
#
# The weight $W_{ij}$ sits in row $i$, so it touches only the output entry $z_i$, where it
# multiplies $x_j$. In the sum over output entries of §9.4, the derivative of $z_m$ with
# respect to $W_{ij}$ is $\delta_{im}\delta_{jl}$ inside the sum over $l$; the second delta
# picks $l = j$, the first picks $m = i$, and what is left is $g_i x_j$. Both sizes are
# written as index plus a non-negative integer, $d_z = i + r$ and $d_x = j + s$, so that
# SymPy can drop the range conditions at each step.

# %% tags=["solution"]
prove_chain("kang.9.affine",
            sp.Derivative(L, W[i, j]),
            (sp.Sum(g[m] * sp.Derivative(z(m), W[i, j]), (m, 1, d_z)),
             "chain rule through each $z_m$"),
            (sp.Sum(g[m] * sp.Sum(sp.KroneckerDelta(i, m) * sp.KroneckerDelta(j, l) * x[l],
                                  (l, 1, d_x)), (m, 1, d_z)), "$W_{ij}$ appears only in $z_i$"),
            (sp.Sum(g[m] * sp.KroneckerDelta(i, m) * x[j], (m, 1, d_z)),
             "the sum over $l$ keeps $l = j$"),
            (g[i] * x[j], "the sum over $m$ keeps $m = i$"),
            where={d_z: i + r, d_x: j + s})

# %% [markdown] tags=["solution"]
# ## The same results as matrix identities
#
# Entry $(i, j)$ equal to $g_i x_j$ is the definition of the outer product $g x^{\mathsf T}$.
# To prove the three boxed results of §9.2–9.4 directly in matrix form, for every size at
# once, let $W$, $x$, $b$, $g$ be matrix symbols of symbolic sizes ($x$, $b$, $g$ are
# columns) and write the linear loss as a trace,
# $L = \operatorname{tr}\!\big(g^{\mathsf T}(Wx+b)\big)$,
# which is the same number $\sum_m g_m z_m$. SymPy's matrix calculus then differentiates it
# with respect to each matrix.

# %% tags=["solution"]
Wm = sp.MatrixSymbol("W", d_z, d_x)
xm = sp.MatrixSymbol("x", d_x, 1)
bm = sp.MatrixSymbol("b", d_z, 1)
gm = sp.MatrixSymbol("g", d_z, 1)
L_matrix = sp.Trace(gm.T * (Wm * xm + bm))

prove_equal("kang.9.affine", sp.Derivative(L_matrix, bm), gm)

# %% tags=["solution"]
prove_equal("kang.9.affine", sp.Derivative(L_matrix, xm), Wm.T * gm)

# %% tags=["solution"]
prove_equal("kang.9.affine", sp.Derivative(L_matrix, Wm), gm * xm.T)

# %% [markdown] tags=["solution"]
# Each gradient has the shape of the thing it is taken with respect to: $W^{\mathsf T} g$ is
# $(d_x \times d_z)(d_z \times 1) = d_x \times 1$, like $x$, and $g x^{\mathsf T}$ is
# $d_z \times d_x$, like $W$. That bookkeeping is the quickest test of a backward pass, and
# the bug at the end of this notebook fails it.
#
# ## The machine's check
#
# Now the three formulas, written as code, are compared with `jax.vjp` of the forward
# function and with central finite differences of $\langle g, z \rangle$. The layer here is
# deliberately not square, $3 \times 2$, so that $W$ and $W^{\mathsf T}$ cannot be confused;
# the random points that follow have the same shapes.

# %% tags=["solution"]
def affine(W, x, b):
    return W @ x + b


def affine_backward(W, x, b, g):
    return jnp.outer(g, x), W.T @ g, g


W_tall = jnp.array([[1.0, -2.0], [0.5, 3.0], [-1.5, 2.5]])
x_two = jnp.array([0.7, -1.1])
b_three = jnp.array([0.2, -0.4, 1.0])

check_vjp("kang.9.affine", affine, affine_backward, at=(W_tall, x_two, b_three),
          wrt=("W", "x", "b"))

# %%
exercise("kang.9.affine.W",
         r"An affine layer computes $z = Wx + b$, with $x$ a column of $d_x$ entries, $W$ a "
         r"$d_z \times d_x$ matrix and $b$ a column of $d_z$ entries. The upstream gradient "
         r"$g = \partial L/\partial z$ (a column of $d_z$ entries) is known. Find "
         r"$\dfrac{\partial L}{\partial W}$, a $d_z \times d_x$ matrix.",
         of="sum(g * (W @ x + b))", wrt="W", answer="g @ x.T",
         inputs={"W": "d_z × d_x", "x": "d_x × 1", "b": "d_z × 1", "g": "d_z × 1"},
         sizes={"d_z": 3, "d_x": 2}, symbolic_sizes=True,
         example={"W": [[1.0, 2.0], [3.0, 4.0]], "x": [[5.0], [6.0]], "b": [[7.0], [8.0]],
                  "g": [[10.0], [-1.0]]},
         spellings=[r"g x^{\mathsf T}", "jnp.outer(g, x)", r"g_i x_j"],
         same_as=lambda W, x, b, g: affine_backward(W, x, b, g)[0])
exercise("kang.9.affine.x",
         r"For the same layer, find $\dfrac{\partial L}{\partial x}$, a column of $d_x$ entries.",
         of="sum(g * (W @ x + b))", wrt="x", answer="W.T @ g",
         inputs={"W": "d_z × d_x", "x": "d_x × 1", "b": "d_z × 1", "g": "d_z × 1"},
         sizes={"d_z": 3, "d_x": 2}, symbolic_sizes=True,
         example={"W": [[1.0, 2.0], [3.0, 4.0]], "x": [[5.0], [6.0]], "b": [[7.0], [8.0]],
                  "g": [[10.0], [-1.0]]},
         spellings=[r"W^{\mathsf T} g", "W.T @ g", r"\sum_m g_m W_{mk}"],
         same_as=lambda W, x, b, g: affine_backward(W, x, b, g)[1])
exercise("kang.9.affine.b",
         r"For the same layer, find $\dfrac{\partial L}{\partial b}$.",
         of="sum(g * (W @ x + b))", wrt="b", answer="g",
         inputs={"W": "d_z × d_x", "x": "d_x × 1", "b": "d_z × 1", "g": "d_z × 1"},
         sizes={"d_z": 3, "d_x": 2}, symbolic_sizes=True,
         example={"W": [[1.0, 2.0], [3.0, 4.0]], "x": [[5.0], [6.0]], "b": [[7.0], [8.0]],
                  "g": [[10.0], [-1.0]]},
         same_as=lambda W, x, b, g: affine_backward(W, x, b, g)[2])

# %% [markdown] tags=["solution"]
# ## The numeric example of §9.5
#
# The document's example is a $2 \times 2$ layer with integer entries,
# $W = \begin{bmatrix}1&2\\3&4\end{bmatrix}$,
# $x = (5, 6)$, $b = (7, 8)$, and the upstream gradient $g = (10, -1)$. The forward pass
# gives $z = (1\cdot5+2\cdot6+7,\; 3\cdot5+4\cdot6+8) = (24, 47)$:

# %% tags=["solution"]
W_ex = jnp.array([[1.0, 2.0], [3.0, 4.0]])
x_ex = jnp.array([5.0, 6.0])
b_ex = jnp.array([7.0, 8.0])
g_ex = jnp.array([10.0, -1.0])

check_printed("kang.9.example", "z = Wx + b", affine(W_ex, x_ex, b_ex), ["24", "47"])

# %% [markdown] tags=["solution"]
# The backward pass uses the transposed matrix
# $W^{\mathsf T} = \begin{bmatrix}1&3\\2&4\end{bmatrix}$,
# and the three gradients come out as printed: the bias gets $g$ itself, the input gets
# $W^{\mathsf T} g = (10-3,\; 20-4)$, and the weights get the outer product of $g$ with $x$.

# %% tags=["solution"]
dW_ex, dx_ex, db_ex = affine_backward(W_ex, x_ex, b_ex, g_ex)

check_printed("kang.9.example", "Wᵀ", W_ex.T, [["1", "3"], ["2", "4"]])
check_printed("kang.9.example", "∂L/∂b", db_ex, ["10", "-1"])
check_printed("kang.9.example", "∂L/∂x", dx_ex, ["7", "16"])
check_printed("kang.9.example", "∂L/∂W", dW_ex, [["50", "60"], ["-5", "-6"]])

# %% [markdown] tags=["solution"]
# JAX's own vector-Jacobian product, at exactly these numbers and this $g$, agrees with the
# formulas, and so do finite differences:

# %% tags=["solution"]
check_vjp("kang.9.example", affine, affine_backward, at=(W_ex, x_ex, b_ex), cotangent=g_ex,
          wrt=("W", "x", "b"), points=0)

# %% [markdown] tags=["solution"]
# Drawn as a graph, the layer needs a scalar at its end; the linear loss
# $L = \langle g, z\rangle$ used above is that scalar, with the upstream gradient $g$ as one
# more input. The picture shows the matrices' values on the edges and, in red, the three
# gradients of the example: $g x^{\mathsf T}$ on the edge from $W$, $W^{\mathsf T} g$ on the
# edge from $x$, and $g$ itself on the edge from $b$ and on $z$.

# %% tags=["solution"]
def affine_then_upstream(W, x, b, g):
    return jnp.vdot(g, named(affine(W, x, b), "z"))


affine_graph = draw_graph(affine_then_upstream, W_ex, x_ex, b_ex, g_ex, output="L")
affine_graph.check_printed("kang.9.example", values={"z": ["24", "47"]},
                           grads={"z": ["10", "-1"], "b": ["10", "-1"], "x": ["7", "16"],
                                  "W": [["50", "60"], ["-5", "-6"]]})

# %% [markdown] tags=["solution"]
# ## A common bug: the missing transpose
#
# Among the bugs listed in §11 of the post, the first is to pass the gradient back to the
# input as $W g$ instead of $W^{\mathsf T} g$. On the $3 \times 2$ layer the wrong formula
# cannot even be evaluated: $W$ expects a vector of length 2 and $g$ has length 3. The check
# refuses it.

# %% tags=["solution"]
def affine_backward_no_transpose(W, x, b, g):
    return jnp.outer(g, x), W @ g, g


with rejects("kang.11.bugs", "missing transpose, ∂L/∂x = W g, on a 3 × 2 layer"):
    check_vjp("kang.9.affine", affine, affine_backward_no_transpose,
              at=(W_tall, x_two, b_three), wrt=("W", "x", "b"))

# %% [markdown] tags=["solution"]
# SymPy refuses it too, for the same reason, at every size where $d_z \ne d_x$: the two
# sides do not even have the same shape.

# %% tags=["solution"]
with rejects("kang.11.bugs", "missing transpose, ∂L/∂x = W g, as a matrix identity"):
    prove_equal("kang.9.affine", sp.Derivative(L_matrix, xm), Wm * gm)

# %% [markdown] tags=["solution"]
# A square layer is where this bug hides from shape checks, because $W g$ then has the right
# shape. It still has the wrong values: in the §9.5 example, $W g = (10-2,\; 30-4) = (8, 26)$
# instead of $(7, 16)$. (Only for a symmetric $W$ would the two agree, which is why the
# checks also use random matrices.) At the document's own numbers, the value comparison with
# JAX catches it:

# %% tags=["solution"]
with rejects("kang.11.bugs", "missing transpose, ∂L/∂x = W g, on the square layer of §9.5"):
    check_vjp("kang.9.affine", affine, affine_backward_no_transpose,
              at=(W_ex, x_ex, b_ex), cotangent=g_ex, wrt=("W", "x", "b"), points=0)

# %%
summary()
