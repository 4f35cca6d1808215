# %% [markdown] tags=["solution"]
# # 08 · Batches and the row convention
#
# Notebook 07 wrote a layer the way most notes do, $z = Wx + b$ with $x$ a column. Most code
# does the opposite: a batch of samples is stored as the rows of a matrix $X$, and a layer is
# $Y = XW + B$. Nothing new happens mathematically, but every formula gets transposed, and the
# bias, added to every row, has to collect its gradient from every row.
#
# This notebook follows three documents that use the row convention: “Deep Learning:
# Backpropagation” (Yook), §1.2, eqs. (1.3)–(1.31), which works through a layer with a
# $1 \times 2$ input entry by entry; “An Exercise in Backpropagation” (Jin), slide *Appendix*,
# which does $Y = XW$ for a batch of any size; and “Backpropagation” (kang), §10, which adds
# the broadcast bias. It then proves that the two conventions are transposes of one another,
# and ends with two of the common bugs of kang's §11 that come from mixing them up.

# %%
import sympy as sp
from gradbook import *

verifies("yook.shapes", "yook.dx", "yook.dw", "yook.db", "yook.erratum.shape",
         "jin.appendix", "kang.10.batch", "kang.11.bugs")

# %% [markdown]
# ## Yook's layer: one row in, one row out
#
# In Yook's example (eqs. 1.3–1.5) the input $X = (x_1\ x_2)$ is a row, the weight matrix $W$
# has two rows and three columns, and the bias $B = (b_1\ b_2\ b_3)$ is a row as well. Their
# entries are kept as indexed symbols, and the capital letters stand for the matrices.

# %%
x, w, b, g, y = (sp.IndexedBase(name) for name in "xwbgy")

X_row = sp.ImmutableMatrix([[x[1], x[2]]])
W_23 = sp.ImmutableMatrix(2, 3, lambda r, c: w[r + 1, c + 1])
B_row = sp.ImmutableMatrix([[b[1], b[2], b[3]]])

X, W, B = sp.MatrixSymbol("X", 1, 2), sp.MatrixSymbol("W", 2, 3), sp.MatrixSymbol("B", 1, 3)
entries = {X: X_row, W: W_23, B: B_row}

check_shape("yook.shapes", "X", X_row, (1, 2))
check_shape("yook.shapes", "W", W_23, (2, 3))
check_shape("yook.shapes", "B", B_row, (1, 3))

# %% [markdown]
# A $(1 \times 2)$ row times a $(2 \times 3)$ matrix is a $(1 \times 3)$ row, so $XW$ has
# the shape of $B$ and the sum $Y = XW + B$ is defined (eqs. 1.6–1.8):

# %%
check_shape("yook.shapes", "XW", X_row * W_23, (1, 3))
check_shape("yook.shapes", "Y = XW + B", X_row * W_23 + B_row, (1, 3))

# %% [markdown]
# Written out, entry $i$ of $Y$ runs down column $i$ of $W$: $y_i = \sum_j x_j w_{ji} + b_i$
# (eq. 1.9). The first index of $w$ belongs to the input and the second to the output, the
# reverse of the column convention's $W_{ij}$, where $i$ is the output.

# %%
n = sp.symbols("n", integer=True, positive=True)

prove_chain("yook.shapes",
            X * W + B,
            X_row * W_23 + B_row,
            sp.ImmutableMatrix(1, 3, lambda _, i: sp.Sum(x[n] * w[n, i + 1], (n, 1, 2)) + b[i + 1]),
            where=entries)

# %% [markdown] tags=["solution"]
# ## The gradient with respect to the input
#
# Yook first builds the Jacobian $\partial Y / \partial X$, the $3 \times 2$ matrix whose entry
# $(i, j)$ is $\partial y_i / \partial x_j$ (eq. 1.16). Since $x_j$ enters $y_i$ only through
# the term $x_j w_{ji}$, that entry is $w_{ji}$ (eqs. 1.17–1.18), and a matrix whose
# $(i, j)$ entry is $w_{ji}$ is $W^{\mathsf T}$ (eq. 1.19):

