# %% [markdown]
# # 15 · Scaled dot-product attention and its gradients
#
# In an attention layer each query is compared with every key, the comparisons are turned into
# weights by a softmax, and the output for the query is the weighted average of the values.
# With the queries in the rows of $Q$ ($N \times d$), the keys in the rows of $K$
# ($M \times d$) and the values in the rows of $V$ ($M \times d_v$):
#
# $$S = \frac{Q K^{\mathsf T}}{\sqrt d}, \qquad A = \operatorname{softmax}(S)\ \text{row by row},
# \qquad O = A V .$$
#
# This is Eq. (1) of Vaswani et al., “Attention Is All You Need” (2017), §3.2.1, where $d$ is
# called $d_k$. The paper gives the forward pass only; this notebook derives the backward pass,
# one step at a time from the output back to $Q$, $K$ and $V$, then looks at two things the
# paper adds: the causal mask of §3.2.3 (shown in its Figure 2) and the reason for the factor
# $1/\sqrt d$ (the paragraph on scaling in §3.2.1 and its footnote 4).
#
# Notation: a bar is the gradient of the scalar loss $L$ with respect to a quantity, so
# $\bar A = \partial L/\partial A$, and $G = \bar O$ is the upstream gradient that arrives at the
# output. SymPy proves each step for symbolic sizes where it can and for explicit small ones
# otherwise (each section says which); `jax.vjp` and finite differences check every formula.

# %%
import numpy as np
import sympy as sp
from gradbook import *

verifies("attn.forward", "attn.value_grads", "attn.softmax_backward", "attn.query_key_grads",
         "attn.backward", "attn.mask", "attn.scaling", "attn.machine")

# %% [markdown]
# ## The forward pass, and a worked example
#
# The softmax is taken along each row, over the keys, so each query gets its own probability
# distribution. It is written in the stable form of notebook 11, with the row's largest score
# subtracted first; that changes nothing in exact arithmetic but keeps the exponentials finite.

# %%
def scores(Q, K):
    return Q @ K.T / jnp.sqrt(Q.shape[-1])


def row_softmax(S):
    e = jnp.exp(S - jnp.max(S, axis=-1, keepdims=True))
    return e / jnp.sum(e, axis=-1, keepdims=True)


def attention(Q, K, V):
    return row_softmax(scores(Q, K)) @ V


# %% [markdown]
# Our worked example has three queries and three keys of width $d = 2$, and values of width
# $d_v = 2$:
#
# $$Q = \begin{bmatrix} 1 & 0 \\ 0.5 & 1 \\ -1 & 1 \end{bmatrix},\quad
# K = \begin{bmatrix} 1 & 0.5 \\ -0.5 & 1 \\ 0 & -1 \end{bmatrix},\quad
# V = \begin{bmatrix} 1 & 0 \\ 0 & 2 \\ -1 & 1 \end{bmatrix}.$$
#
# To four decimals the attention weights and the output are
#
# $$A = \begin{bmatrix} 0.5437 & 0.1882 & 0.2681 \\ 0.4805 & 0.4027 & 0.1168 \\
# 0.1720 & 0.7073 & 0.1207 \end{bmatrix},\qquad
# O = \begin{bmatrix} 0.2756 & 0.6446 \\ 0.3637 & 0.9221 \\ 0.0512 & 1.5353 \end{bmatrix}.$$
#
# The first query is most similar to the first key and puts about half its weight there; the
# third query leans on the second key, so its output is pulled towards the second value,
# $(0, 2)$.

# %%
Q_ex = jnp.array([[1.0, 0.0], [0.5, 1.0], [-1.0, 1.0]])
K_ex = jnp.array([[1.0, 0.5], [-0.5, 1.0], [0.0, -1.0]])
V_ex = jnp.array([[1.0, 0.0], [0.0, 2.0], [-1.0, 1.0]])
S_ex = scores(Q_ex, K_ex)
A_ex = row_softmax(S_ex)
O_ex = A_ex @ V_ex

check_printed("attn.forward", "A", A_ex, [["0.5437", "0.1882", "0.2681"],
                                         ["0.4805", "0.4027", "0.1168"],
                                         ["0.1720", "0.7073", "0.1207"]])
check_printed("attn.forward", "O = A V", O_ex, [["0.2756", "0.6446"], ["0.3637", "0.9221"],
                                               ["0.0512", "1.5353"]])
A_ex, O_ex

# %% [markdown]
# The shapes follow from the definition: $S$ and $A$ have one row per query and one column per
# key, $N \times M$, and $O$ has one row per query and the width of the values, $N \times d_v$.
# In the example every size is 2 or 3, so the shapes are checked again on a layer where all four
# sizes differ: $N = 2$ queries, $M = 4$ keys, $d = 3$, $d_v = 5$.

