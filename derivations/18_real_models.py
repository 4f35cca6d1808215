# %% [markdown]
# # 18 · Models a course trains next, derived from plain JAX code
#
# Notebook 17 handed `derive` the worked examples of the documents. This notebook hands it
# four models written the way JAX code for them is usually written: parameters in a dict,
# integer class labels, `einsum` for attention, `lax.conv` and `lax.reduce_window` for a
# convolutional network, `lax.scan` for a recurrent one. None of the functions below was
# rewritten for `derive`: it stages each one into nodes, SymPy derives every node's local
# derivative from the node's own formula, the backward pass is run node by node, and every
# node's gradient is checked against JAX's, the inputs' gradients against `jax.grad` of the
# function itself and against finite differences.
#
# A few operations are worth watching for in the tables, because they are not elementwise:
#
# - *index maps* (picking `logp[i, y_i]`, concatenating, slicing a step out of a sequence):
#   every output element is one input element, so its gradient is summed back to where it came
#   from;
# - *products* (`x @ W`, `einsum`): SymPy's matrix calculus gives $\bar A = \bar G B^{\mathsf T}$
#   and $\bar B = A^{\mathsf T}\bar G$, proven for every size; where the whole forward can be
#   written as one matrix expression (the MLP), each parameter's whole gradient is proven for
#   every size too, and the page says which are and why the others are not;
# - *convolutions*: written as the input's patches times the kernel, so the same matrix
#   calculus gives both rules (the input's is the full correlation with the flipped kernel
#   that notebook 14 proves by hand);
# - *loops*: `lax.scan` is unrolled into its steps; the tables show the first step's rows,
#   and a table of one row per step shows the recurrence.
#
# Each model's graph is drawn from the nodes `derive` staged, named as in its tables, with the
# values above each edge and the gradients below. Integer index arithmetic (the wrapping of
# negative indices in `logp[jnp.arange(n), y]`) is data and folds into the node it feeds, as do
# broadcasts and reshapes. The GRU's graph is not drawn: its three unrolled steps, each reading
# all three weight matrices, cross too many edges to read, and its per-step table says the same.

# %%
import numpy as np
from gradbook import *

declare_claim("real.mlp",
              source="JAX documentation, the MLP of *Training a simple neural network*, "
                     "with integer labels and its parameters in a dict",
              states="derive regenerates the backward pass of a tanh MLP with log-softmax "
                     "cross-entropy on integer labels, node by node, for parameters in a dict",
              kinds=("sym", "jax", "fd"))
declare_claim("real.cnn",
              source="a small convolutional network: convolution, ReLU, 2×2 max-pooling, a "
                     "dense layer and cross-entropy",
              states="derive regenerates the backward pass of the network, node by node, "
                     "including the convolution's two rules and the max-pool's routing",
              kinds=("sym", "jax", "fd"))
declare_claim("real.gru",
              source="a GRU cell (Cho et al., 2014, “Learning Phrase Representations using "
                     "RNN Encoder-Decoder”, §2.3) run over a short sequence with lax.scan",
              states="derive regenerates backpropagation through time for the GRU, step by "
                     "step, from the unrolled scan",
              kinds=("sym", "jax", "fd"))
declare_claim("real.transformer",
              source="a transformer encoder block: multi-head attention (“Attention Is All "
                     "You Need”, §3.2), a class token (“An Image is Worth 16x16 Words”, §3.1), "
                     "layer normalization and an exact-GELU MLP",
              states="derive regenerates the backward pass of the block, node by node, "
                     "through einsum, concatenation, layer norm and erf",
              kinds=("sym", "jax", "fd"))
verifies("real.mlp", "real.cnn", "real.gru", "real.transformer")

rng = np.random.default_rng(18)

# %% [markdown]
# ## 1 · An MLP on integer labels, its parameters in a dict
#
# The parameters are a dict, as JAX code passes them; `derive` names each leaf by its path
# (`params.W1`). The labels `y` are integers: data, never differentiated. The loss picks each
# row's log-probability of its own class with `logp[jnp.arange(n), y]`, an index map whose
# backward puts the upstream gradient back at exactly those positions.

# %%
def mlp_loss(params, x, y):
    h = jnp.tanh(x @ params["W1"] + params["b1"])
    logits = h @ params["W2"] + params["b2"]
    logp = jax.nn.log_softmax(logits)
    return -jnp.mean(logp[jnp.arange(x.shape[0]), y])


mlp_params = {"W1": 0.5 * rng.standard_normal((3, 4)), "b1": np.zeros(4),
              "W2": 0.5 * rng.standard_normal((4, 3)), "b2": np.zeros(3)}
mlp_x, mlp_y = rng.standard_normal((5, 3)), np.array([0, 2, 1, 1, 0])
mlp_book = derive(mlp_loss, at=dict(params=mlp_params, x=mlp_x, y=mlp_y), wrt="params",
                  claim="real.mlp", output="L")