# %% tags=["solution"]
Y_row = X_row * W_23 + B_row
outputs = {y[i + 1]: Y_row[0, i] for i in range(3)}

prove_chain("yook.dx",
            sp.Matrix(3, 2, lambda i, j: sp.Derivative(y[i + 1], x[j + 1])),
            sp.Matrix(3, 2, lambda i, j: w[j + 1, i + 1]),
            W.T,
            where={**outputs, **entries})

# %% [markdown] tags=["solution"]
# For a scalar loss $L$ the upstream gradient $\partial L / \partial Y$ is a row of three
# numbers; call it $G = (g_1\ g_2\ g_3)$. As in notebook 07, the linear loss
# $L = \sum_i g_i y_i$ has exactly this gradient, so it stands in for any loss. The chain rule
# (eq. 1.15) multiplies the row $G$ by the Jacobian, which gives eq. (1.20),
# $\partial L / \partial X = G\, W^{\mathsf T}$: a $(1 \times 3)(3 \times 2)$ product, a row
# shaped like $X$.

# %% tags=["solution"]
L = sp.Symbol("L")
G_row = sp.ImmutableMatrix([[g[1], g[2], g[3]]])
G = sp.MatrixSymbol("G", 1, 3)
loss = {L: sum(g[i + 1] * Y_row[0, i] for i in range(3)), G: G_row, **entries}

prove_chain("yook.dx",
            derivative(L, X_row),
            (G * sp.ImmutableMatrix(3, 2, lambda i, j: w[j + 1, i + 1]), "chain rule, eq. (1.15)"),
            G * W.T,
            where=loss)

# %% [markdown] tags=["solution"]
# JAX agrees on both statements, at a point of our own and at seeded random points: its
# Jacobian of $Y$ with respect to $X$ is $W^{\mathsf T}$ (JAX lays it out with the axes of
# $Y$ first, $1 \times 3$, then those of $X$, $1 \times 2$), and its vector-Jacobian product
# is $G W^{\mathsf T}$.

# %% tags=["solution"]
def yook_layer(X, W, B):
    return X @ W + B


X_pt = jnp.array([[0.5, -1.5]])
W_pt = jnp.array([[1.0, -2.0, 0.5], [3.0, 0.25, -1.0]])
B_pt = jnp.array([[0.1, 0.2, -0.3]])

check_jacobian("yook.dx", yook_layer, lambda X, W, B: W.T.reshape(1, 3, 1, 2),
               at=(X_pt, W_pt, B_pt), wrt="X")
check_vjp("yook.dx", yook_layer, lambda X, W, B, G: G @ W.T, at=(X_pt, W_pt, B_pt), wrt="X")

# %% [markdown] tags=["solution"]
# ## The gradient with respect to the weights
#
# Now the Kronecker delta of eq. (1.25): $w_{jk}$ appears only in the output $y_k$, where it
# multiplies $x_j$, so $\partial y_i / \partial w_{jk} = x_j\, \delta_{ik}$. We prove it at
# symbolic indices and for any number $d_x$ of inputs (Yook's is 2). As in notebook 07, SymPy
# needs to be told that the index $j$ is in range before it drops the condition $j \le d_x$;
# writing $d_x = j + s$ with $s \ge 0$ says exactly that.

# %% tags=["solution"]
d_x, d_y = sp.symbols("d_x d_y", integer=True, positive=True)
i, j, k, m = sp.symbols("i j k m", integer=True, positive=True)
r, s = sp.symbols("r s", integer=True, nonnegative=True)


def y_entry(out):
    return sp.Sum(x[n] * w[n, out], (n, 1, d_x)) + b[out]


prove_equal("yook.dw", sp.Derivative(y_entry(i), w[j, k]), x[j] * sp.KroneckerDelta(i, k),
            where={d_x: j + s})

# %% [markdown] tags=["solution"]
# Summing over the outputs with the upstream gradient, the delta keeps only $y_k$, and
# $\partial L / \partial w_{jk} = x_j\, \partial L / \partial y_k$ (eqs. 1.26–1.28). Here the
# number of outputs $d_y$ (Yook's is 3) is written as $k + r$ for the same reason.