# %%
check_shape("attn.forward", "A at the worked example (N × M)", A_ex, (3, 3))
check_shape("attn.forward", "O at the worked example (N × d_v)", O_ex, (3, 2))

rng = np.random.default_rng(15)
Q_r, K_r, V_r = (jnp.asarray(rng.standard_normal(shape)) for shape in [(2, 3), (4, 3), (4, 5)])
check_shape("attn.forward", "A for N = 2, M = 4 (N × M)", row_softmax(scores(Q_r, K_r)), (2, 4))
check_shape("attn.forward", "O for N = 2, M = 4, d_v = 5 (N × d_v)", attention(Q_r, K_r, V_r),
            (2, 5))

# %% [markdown] tags=["solution"]
# ## Step 1 of the backward pass: $O = AV$
#
# The last operation is an ordinary matrix product, so its two gradients are those of notebook
# 08: $\bar V = A^{\mathsf T} G$ and $\bar A = G V^{\mathsf T}$. As there, the loss may be
# replaced by the linear loss $L = \operatorname{tr}(G^{\mathsf T} A V)$, whose gradient with
# respect to $O$ is exactly $G$: the chain rule uses nothing of $L$ beyond that. With matrix
# symbols of symbolic sizes $N$, $M$, $d_v$:

# %% tags=["solution"]
N, M, d, d_v = sp.symbols("N M d d_v", integer=True, positive=True)
A = sp.MatrixSymbol("A", N, M)
V = sp.MatrixSymbol("V", M, d_v)
G = sp.MatrixSymbol("G", N, d_v)
L_output = sp.Trace(G.T * A * V)

prove_equal("attn.value_grads", sp.Derivative(L_output, V), A.T * G)

# %% tags=["solution"]
prove_equal("attn.value_grads", sp.Derivative(L_output, A), G * V.T)

# %% [markdown] tags=["solution"]
# Each value row $j$ receives the upstream gradients of all queries, weighted by how much each
# query attended to key $j$. Against `jax.vjp` of the product, at the worked example with the
# upstream gradient
# $G = \begin{bmatrix} 1 & 0.5 \\ 0 & -1 \\ 0.5 & 1 \end{bmatrix}$, and at seeded random
# matrices:

# %% tags=["solution"]
def mix(A, V):
    return A @ V


G_ex = jnp.array([[1.0, 0.5], [0.0, -1.0], [0.5, 1.0]])
check_vjp("attn.value_grads", mix, lambda A, V, G: (G @ V.T, A.T @ G), at=(A_ex, V_ex),
          cotangent=G_ex, wrt=("A", "V"), at_label="the worked example")

# %% [markdown] tags=["solution"]
# ## Step 2: the softmax, one row at a time
#
# Row $i$ of $A$ depends only on row $i$ of $S$, so the backward pass through the softmax works
# row by row. Within a row with weights $a_j$ and incoming gradients $\bar a_j$, the chain rule
# sums over the weights, and the softmax Jacobian of notebook 11,
# $\partial a_j/\partial s_k = a_j\delta_{jk} - a_j a_k$, does the rest. The delta keeps the term
# $j = k$, and $a_k$ factors out:
#
# $$\bar s_k = a_k\Big(\bar a_k - \sum_j \bar a_j a_j\Big).$$
#
# SymPy proves it for a row of symbolic length $n$, with $a(j)$ standing for
# $e^{s_j}/\sum_l e^{s_l}$ (and $n = k + r$, $r \ge 0$, so that $k$ is a valid index):

# %% tags=["solution"]
n = sp.symbols("n", integer=True, positive=True)
j, k, l, t = sp.symbols("j k l t", integer=True, positive=True)
r = sp.symbols("r", integer=True, nonnegative=True)
s = sp.IndexedBase("s", shape=(n,), real=True)
a_bar = sp.IndexedBase(r"\bar{a}", shape=(n,), real=True)
a = sp.Function("a")
weights = {a: sp.Lambda(t, sp.exp(s[t]) / sp.Sum(sp.exp(s[l]), (l, 1, n)))}

with sp.evaluate(False):  # the summands as written; the sums are built outside
    chain_term = a_bar[j] * (a(j) * sp.KroneckerDelta(j, k) - a(j) * a(k))
    weighted = a_bar[j] * a(j)
row_loss = sp.Sum(weighted, (j, 1, n))
chain_rule_sum = sp.Sum(chain_term, (j, 1, n))
with sp.evaluate(False):
    row_backward = [
        sp.Derivative(row_loss, s[k]),
        (chain_rule_sum, "the softmax Jacobian (notebook 11)"),
        (a_bar[k] * a(k) - a(k) * row_loss, r"the delta keeps $j = k$"),
        a(k) * (a_bar[k] - row_loss),
    ]
prove_chain("attn.softmax_backward", *row_backward, where={**weights, n: k + r},
            lhs=r"\bar s_k")