# %% [markdown]
# ## 2 · A small convolutional network
#
# One 3×3 convolution with two output channels over a one-channel 6×6 image (padding kept
# the image's size), a ReLU, 2×2 max-pooling with stride 2, a dense layer to three classes and
# the cross-entropy of the first image's label. At the pooling node, each window passes its
# gradient to its largest element only.

# %%
def cnn_loss(kernel, bias, dense, images, labels):
    h = jax.nn.relu(jax.lax.conv(images, kernel, (1, 1), "SAME") + bias[None, :, None, None])
    pooled = jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
    logits = pooled.reshape(pooled.shape[0], -1) @ dense
    logp = jax.nn.log_softmax(logits)
    return -jnp.mean(jnp.take_along_axis(logp, labels[:, None], axis=1))


cnn_book = derive(cnn_loss, at=dict(kernel=0.5 * rng.standard_normal((2, 1, 3, 3)),
                                    bias=0.1 * rng.standard_normal(2),
                                    dense=0.3 * rng.standard_normal((18, 3)),
                                    images=rng.standard_normal((2, 1, 6, 6)),
                                    labels=np.array([2, 0])),
                  wrt=("kernel", "bias", "dense"), claim="real.cnn", output="L")

# %% [markdown]
# ## 3 · A GRU over a short sequence, with `lax.scan`
#
# The cell follows Cho et al.'s equations: an update gate $z$ and a reset gate $r$ computed
# from the input and the previous state, a candidate state from the input and the reset
# previous state, and the new state mixing old and candidate by $z$. The state and the input
# are concatenated, $[x; h]$, before each product. `lax.scan` runs the cell over three steps;
# `derive` unrolls the scan, so backpropagation through time appears as the same cell's
# nodes three times, each row of the tables belonging to one step.

# %%
def gru_loss(Wz, Wr, Wh, h0, xs, target):
    def cell(h, x):
        xh = jnp.concatenate([x, h])
        z = jax.nn.sigmoid(Wz @ xh)
        r = jax.nn.sigmoid(Wr @ xh)
        candidate = jnp.tanh(Wh @ jnp.concatenate([x, r * h]))
        h = (1 - z) * h + z * candidate
        return h, h

    h, _ = jax.lax.scan(cell, h0, xs)
    return jnp.sum((h - target) ** 2)


gru_book = derive(gru_loss, at=dict(Wz=0.5 * rng.standard_normal((3, 5)),
                                    Wr=0.5 * rng.standard_normal((3, 5)),
                                    Wh=0.5 * rng.standard_normal((3, 5)),
                                    h0=np.zeros(3), xs=rng.standard_normal((3, 2)),
                                    target=np.array([0.5, -0.5, 0.25])),
                  wrt=("Wz", "Wr", "Wh"), claim="real.gru", output="L", graph=False)

# %% [markdown]
# ## 4 · A transformer block with a class token
#
# Three patch embeddings of width 4 get a learned class token put in front of them
# (concatenation), then one pre-norm encoder block: layer normalization, two-head attention
# with the scores and the weighted sum written as `einsum`, a residual, a second layer norm
# and an MLP with the exact GELU, $x\,\Phi(x)$, which JAX computes with `erfc`. The loss is a
# squared error on the class token's output.

# %%
def layer_norm(x):
    mean = jnp.mean(x, axis=-1, keepdims=True)
    return (x - mean) / jnp.sqrt(jnp.mean((x - mean) ** 2, axis=-1, keepdims=True) + 1e-5)


def transformer_loss(cls, Wq, Wk, Wv, W1, W2, patches, target):
    x = jnp.concatenate([cls[None, :], patches], axis=0)           # tokens × width
    h = layer_norm(x)
    q, k, v = (jnp.einsum("te,hed->htd", h, W) for W in (Wq, Wk, Wv))  # heads × tokens × dim
    scores = jnp.einsum("hqd,hkd->hqk", q, k) / jnp.sqrt(q.shape[-1])
    heads = jnp.einsum("hqk,hkd->hqd", jax.nn.softmax(scores, axis=-1), v)
    x = x + jnp.concatenate(list(heads), axis=-1)                  # heads side by side
    x = x + jax.nn.gelu(layer_norm(x) @ W1, approximate=False) @ W2
    return jnp.sum((x[0] - target) ** 2)


transformer_book = derive(
    transformer_loss,
    at=dict(cls=0.1 * rng.standard_normal(4), Wq=0.5 * rng.standard_normal((2, 4, 2)),
            Wk=0.5 * rng.standard_normal((2, 4, 2)), Wv=0.5 * rng.standard_normal((2, 4, 2)),
            W1=0.5 * rng.standard_normal((4, 6)), W2=0.5 * rng.standard_normal((6, 4)),
            patches=rng.standard_normal((3, 4)), target=np.array([1.0, 0.0, -1.0, 0.5])),
    wrt=("cls", "Wq", "Wk", "Wv", "W1", "W2"), claim="real.transformer", output="L")

# %%
summary()