# %% tags=["solution"]
prove_chain("yook.dw",
            sp.Derivative(sp.Sum(g[m] * y_entry(m), (m, 1, d_y)), w[j, k]),
            sp.Sum(g[m] * sp.Derivative(y_entry(m), w[j, k]), (m, 1, d_y)),
            (sp.Sum(g[m] * x[j] * sp.KroneckerDelta(m, k), (m, 1, d_y)), "eq. (1.25)"),
            x[j] * g[k],
            where={d_y: k + r, d_x: j + s})

# %% [markdown] tags=["solution"]
# Collected into Yook's $2 \times 3$ matrix, entry $(j, k)$ is $x_j g_k$: the outer product
# of the column $X^{\mathsf T}$ with the row $G$ (eq. 1.30).

# %% tags=["solution"]
prove_chain("yook.dw",
            derivative(L, W_23),
            sp.Matrix(2, 3, lambda j, k: x[j + 1] * g[k + 1]),
            X.T * G,
            where=loss)

# %% tags=["solution"]
check_vjp("yook.dw", yook_layer, lambda X, W, B, G: X.T @ G, at=(X_pt, W_pt, B_pt), wrt="W")

# %% [markdown]
# ## A misprint in §1.2.4
#
# When Yook turns to the bias, the text recalls the example with $X$ a $(1 \times 3)$ matrix.
# By eq. (1.3) it is $(1 \times 2)$, and it has to be: a $(1 \times 3)$ row could not multiply
# the $(2 \times 3)$ matrix $W$. Checked against the matrix that eq. (1.3) defines, the shape
# as printed is rejected, and the shape from (1.3) holds:

# %%
check_shape("yook.erratum.shape", "X in §1.2.4, as printed", X_row, (1, 3), erratum=True)
check_shape("yook.erratum.shape", "X by eq. (1.3)", X_row, (1, 2))

# %% [markdown] tags=["solution"]
# ## The bias, for a batch of two rows
#
# With one row, adding $B$ is plain addition. Yook's point in §1.2.4 is what happens when
# $X$ holds two samples, a $2 \times 2$ matrix: $XW$ is then $2 \times 3$, and the row $B$
# must be added to each of its rows. Written as a matrix product that is
# $Y = XW + DB$ with $D = (1, 1)^{\mathsf T}$ (eq. 1.31), and $DB$ is $B$ stacked twice.

# %% tags=["solution"]
X_batch = sp.ImmutableMatrix(2, 2, lambda r, c: x[r + 1, c + 1])
D_col = sp.ImmutableMatrix([1, 1])
Y_batch = X_batch * W_23 + D_col * B_row

check_shape("yook.db", "DB", D_col * B_row, (2, 3))
check_shape("yook.db", "Y = XW + DB", Y_batch, (2, 3))

# %% [markdown] tags=["solution"]
# The upstream gradient is now a $2 \times 3$ matrix $G$ with entries $g_{nk}$, and the
# linear loss is $L = \sum_{n,k} g_{nk} Y_{nk}$. Differentiating with respect to the three
# entries of $B$ gives $D^{\mathsf T} G$, and since $D^{\mathsf T} = (1\ 1)$ this is each
# column of $G$ summed: the sum over axis 0.

# %% tags=["solution"]
G_batch = sp.ImmutableMatrix(2, 3, lambda r, c: g[r + 1, c + 1])
D, G2 = sp.MatrixSymbol("D", 2, 1), sp.MatrixSymbol("G", 2, 3)
batch_loss = {L: sum(G_batch[p] * Y_batch[p] for p in range(6)), D: D_col, G2: G_batch}

prove_chain("yook.db",
            derivative(L, B_row),
            D.T * G2,
            sp.ImmutableMatrix(1, 3, lambda _, c: G_batch[0, c] + G_batch[1, c]),
            where=batch_loss)

# %% [markdown] tags=["solution"]
# JAX agrees twice: with the bias written as Yook's product $DB$, and with the bias simply
# broadcast over the rows, as array code writes it, where the gradient is the column sum.

# %% tags=["solution"]
D_pt = jnp.ones((2, 1))