# %% [markdown] tags=["solution"]
# Stacking the rows, with $\operatorname{rowsum}$ the sum across the keys (one number per
# query, broadcast back along the row):
#
# $$\bar S = A \odot \big(\bar A - \operatorname{rowsum}(\bar A \odot A)\big).$$
#
# As a matrix identity SymPy proves it for an explicit $2 \times 3$ block of scores: the left
# side differentiates $\ell = \sum_{ij} \bar a_{ij} a_{ij}$ with every $a_{ij}$ the softmax of
# row $i$ written out, the right side is the formula.

# %% tags=["solution"]
def entries(name, rows, cols, **assumptions):
    return sp.Matrix(rows, cols, lambda i, c: sp.Symbol(f"{name}_{{{i + 1}{c + 1}}}",
                                                        **assumptions))


S_23 = entries("s", 2, 3, real=True)
A_23 = entries("a", 2, 3, positive=True)
Abar_23 = entries(r"\bar{a}", 2, 3, real=True)
ell = sp.Symbol(r"\ell")
block = {ell: sum(Abar_23.multiply_elementwise(A_23)),
         **{A_23[i, c]: sp.exp(S_23[i, c]) / sum(sp.exp(S_23[i, q]) for q in range(3))
            for i in range(2) for c in range(3)}}
with sp.evaluate(False):
    formula = sp.Matrix(2, 3, lambda i, c: A_23[i, c] * (
        Abar_23[i, c] - sp.Add(*[Abar_23[i, q] * A_23[i, q] for q in range(3)])))
prove_equal("attn.softmax_backward", derivative(ell, S_23), formula, where=block,
            lhs=r"\bar S", shown=r"\bar S = A \odot \big(\bar A - \operatorname{rowsum}(\bar A "
                                r"\odot A)\big)\quad\text{(at size } 2 \times 3\text{)}")

# %% [markdown] tags=["solution"]
# Every row of $\bar S$ adds up to zero, $\sum_k a_k\bar a_k - \big(\sum_j \bar a_j a_j\big)
# \sum_k a_k = 0$ because the weights add up to one: adding a constant to a row of scores leaves
# the weights unchanged, so no gradient flows in that direction. For the first row of the block:

# %% tags=["solution"]
prove_equal("attn.softmax_backward", sp.Add(*formula[0, :]), 0, where=block, box=False)

# %% [markdown] tags=["solution"]
# Against `jax.vjp` of the row-wise softmax, at the example's scores with the incoming
# gradient $\bar A = G V^{\mathsf T}$ from step 1, and at seeded random $2 \times 4$ blocks (more
# keys than queries, so that summing along the wrong axis could not go unnoticed):

# %% tags=["solution"]
def softmax_backward(S, A_bar):
    A = row_softmax(S)
    return A * (A_bar - jnp.sum(A_bar * A, axis=-1, keepdims=True))


Abar_ex = G_ex @ V_ex.T
check_vjp("attn.softmax_backward", row_softmax, softmax_backward, at=(S_ex,),
          cotangent=Abar_ex, at_label="the worked example")
check_vjp("attn.softmax_backward", row_softmax, softmax_backward, at=None, points=3,
          sample=lambda rng: (jnp.asarray(rng.standard_normal((2, 4))),), label="2 × 4 blocks")

# %% [markdown] tags=["solution"]
# ## Step 3: the scores $S = QK^{\mathsf T}/\sqrt d$
#
# The scores are again a matrix product, now with a constant factor. With
# $L = \operatorname{tr}(\bar S^{\mathsf T} S)$, the linear loss whose gradient with respect to
# $S$ is $\bar S$, SymPy proves both gradients for symbolic $N$, $M$ and $d$:

# %% tags=["solution"]
Q = sp.MatrixSymbol("Q", N, d)
K = sp.MatrixSymbol("K", M, d)
S_bar = sp.MatrixSymbol(r"\bar{S}", N, M)
L_scores = sp.Trace(S_bar.T * (Q * K.T / sp.sqrt(d)))

prove_equal("attn.query_key_grads", sp.Derivative(L_scores, Q), S_bar * K / sp.sqrt(d))

# %% tags=["solution"]
prove_equal("attn.query_key_grads", sp.Derivative(L_scores, K), S_bar.T * Q / sp.sqrt(d))

# %% [markdown] tags=["solution"]
# The keys' gradient uses $\bar S^{\mathsf T}$ because a key is a column of $S$ (it meets every
# query), while a query is a row. Both carry the same $1/\sqrt d$ as the forward pass. Against
# `jax.vjp` at the worked example, with $\bar S$ from step 2 as the incoming gradient:

# %% tags=["solution"]
Sbar_ex = softmax_backward(S_ex, Abar_ex)
check_vjp("attn.query_key_grads", scores,
          lambda Q, K, S_bar: (S_bar @ K / jnp.sqrt(Q.shape[-1]),
                               S_bar.T @ Q / jnp.sqrt(Q.shape[-1])),
          at=(Q_ex, K_ex), cotangent=Sbar_ex, wrt=("Q", "K"), at_label="the worked example")

# %% [markdown] tags=["solution"]
# ## The whole layer
#
# Chaining the three steps gives the backward pass of attention: from $G$ to $\bar V$ and
# $\bar A$, through the row-wise softmax to $\bar S$, and through the scores to $\bar Q$ and
# $\bar K$. Written as code:

# %% tags=["solution"]
def attention_backward(Q, K, V, G):
    A = row_softmax(scores(Q, K))
    V_bar = A.T @ G
    A_bar = G @ V.T
    S_bar = A * (A_bar - jnp.sum(A_bar * A, axis=-1, keepdims=True))
    Q_bar = S_bar @ K / jnp.sqrt(Q.shape[-1])
    K_bar = S_bar.T @ Q / jnp.sqrt(Q.shape[-1])
    return Q_bar, K_bar, V_bar


# %% [markdown] tags=["solution"]
# That the composition is right is proven by SymPy for one explicit layer: $N = 2$ queries,
# $M = 3$ keys, $d = 2$, $d_v = 2$, every entry a separate symbol, so that a misplaced
# transpose would change the entries even where the shapes happen to fit. The loss is $\mathcal L = \sum_{ij} G_{ij} O_{ij}$, with $O$ written
# out in full from $Q$, $K$ and $V$; the right sides use the matrices $A$ and
# $\bar S = A \odot (GV^{\mathsf T} - \operatorname{rowsum}(GV^{\mathsf T} \odot A))$ of
# these symbols.

# %% tags=["solution"]
Qx, Kx = entries("q", 2, 2, real=True), entries("k", 3, 2, real=True)
Vx, Gx = entries("v", 3, 2, real=True), entries("g", 2, 2, real=True)
Sx = Qx * Kx.T / sp.sqrt(2)
Ax = sp.Matrix(2, 3, lambda i, c: sp.exp(Sx[i, c]) / sum(sp.exp(Sx[i, q]) for q in range(3)))
Abar_x = Gx * Vx.T
Sbar_x = sp.Matrix(2, 3, lambda i, c: Ax[i, c] * (
    Abar_x[i, c] - sum(Abar_x[i, q] * Ax[i, q] for q in range(3))))

L_layer = sp.Symbol(r"\mathcal{L}")
A_m, G_m, V_m = sp.MatrixSymbol("A", 2, 3), sp.MatrixSymbol("G", 2, 2), sp.MatrixSymbol("V", 3, 2)
Q_m, K_m, Sbar_m = sp.MatrixSymbol("Q", 2, 2), sp.MatrixSymbol("K", 3, 2), sp.MatrixSymbol(
    r"\bar{S}", 2, 3)
layer = {L_layer: sum(Gx.multiply_elementwise(Ax * Vx)), d: 2,
         **{m: sp.ImmutableMatrix(x) for m, x in
            [(A_m, Ax), (G_m, Gx), (V_m, Vx), (Q_m, Qx), (K_m, Kx), (Sbar_m, Sbar_x)]}}

prove_equal("attn.backward", derivative(L_layer, Vx), A_m.T * G_m, where=layer, lhs=r"\bar V")

# %% tags=["solution"]
prove_equal("attn.backward", derivative(L_layer, Qx), Sbar_m * K_m / sp.sqrt(d), where=layer,
            lhs=r"\bar Q")

# %% tags=["solution"]
prove_equal("attn.backward", derivative(L_layer, Kx), Sbar_m.T * Q_m / sp.sqrt(d), where=layer,
            lhs=r"\bar K")

# %% [markdown] tags=["solution"]
# Numerically, the whole backward pass is compared with `jax.vjp` of the attention function and
# with central differences of $\langle G, O\rangle$, at the worked example and at seeded random
# layers with $N = 2$, $M = 4$, $d = 3$, $d_v = 5$:

# %% tags=["solution"]
check_vjp("attn.backward", attention, attention_backward, at=(Q_ex, K_ex, V_ex),
          cotangent=G_ex, wrt=("Q", "K", "V"), at_label="the worked example")
check_vjp("attn.backward", attention, attention_backward, at=None, points=3,
          wrt=("Q", "K", "V"), label="N = 2, M = 4, d = 3, d_v = 5",
          sample=lambda rng: tuple(jnp.asarray(rng.standard_normal(shape))
                                   for shape in [(2, 3), (4, 3), (4, 5)]))