def yook_batch(X, W, B):
    return X @ W + D_pt @ B


def yook_batch_broadcast(X, W, B):
    return X @ W + B


X_batch_pt = jnp.array([[0.5, -1.5], [2.0, 0.75]])

check_vjp("yook.db", yook_batch, lambda X, W, B, G: D_pt.T @ G,
          at=(X_batch_pt, W_pt, B_pt), wrt="B")
check_vjp("yook.db", yook_batch_broadcast, lambda X, W, B, G: G.sum(axis=0, keepdims=True),
          at=(X_batch_pt, W_pt, B_pt), wrt="B")

# %% [markdown] tags=["solution"]
# ## Jin's appendix: $Y = XW$ for any batch
#
# Jin's slides treat the bias-free product $Y = XW$ with $X$ of size $N \times D_x$ and $W$ of
# size $D_x \times D_y$, and first ask what the derivative of the whole matrix $Y$ with
# respect to one weight $W_{kj}$ looks like. $W_{kj}$ sits in column $j$ of $W$, so it only
# reaches column $j$ of $Y$, and there it multiplies column $k$ of $X$. At a small size,
# $N = 3$ samples, $D_x = 2$, $D_y = 2$, every one of the four weights shows this pattern:

# %% tags=["solution"]
X_32 = sp.ImmutableMatrix(3, 2, lambda r, c: sp.Symbol(f"X_{r + 1}{c + 1}"))
W_22 = sp.ImmutableMatrix(2, 2, lambda r, c: sp.Symbol(f"W_{r + 1}{c + 1}"))
Y = sp.MatrixSymbol("Y", 3, 2)

for kk in range(2):
    for jj in range(2):
        only_column_j = sp.ImmutableMatrix(3, 2, lambda r, c: X_32[r, kk] if c == jj else 0)
        prove_equal("jin.appendix", sp.Derivative(Y, W_22[kk, jj]), only_column_j,
                    where={Y: X_32 * W_22}, box=False)

# %% [markdown] tags=["solution"]
# In index form, for any sizes: the loss gradient $\partial \ell / \partial W_{kj}$ sums
# $\frac{\partial \ell}{\partial Y_{il}}\frac{\partial Y_{il}}{\partial W_{kj}}$ over all
# entries of $Y$; the pattern above keeps only $l = j$, and what is left is
# $\sum_i X_{ik}\, \frac{\partial \ell}{\partial Y_{ij}}$, entry $(k, j)$ of
# $X^{\mathsf T}\, \partial \ell / \partial Y$. With $G_{il}$ for
# $\partial \ell / \partial Y_{il}$, and the sizes written as index plus a non-negative
# integer so that SymPy can drop its range conditions:

# %% tags=["solution"]
N, D_x, D_y = sp.symbols("N D_x D_y", integer=True, positive=True)
Xi, Wi, Gi = sp.IndexedBase("X"), sp.IndexedBase("W"), sp.IndexedBase("G")
p, q = sp.symbols("p q", integer=True, positive=True)


def Y_entry(row, col):
    return sp.Sum(Xi[row, p] * Wi[p, col], (p, 1, D_x))


prove_chain("jin.appendix",
            sp.Derivative(sp.Sum(sp.Sum(Gi[i, q] * Y_entry(i, q), (q, 1, D_y)), (i, 1, N)),
                          Wi[k, j]),
            sp.Sum(sp.Sum(Gi[i, q] * Xi[i, k] * sp.KroneckerDelta(q, j), (q, 1, D_y)), (i, 1, N)),
            sp.Sum(Xi[i, k] * Gi[i, j], (i, 1, N)),
            where={D_x: k + s, D_y: j + r})

# %% [markdown] tags=["solution"]
# As matrix identities, with matrix symbols of symbolic sizes and the linear loss
# $\ell = \operatorname{tr}(G^{\mathsf T} XW)$ whose gradient with respect to $Y$ is $G$:

# %% tags=["solution"]
Xm = sp.MatrixSymbol("X", N, D_x)
Wm = sp.MatrixSymbol("W", D_x, D_y)
Gm = sp.MatrixSymbol("G", N, D_y)
ell = sp.Trace(Gm.T * Xm * Wm)

prove_equal("jin.appendix", sp.Derivative(ell, Wm), Xm.T * Gm)

# %% tags=["solution"]
prove_equal("jin.appendix", sp.Derivative(ell, Xm), Gm * Wm.T)

# %% [markdown] tags=["solution"]
# JAX checks the single-weight pattern through its full Jacobian of $Y$ with respect to $W$:
# entry $(i, l, k, j)$ should be $X_{ik}$ when $l = j$ and zero otherwise. Then it checks the
# two gradients, on a batch of four samples with $D_x = 3$ and $D_y = 2$.

# %% tags=["solution"]
def product(X, W):
    return X @ W


X_43 = jnp.array([[1.0, -0.5, 2.0], [0.3, 1.2, -1.0], [-2.0, 0.4, 0.6], [0.8, -1.1, 0.2]])
W_32 = jnp.array([[0.5, -1.0], [1.5, 0.25], [-0.75, 2.0]])

check_jacobian("jin.appendix", product,
               lambda X, W: jnp.einsum("ik,lj->ilkj", X, jnp.eye(W.shape[1])),
               at=(X_43, W_32), wrt="W")
check_vjp("jin.appendix", product, lambda X, W, G: (G @ W.T, X.T @ G), at=(X_43, W_32),
          wrt=("X", "W"))

# %% [markdown] tags=["solution"]
# ## kang's mini-batch layer, with the bias
#
# kang's §10 puts the pieces together: $N$ samples in the rows of $X$ ($N \times d_x$), a
# weight matrix $W$ of size $d_x \times d_z$, and a bias column $b$ of length $d_z$ added to
# every row, $Z = XW + \mathbf 1 b^{\mathsf T}$, where $\mathbf 1$ is the column of $N$ ones
# (Yook's $D$ for any $N$; SymPy prints it as $1$). With the linear loss
# $L = \operatorname{tr}(G^{\mathsf T} Z)$, SymPy proves the three boxed results for every
# $N$, $d_x$, $d_z$:

# %% tags=["solution"]
d_z = sp.symbols("d_z", integer=True, positive=True)
Xb = sp.MatrixSymbol("X", N, d_x)
Wb = sp.MatrixSymbol("W", d_x, d_z)
bb = sp.MatrixSymbol("b", d_z, 1)
Gb = sp.MatrixSymbol("G", N, d_z)
ones = sp.OneMatrix(N, 1)
L_batch = sp.Trace(Gb.T * (Xb * Wb + ones * bb.T))

prove_equal("kang.10.batch", sp.Derivative(L_batch, Xb), Gb * Wb.T)

# %% tags=["solution"]
prove_equal("kang.10.batch", sp.Derivative(L_batch, Wb), Xb.T * Gb)

# %% [markdown] tags=["solution"]
# For the bias the answer is $G^{\mathsf T}\mathbf 1$ (again with $1$ for the column of
# ones). Multiplying by a column of ones adds up columns, so entry $c$ is $\sum_n G_{nc}$:
# the $N$ rows of $G$ added together, kang's $\sum_n G_{n,:}$, here standing as a column
# because $b$ is one. Transposed, it is the row $\mathbf 1^{\mathsf T} G$, which is Yook's
# $D^{\mathsf T} G$ for any batch size.

# %% tags=["solution"]
prove_equal("kang.10.batch", sp.Derivative(L_batch, bb), Gb.T * ones)

# %% [markdown] tags=["solution"]
# The numeric check uses a batch of four samples and a layer from 3 inputs to 2 outputs, so
# that no matrix is square and the batch has more than one row; the bias is broadcast the way
# array code does it.

# %% tags=["solution"]
def batch_layer(X, W, b):
    return X @ W + b


def batch_backward(X, W, b, G):
    return G @ W.T, X.T @ G, G.sum(axis=0)


b_2 = jnp.array([0.1, -0.2])

check_vjp("kang.10.batch", batch_layer, batch_backward, at=(X_43, W_32, b_2),
          wrt=("X", "W", "b"))