# %% [markdown] tags=["solution"]
# At the worked example, to four decimals,
#
# $$\bar Q = \begin{bmatrix} 0.1278 & 0.3389 \\ 0.4668 & -0.1438 \\ -0.2388 & 0.2457
# \end{bmatrix},\quad
# \bar K = \begin{bmatrix} 0.4403 & 0.1843 \\ -0.3195 & -0.0873 \\ -0.1207 & -0.0970
# \end{bmatrix},\quad
# \bar V = \begin{bmatrix} 0.6297 & -0.0367 \\ 0.5419 & 0.3988 \\ 0.3284 & 0.1380
# \end{bmatrix}.$$

# %% tags=["solution"]
Qbar_ex, Kbar_ex, Vbar_ex = attention_backward(Q_ex, K_ex, V_ex, G_ex)
check_printed("attn.backward", "Q̄", Qbar_ex, [["0.1278", "0.3389"], ["0.4668", "-0.1438"],
                                              ["-0.2388", "0.2457"]])
check_printed("attn.backward", "K̄", Kbar_ex, [["0.4403", "0.1843"], ["-0.3195", "-0.0873"],
                                              ["-0.1207", "-0.0970"]])
check_printed("attn.backward", "V̄", Vbar_ex, [["0.6297", "-0.0367"], ["0.5419", "0.3988"],
                                              ["0.3284", "0.1380"]])

# %%
exercise("attn.value_grads.V",
         r"An attention layer computes $O = A V$ with the weights "
         r"$A = \operatorname{softmax}(Q K^{\mathsf T}/\sqrt d)$ taken row by row. The upstream "
         r"gradient is $G = \partial L/\partial O$. Find $\partial L/\partial V$.",
         of="sum(G * (A @ V))", wrt="V", answer="A.T @ G",
         inputs={"Q": "N × d", "K": "M × d", "V": "M × e", "G": "N × e"},
         sizes={"N": 3, "M": 3, "d": 2, "e": 2},
         where={"A": "softmax(Q @ K.T / sqrt(d), axis=1)"},
         example={"Q": [[1.0, 0.0], [0.5, 1.0], [-1.0, 1.0]],
                  "K": [[1.0, 0.5], [-0.5, 1.0], [0.0, -1.0]],
                  "V": [[1.0, 0.0], [0.0, 2.0], [-1.0, 1.0]],
                  "G": [[1.0, 0.5], [0.0, -1.0], [0.5, 1.0]]},
         spellings=["A.T @ G", r"A^{\mathsf T} G"],
         same_as=lambda Q, K, V, G: attention_backward(Q, K, V, G)[2])

# %%
exercise("attn.query_key_grads.Q",
         r"For the same layer, find $\partial L/\partial Q$, the gradient with respect to the "
         r"queries, through the row-wise softmax and the scaled scores "
         r"$S = Q K^{\mathsf T}/\sqrt d$.",
         of="sum(G * (A @ V))", wrt="Q",
         answer="(A * (G @ V.T - sum(A * (G @ V.T), axis=1, keepdims=True))) @ K / sqrt(d)",
         inputs={"Q": "N × d", "K": "M × d", "V": "M × e", "G": "N × e"},
         sizes={"N": 3, "M": 3, "d": 2, "e": 2},
         where={"A": "softmax(Q @ K.T / sqrt(d), axis=1)"},
         example={"Q": [[1.0, 0.0], [0.5, 1.0], [-1.0, 1.0]],
                  "K": [[1.0, 0.5], [-0.5, 1.0], [0.0, -1.0]],
                  "V": [[1.0, 0.0], [0.0, 2.0], [-1.0, 1.0]],
                  "G": [[1.0, 0.5], [0.0, -1.0], [0.5, 1.0]]},
         mistakes={"(A * (G @ V.T - sum(A * (G @ V.T), axis=1, keepdims=True))) @ K":
                   "The scores are scaled by 1/sqrt(d) on the way forward, so the gradient that "
                   "flows back through them is scaled by it too; it is missing here."},
         spellings=["S_bar @ K / jnp.sqrt", r"\bar S K/\sqrt d"],
         same_as=lambda Q, K, V, G: attention_backward(Q, K, V, G)[0])

# %% [markdown] tags=["solution"]
# ## A common mistake: forgetting $1/\sqrt d$ in the backward pass
#
# The scaling is easy to treat as part of the forward pass only. Leaving it out of $\bar Q$ and
# $\bar K$ makes both too large by $\sqrt d$, here $\sqrt 2$; the check rejects it at the worked
# example:

# %% tags=["solution"]
def attention_backward_unscaled(Q, K, V, G):
    A = row_softmax(scores(Q, K))
    A_bar = G @ V.T
    S_bar = A * (A_bar - jnp.sum(A_bar * A, axis=-1, keepdims=True))
    return S_bar @ K, S_bar.T @ Q, A.T @ G