# %%
exercise("kang.10.batch.X",
         r"A mini-batch layer in the row convention computes $Z = XW + b$: the $N$ samples are "
         r"the rows of $X$ ($N \times d_x$), $W$ is $d_x \times d_z$, and the bias $b$ (length "
         r"$d_z$) is added to every row. The upstream gradient $G = \partial L/\partial Z$ "
         r"($N \times d_z$) is known. Find $\dfrac{\partial L}{\partial X}$.",
         of="sum(G * (X @ W + b))", wrt="X", answer="G @ W.T",
         inputs={"X": "N × d_x", "W": "d_x × d_z", "b": "d_z", "G": "N × d_z"},
         sizes={"N": 4, "d_x": 3, "d_z": 2}, symbolic_sizes=True, batch="N",
         spellings=[r"G W^{\mathsf T}", "G @ W.T", r"\partial \ell / \partial Y W^{\mathsf T}"],
         same_as=lambda X, W, b, G: batch_backward(X, W, b, G)[0])
exercise("kang.10.batch.W",
         r"For the same layer, find $\dfrac{\partial L}{\partial W}$, shaped like $W$.",
         of="sum(G * (X @ W + b))", wrt="W", answer="X.T @ G",
         inputs={"X": "N × d_x", "W": "d_x × d_z", "b": "d_z", "G": "N × d_z"},
         sizes={"N": 4, "d_x": 3, "d_z": 2}, symbolic_sizes=True, batch="N",
         spellings=[r"X^{\mathsf T} G", "X.T @ G", r"X^{\mathsf T}\, \partial"],
         same_as=lambda X, W, b, G: batch_backward(X, W, b, G)[1])
exercise("kang.10.batch.b",
         r"For the same layer, find $\dfrac{\partial L}{\partial b}$, shaped like $b$.",
         of="sum(G * (X @ W + b))", wrt="b", answer="sum(G, axis=0)",
         inputs={"X": "N × d_x", "W": "d_x × d_z", "b": "d_z", "G": "N × d_z"},
         sizes={"N": 4, "d_x": 3, "d_z": 2}, batch="N",
         spellings=["G.sum(axis=0)", r"\sum_n G_{n,:}", r"G^{\mathsf T}\mathbf 1", r"D^{\mathsf T} G"],
         same_as=lambda X, W, b, G: batch_backward(X, W, b, G)[2])

# %% [markdown] tags=["solution"]
# ## Rows and columns are transposes of one another
#
# Take one sample in the column convention of notebook 07, $z = Wx + b$ with $W$ of size
# $d_z \times d_x$, and feed the same numbers to a row-convention layer: the row
# $X = x^{\mathsf T}$, the weights $W_r = W^{\mathsf T}$ ($d_x \times d_z$, the shape of
# kang's §10) and the bias row $B = b^{\mathsf T}$. What comes out is the transposed output,
# $XW_r + B = z^{\mathsf T}$:

# %% tags=["solution"]
xc, Wc = sp.MatrixSymbol("x", d_x, 1), sp.MatrixSymbol("W", d_z, d_x)
bc, gc = sp.MatrixSymbol("b", d_z, 1), sp.MatrixSymbol("g", d_z, 1)
Xr, Wr = sp.MatrixSymbol("X", 1, d_x), sp.MatrixSymbol("W_r", d_x, d_z)
Br = sp.MatrixSymbol("B", 1, d_z)

prove_chain("kang.10.batch", Xr * Wr + Br, xc.T * Wc.T + bc.T, sp.Transpose(Wc * xc + bc),
            where={Xr: xc.T, Wr: Wc.T, Br: bc.T})

# %% [markdown] tags=["solution"]
# The upstream gradient is transposed with it, $G = g^{\mathsf T}$, so the row layer's
# linear loss is $\operatorname{tr}(G^{\mathsf T} Y) = \operatorname{tr}\big(g\,(XW_r + B)\big)$.
# Differentiating it with respect to each row-convention parameter gives the transpose of the
# column-convention gradient of notebook 07, $g x^{\mathsf T}$, $W^{\mathsf T} g$ and $g$:

# %% tags=["solution"]
prove_chain("kang.10.batch",
            sp.Derivative(sp.Trace(gc * (xc.T * Wr + bc.T)), Wr),
            xc * gc.T,
            sp.Transpose(gc * xc.T))

# %% tags=["solution"]
prove_chain("kang.10.batch",
            sp.Derivative(sp.Trace(gc * (Xr * Wc.T + bc.T)), Xr),
            gc.T * Wc,
            sp.Transpose(Wc.T * gc))

# %% tags=["solution"]
prove_chain("kang.10.batch", sp.Derivative(sp.Trace(gc * (xc.T * Wc.T + Br)), Br), gc.T)

# %% [markdown] tags=["solution"]
# So one set of formulas is the other read in a mirror, and neither is wrong; what goes wrong
# is using one convention's formula in the other's code. JAX confirms the mirror: its
# vector-Jacobian product of the row layer, fed $x^{\mathsf T}$, $W^{\mathsf T}$, $b^{\mathsf T}$,
# equals the transposes of notebook 07's formulas $g x^{\mathsf T}$, $W^{\mathsf T} g$, $g$
# evaluated on the column-convention quantities ($x = X^{\mathsf T}$, $W = W_r^{\mathsf T}$,
# $g = G^{\mathsf T}$).

# %% tags=["solution"]
def column_backward(W, x, b, g):
    return jnp.outer(g, x), W.T @ g, g


def row_backward_from_columns(X, W_r, B, G):
    dW, dx, db = column_backward(W_r.T, X[0], B[0], G[0])
    return dx[None, :], dW.T, db[None, :]


check_vjp("kang.10.batch", yook_layer, row_backward_from_columns, at=(X_pt, W_pt, B_pt),
          wrt=("X", "W", "B"))

# %% [markdown] tags=["solution"]
# ## Two common bugs, and shapes where they cannot hide
#
# kang's §11 lists a row/column convention mismatch among the common bugs. A typical
# instance: row-convention code that computes the weight gradient with the column
# convention's recipe, "upstream gradient times input transposed", which for a batch is
# $G^{\mathsf T} X$. That is the transpose of the right answer $X^{\mathsf T} G$. With
# $d_x = 3$ inputs and $d_z = 2$ outputs it does not even have the shape of $W$, and the check
# says so:

# %% tags=["solution"]
def batch_backward_column_recipe(X, W, b, G):
    return G @ W.T, G.T @ X, G.sum(axis=0)


with rejects("kang.11.bugs",
             "row/column convention mismatch, ∂L/∂W = Gᵀ X in row-convention code"):
    check_vjp("kang.10.batch", batch_layer, batch_backward_column_recipe,
              at=(X_43, W_32, b_2), wrt=("X", "W", "b"))

# %% [markdown] tags=["solution"]
# (With a square $W$ the shapes would agree, and only the values, transposed, would give the
# mistake away; a non-square layer makes it fail at once.)
#
# The other bug is the bias of a batch. The bias is broadcast to every row, so its gradient
# must add up every row of $G$. Returning $G$ itself fails on shape as soon as the batch has
# more than one row:

# %% tags=["solution"]
def batch_backward_bias_unsummed(X, W, b, G):
    return G @ W.T, X.T @ G, G


with rejects("kang.11.bugs", "bias gradient not summed over the batch, ∂L/∂b = G"):
    check_vjp("kang.10.batch", batch_layer, batch_backward_bias_unsummed,
              at=(X_43, W_32, b_2), wrt=("X", "W", "b"))

# %% [markdown] tags=["solution"]
# The quieter version keeps only the first row, $G_{1,:}$, which has the right shape and is
# even correct for a batch of one. With four rows it misses three quarters of the gradient,
# and the values give it away:

# %% tags=["solution"]
def batch_backward_bias_first_row(X, W, b, G):
    return G @ W.T, X.T @ G, G[0]


with rejects("kang.11.bugs", "bias gradient from the first row only, ∂L/∂b = G[0]"):
    check_vjp("kang.10.batch", batch_layer, batch_backward_bias_first_row,
              at=(X_43, W_32, b_2), wrt=("X", "W", "b"))

# %%
summary()