with rejects("attn.backward", "Q̄ = S̄ K and K̄ = S̄ᵀ Q, without the factor 1/√d"):
    check_vjp("attn.backward", attention, attention_backward_unscaled, at=(Q_ex, K_ex, V_ex),
              cotangent=G_ex, wrt=("Q", "K", "V"), points=0, at_label="the worked example")

# %% [markdown] tags=["solution"]
# ## The causal mask
#
# In a decoder, position $i$ may only look at positions $j \le i$ (§3.2.3 of the paper). The
# paper implements this inside the attention by setting the scores of the forbidden pairs to
# $-\infty$ before the softmax: $e^{-\infty} = 0$, so those keys get weight exactly zero and the
# rest of the row is a softmax over the allowed keys. In code the mask is added to the scores;
# a large negative number such as $-10^9$ would do the same in float64, since $e^{-10^9}$
# underflows to 0. Every row keeps at least its diagonal entry, so no row is all $-\infty$
# (which would give $0/0$).

# %% tags=["solution"]
def causal_mask(N, M):
    later = jnp.arange(M)[None, :] > jnp.arange(N)[:, None]
    return jnp.where(later, -jnp.inf, 0.0)


def causal_attention(Q, K, V):
    S = scores(Q, K) + causal_mask(Q.shape[0], K.shape[0])
    return row_softmax(S) @ V


# %% [markdown] tags=["solution"]
# At the worked example the first query now sees only the first key, so its output is the
# first value, $(1, 0)$; the second query splits its attention between the first two keys,
# $(0.5441,\ 0.4559,\ 0)$; the third row is unchanged.

# %% tags=["solution"]
A_causal = row_softmax(S_ex + causal_mask(3, 3))
A_large_negative = row_softmax(S_ex + jnp.where(causal_mask(3, 3) < 0, -1e9, 0.0))
check_that("attn.mask", "num", bool(jnp.all(A_large_negative == A_causal)),
           "a mask of −10⁹ instead of −∞ gives the same weights, bit for bit")
check_printed("attn.mask", "A with the causal mask", A_causal,
              [["1.0000", "0.0000", "0.0000"], ["0.5441", "0.4559", "0.0000"],
               ["0.1720", "0.7073", "0.1207"]])
A_causal

# %% [markdown] tags=["solution"]
# What does the mask do to the gradient? SymPy answers it in the limit, for one row of three
# scores with the last one pushed down by $\mu$ and $\mu \to \infty$. The masked weight goes to
# zero, the other two become the softmax of the unmasked scores alone, and the gradient of the
# row's loss $\ell = \sum_j \bar a_j a_j$ with respect to the masked score goes to zero, since
# by step 2 it is the masked weight times a bounded bracket.

# %% tags=["solution"]
s_row = sp.symbols("s1:4", real=True)
a_row = sp.symbols("a1:4", positive=True)
abar_row = sp.symbols(r"\bar{a}_1:4", real=True)
mu = sp.symbols("mu", positive=True)
exps_row = [sp.exp(s_row[0]), sp.exp(s_row[1]), sp.exp(s_row[2] - mu)]
ell_row = sp.Symbol(r"\ell")
masked_row = {ell_row: sum(ab * a for ab, a in zip(abar_row, a_row)),
              **{a_row[q]: exps_row[q] / sum(exps_row) for q in range(3)}}

prove_equal("attn.mask", sp.Limit(a_row[2], mu, sp.oo), 0, where=masked_row)

# %% tags=["solution"]
prove_equal("attn.mask", sp.Limit(a_row[0], mu, sp.oo),
            sp.exp(s_row[0]) / (sp.exp(s_row[0]) + sp.exp(s_row[1])), where=masked_row)

# %% tags=["solution"]
with sp.evaluate(False):
    masked_gradient = [
        sp.Limit(sp.Derivative(ell_row, s_row[2]), mu, sp.oo),
        (sp.Limit(a_row[2] * (abar_row[2] - sp.Add(*[ab * a for ab, a in zip(abar_row, a_row)])),
                  mu, sp.oo), "step 2"),
        (0, r"$a_3 \to 0$, the bracket stays bounded"),
    ]
prove_chain("attn.mask", *masked_gradient, where=masked_row)

# %% [markdown] tags=["solution"]
# With $-\infty$ itself the masked weights are exactly 0, so by step 2 the entries of $\bar S$
# at masked positions are exactly 0 too, and the backward formulas need no change: they only
# have to use the masked $A$. In particular no gradient reaches a key or a value from a query
# that may not see it. Here is `jax.grad` with respect to the scores, at the worked example:

# %% tags=["solution"]
def masked_loss_of_scores(S, V, G):
    return jnp.sum(G * (row_softmax(S + causal_mask(3, 3)) @ V))


S_bar_masked = jax.jit(jax.grad(masked_loss_of_scores))(S_ex, V_ex, G_ex)
upper = np.triu_indices(3, k=1)
check_that("attn.mask", "jax", bool(jnp.all(S_bar_masked[upper] == 0.0)),
           f"jax.grad puts exactly 0 on the masked scores: {S_bar_masked[upper].tolist()}")

# %% [markdown] tags=["solution"]
# And the output of the first query does not depend on the second and third keys or values at
# all: its Jacobian with respect to them is exactly zero.

# %% tags=["solution"]
_, dO_dK, dO_dV = jax.jit(jax.jacobian(causal_attention, argnums=(0, 1, 2)))(Q_ex, K_ex, V_ex)
check_that("attn.mask", "jax",
           bool(jnp.all(dO_dK[0, :, 1:, :] == 0.0) and jnp.all(dO_dV[0, :, 1:, :] == 0.0)),
           "∂O₁/∂K and ∂O₁/∂V vanish exactly for keys and values 2 and 3")

# %% [markdown] tags=["solution"]
# The backward pass of the unmasked layer, with the masked $A$ in place of $A$, agrees with
# `jax.vjp` of the masked layer and with finite differences, at the worked example and at
# seeded random layers of the same size:

# %% tags=["solution"]
def causal_attention_backward(Q, K, V, G):
    A = row_softmax(scores(Q, K) + causal_mask(Q.shape[0], K.shape[0]))
    A_bar = G @ V.T
    S_bar = A * (A_bar - jnp.sum(A_bar * A, axis=-1, keepdims=True))
    return S_bar @ K / jnp.sqrt(Q.shape[-1]), S_bar.T @ Q / jnp.sqrt(Q.shape[-1]), A.T @ G


check_vjp("attn.mask", causal_attention, causal_attention_backward, at=(Q_ex, K_ex, V_ex),
          cotangent=G_ex, wrt=("Q", "K", "V"), at_label="the worked example")

# %% [markdown] tags=["solution"]
# ## Why divide by $\sqrt d$
#
# Footnote 4 of the paper gives the reason. If the entries of $q$ and $k$ are independent with
# mean 0 and variance 1, each product $q_i k_i$ has mean 0 and variance 1, and the $d$ of them
# add up: $q \cdot k$ has variance $d$. Wide keys therefore give large scores, a softmax over
# large scores puts almost all its weight on one key, and there its Jacobian
# $\operatorname{diag}(a) - a a^{\mathsf T}$ is almost zero, so little gradient flows back
# (step 2). Dividing by $\sqrt d$ brings the variance back to 1 for every $d$.
#
# We measure it with a seeded generator, for $d = 4, 16, 64, 256$: 2000 queries, each with 16
# keys, all entries standard normal. For each $d$ we record the variance of $q \cdot k$ divided
# by $d$, the mean largest weight of a query's softmax, and the median size (Frobenius norm) of
# its softmax Jacobian, without and with the scaling. Stated before measuring:
#
# - the variance of $q\cdot k$ is $d$ to within 10% for every $d$ (with $32\,000$ scores per
#   $d$ the sampling error is a few percent);
# - without scaling, the mean largest weight grows with $d$ and exceeds 0.85 at $d = 256$, and
#   the median Jacobian there is below a tenth of its scaled counterpart;
# - with scaling, the mean largest weight stays within 0.05 of its value at $d = 4$.

# %% tags=["solution"]
n_queries, n_keys, dims = 2000, 16, [4, 16, 64, 256]
generator = np.random.default_rng(2017)


@jax.jit
def saturation(S):
    """For rows of scores: the mean largest weight, and the median Frobenius norm of the
    softmax Jacobian diag(a) − a aᵀ."""
    A = row_softmax(S)
    J = A[..., :, None] * jnp.eye(A.shape[-1]) - A[..., :, None] * A[..., None, :]
    return jnp.mean(jnp.max(A, axis=-1)), jnp.median(jnp.sqrt(jnp.sum(J ** 2, axis=(-2, -1))))


variance_ratio, largest_raw, largest_scaled, jac_raw, jac_scaled = [], [], [], [], []
for d_k in dims:
    q = generator.standard_normal((n_queries, 1, d_k))
    keys = generator.standard_normal((n_queries, n_keys, d_k))
    dots = jnp.asarray(np.sum(q * keys, axis=-1))  # one row of 16 scores per query
    variance_ratio.append(float(jnp.var(dots)) / d_k)
    for largest, jac, S in [(largest_raw, jac_raw, dots),
                            (largest_scaled, jac_scaled, dots / np.sqrt(d_k))]:
        mean_largest, median_jac = saturation(S)
        largest.append(float(mean_largest))
        jac.append(float(median_jac))

# %% tags=["solution"]
def listed(values, digits=3):
    return ", ".join(f"{v:.{digits}f}" for v in values)


check_that("attn.scaling", "measured", all(abs(v - 1) <= 0.1 for v in variance_ratio),
           f"Var(q·k)/d for d = 4, 16, 64, 256: {listed(variance_ratio)} (bound: within 0.1 of 1)")
check_that("attn.scaling", "measured",
           all(x < y for x, y in zip(largest_raw, largest_raw[1:])) and largest_raw[-1] > 0.85,
           f"without scaling, the mean largest weight grows: {listed(largest_raw)} "
           "(bound: increasing, above 0.85 at d = 256)")
check_that("attn.scaling", "measured", jac_raw[-1] < 0.1 * jac_scaled[-1],
           f"median ‖∂a/∂s‖ at d = 256: {jac_raw[-1]:.4f} without scaling, "
           f"{jac_scaled[-1]:.4f} with it (bound: below a tenth)")
check_that("attn.scaling", "measured",
           all(abs(v - largest_scaled[0]) <= 0.05 for v in largest_scaled),
           f"with scaling, the mean largest weight stays put: {listed(largest_scaled)} "
           "(bound: within 0.05 of its value at d = 4)")

# %% [markdown] tags=["solution"]
# The same measurements as a picture. Without the scaling the softmax drifts towards a hard
# maximum as the keys get wider, and its Jacobian, the factor every gradient to $Q$ and $K$ has
# to pass through, collapses; with it, neither depends on $d$.

# %% tags=["solution"]
import matplotlib.pyplot as plt

fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3))
for ax, raw, scaled, title in [(left, largest_raw, largest_scaled, "mean largest weight"),
                               (right, jac_raw, jac_scaled, "median size of ∂a/∂s")]:
    ax.plot(dims, raw, "o-", label="q·k")
    ax.plot(dims, scaled, "s-", label="q·k / √d")
    ax.set_xscale("log", base=2)
    ax.set_xticks(dims, [str(v) for v in dims])
    ax.set_xlabel("d")
    ax.set_title(title)
right.legend()
show_figure(fig, "mean largest softmax weight and median softmax-Jacobian size against d, "
                 "with and without the 1/√d scaling")

# %% [markdown] tags=["solution"]
# ## The same backward pass, derived by machine
#
# The three steps of the backward pass were derived by hand above. `derive` regenerates them
# from the forward computation alone: `scores`, `row_softmax` and the product with $V$, written
# out in one function so that $S$, the exponentials $e$, $A$ and $O$ carry their names,
# followed by the linear loss $L = \sum_{ij} G_{ij} O_{ij}$ with the example's upstream
# gradient $G$ as fixed weights, so that $\partial L/\partial O = G$ exactly. SymPy derives
# every node's local derivative from its formula and the backward pass runs node by node. The
# tables include the path through the row maximum that the stable softmax subtracts: its
# gradient is zero up to rounding, as it must be, since the shift changes nothing. `derive`
# proves the gradient rules of the two matrix products entry by entry with SymPy, and checks
# the whole pass against JAX's backward pass, `jax.grad` and finite differences at the worked
# example and at seeded points near it. In the drawing, $\sqrt d$ is a node of its own and
# the $3 \times 3$ edges show only their shape.

# %% tags=["solution"]
def attention_loss(Q, K, V, G):
    S = named(Q @ K.T / jnp.sqrt(Q.shape[-1]), "S")
    e = named(jnp.exp(S - jnp.max(S, axis=-1, keepdims=True)), "e")
    A = named(e / jnp.sum(e, axis=-1, keepdims=True), "A")
    O = named(A @ V, "O")
    return jnp.sum(G * O)


workbook = derive(attention_loss, at=dict(Q=Q_ex, K=K_ex, V=V_ex, G=G_ex),
                  wrt=["Q", "K", "V"], claim="attn.machine", output="L")

# %% [markdown] tags=["solution"]
# The hand results of steps 1 to 3 at the same example, against the machine's gradients:
# $\bar A = G V^{\mathsf T}$ and $\bar V = A^{\mathsf T} G$,
# $\bar S = A \odot (\bar A - \operatorname{rowsum}(\bar A \odot A))$, and
# $\bar Q = \bar S K/\sqrt d$, $\bar K = \bar S^{\mathsf T} Q/\sqrt d$.

# %% tags=["solution"]
hand = [("O", "the upstream gradient G", G_ex),
        ("A", "G Vᵀ", G_ex @ V_ex.T),
        ("V", "Aᵀ G", A_ex.T @ G_ex),
        ("S", "A ⊙ (Ā − rowsum(Ā ⊙ A))", softmax_backward(S_ex, G_ex @ V_ex.T)),
        ("Q", "S̄ K/√d", Qbar_ex),
        ("K", "S̄ᵀ Q/√d", Kbar_ex)]
for name, formula, value in hand:
    check_close("attn.machine", "num", f"∂L/∂{name} by derive and {formula}",
                workbook.grad(name), value)

# %% tags=["solution"]
summary()
