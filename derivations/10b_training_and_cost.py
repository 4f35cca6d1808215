# %% [markdown]
# # 10b · Training a network, checking its gradient, and what a backward pass costs
#
# Notebook 10 derived the four equations of backpropagation through a deep network and built
# a manual backward pass from them alone. This notebook uses that backward pass on the
# document's own examples. It trains the document's small classifier and holds the manual
# gradient against `jax.grad` along the way; it repeats the document's finite-difference
# gradient check and predicts, from a model of the difference quotient's errors, how close
# that check can come in float64 and in float32; and it counts, with XLA's cost analysis,
# how the work and the memory of a backward pass grow with the network's width and depth.
# The derivation of every formula used here is in notebook 10.
#
# It follows “Backpropagation Derivation”, sections *PyTorch Implementation*, *Complete
# Training with Gradient Verification* and *Computational Complexity*.
#
# As in notebook 10, the samples of a batch are the columns of $X$, and a layer computes
# $Z = WX + b\mathbf 1^{\mathsf T}$ with $W$ of shape (outputs × inputs).

# %%
import matplotlib.pyplot as plt
import numpy as np
from gradbook import *

verifies("deriv.training", "deriv.gradcheck", "deriv.complexity")

# %% [markdown]
# These are the document's network (2 inputs, 8 ReLU units, one sigmoid output, mean binary
# cross-entropy) and the manual backward pass derived for it in notebook 10, copied unchanged.

# %%
def sigmoid(z):
    return 1 / (1 + jnp.exp(-z))


def relu(z):
    return jnp.maximum(z, 0.0)


def relu_slope(z):
    return jnp.where(z > 0, 1.0, 0.0)


def n_parameters(widths):
    return sum(n_out * (n_in + 1) for n_in, n_out in zip(widths[:-1], widths[1:]))


def batch_forward(W1, b1, W2, b2, X):
    Z1 = W1 @ X + b1[:, None]
    A1 = relu(Z1)
    Z2 = W2 @ A1 + b2[:, None]
    return Z1, A1, sigmoid(Z2)


def mean_bce(W1, b1, W2, b2, X, Y):
    Y_hat = batch_forward(W1, b1, W2, b2, X)[-1]
    return -jnp.mean(Y * jnp.log(Y_hat) + (1 - Y) * jnp.log(1 - Y_hat))


def batch_backprop(W1, b1, W2, b2, X, Y):
    Z1, A1, Y_hat = batch_forward(W1, b1, W2, b2, X)
    B = X.shape[1]
    Delta2 = Y_hat - Y
    Delta1 = (W2.T @ Delta2) * relu_slope(Z1)
    return (Delta1 @ X.T / B, Delta1.sum(axis=1) / B,
            Delta2 @ A1.T / B, Delta2.sum(axis=1) / B)

# %% [markdown]
# ## The document's training run
#
# The document trains that network on a small problem: 100 points drawn from a standard
# normal in the plane, labelled 1 where $x_0 x_1 > 0$ (the first and third quadrants),
# weights initialised as $0.5$ times standard normals, biases at zero, plain gradient
# descent with learning rate 0.5 for 1000 epochs, every gradient from the manual backward
# pass. The document seeds PyTorch's generator; here NumPy's generator with seed 42 draws
# the data and the initial weights, so the numbers differ from a PyTorch run but the set-up
# is the same. The document's code stores samples as rows and computes $XW$; here they are
# columns and the layer computes $WX$, so every matrix is the transpose of the document's.

# %%
rng = np.random.default_rng(42)
X_train = jnp.asarray(rng.standard_normal((2, 100)))
Y_train = jnp.where(X_train[0] * X_train[1] > 0, 1.0, 0.0)[None, :]
initial = (0.5 * jnp.asarray(rng.standard_normal((8, 2))), jnp.zeros(8),
           0.5 * jnp.asarray(rng.standard_normal((1, 8))), jnp.zeros(1))
LEARNING_RATE, EPOCHS = 0.5, 1000

# %% [markdown]
# The document clips $\hat y$ to $[10^{-7}, 1 - 10^{-7}]$ before taking logarithms, but
# only for the loss it prints: its backward pass uses $\hat y - y$ unclipped, which is the
# gradient of the unclipped loss. Here the loss recorded and differentiated is the unclipped
# mean cross-entropy, which float64 evaluates without trouble; the clipped value is recorded
# too, to see what the clip changes. Each epoch records the parameters it started from, and
# the loop runs as one compiled `lax.scan`.

# %%
def clipped_mean_bce(W1, b1, W2, b2, X, Y):
    Y_hat = jnp.clip(batch_forward(W1, b1, W2, b2, X)[-1], 1e-7, 1 - 1e-7)
    return -jnp.mean(Y * jnp.log(Y_hat) + (1 - Y) * jnp.log(1 - Y_hat))


@jax.jit
def train(params):
    def epoch(params, _):
        grads = batch_backprop(*params, X_train, Y_train)
        Y_hat = batch_forward(*params, X_train)[-1]
        record = (params, mean_bce(*params, X_train, Y_train),
                  clipped_mean_bce(*params, X_train, Y_train),
                  jnp.min(jnp.minimum(Y_hat, 1 - Y_hat)))
        return tuple(p - LEARNING_RATE * g for p, g in zip(params, grads)), record

    return jax.lax.scan(epoch, params, None, length=EPOCHS)


final, (history, losses, clipped_losses, closest_to_0_or_1) = train(initial)

# %% [markdown]
# At several epochs along the way, the manual gradient at that epoch's parameters is
# compared with `jax.grad` of the mean cross-entropy:

# %%
def flat(arrays):
    return jnp.concatenate([jnp.ravel(a) for a in arrays])


manual_gradient = jax.jit(lambda params: flat(batch_backprop(*params, X_train, Y_train)))
autodiff_gradient = jax.jit(lambda params: flat(jax.grad(mean_bce, argnums=(0, 1, 2, 3))(
    *params, X_train, Y_train)))
for k in (0, 1, 10, 100, 999):
    params_k = tuple(h[k] for h in history)
    check_close("deriv.training", "jax", f"manual and jax.grad gradients at epoch {k}",
                autodiff_gradient(params_k), manual_gradient(params_k))

# %% [markdown]
# Training does what it should: the loss falls, and at the end the network classifies every
# training point correctly.

# %%
accuracy = float(jnp.mean((batch_forward(*final, X_train)[-1] > 0.5) == (Y_train > 0.5)))
print(f"loss at epoch 0: {float(losses[0]):.4f}, at epoch 999: {float(losses[-1]):.4f}; "
      f"final training accuracy {100 * accuracy:.0f}%")
check_that("deriv.training", "jax", losses[-1] < 0.1 * losses[0],
           f"the loss falls from {float(losses[0]):.4f} to {float(losses[-1]):.4f}, "
           "below a tenth of its starting value")

# %%
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.semilogy(np.arange(EPOCHS), np.asarray(losses))
ax.set_xlabel("epoch")
ax.set_ylabel("mean binary cross-entropy")
ax.set_title("2 → 8 (ReLU) → 1 (sigmoid), learning rate 0.5")
ax.grid(True, which="both", alpha=0.3)
show_figure(fig, "training loss over 1000 epochs, log scale, falling from about 0.71 to 0.02")

# %% [markdown]
# The clip does come into play late in training: the most confident predictions get much
# closer to 0 or 1 than $10^{-7}$. It changes the recorded loss only in the eighth decimal,
# far below anything the plot could show, and it never touches the gradient, because
# neither the document's backward pass nor this one looks at the clipped values.

# %%
print(residual(jnp.min(closest_to_0_or_1), 1e-7, "distance of a prediction from 0 or 1",
               extreme="smallest") + "; "
      + residual(jnp.max(jnp.abs(clipped_losses - losses)), 1e-7,
                 "|clipped - unclipped| loss over the run"))

# %% [markdown]
# ## The gradient check
#
# The document's final check compares backpropagation with central differences,
# $\big(f(\theta + \epsilon e_i) - f(\theta - \epsilon e_i)\big)/(2\epsilon)$ with
# $\epsilon = 10^{-5}$, one parameter at a time, on 10 random samples with random 0/1 labels
# and a freshly initialised network, and requires the relative error
# $|g_{\text{num}} - g_{\text{bp}}| / (|g_{\text{num}}| + 10^{-8})$ to stay below $10^{-4}$
# for every parameter. Here the network is initialised as PyTorch's `nn.Linear` does,
# uniformly in $\pm 1/\sqrt{\text{fan-in}}$, from a seeded generator; backpropagation is the
# manual `batch_backprop` above.

# %%
rng = np.random.default_rng(0)
W1_c, W2_c = rng.uniform(-1, 1, (8, 2)) / np.sqrt(2), rng.uniform(-1, 1, (1, 8)) / np.sqrt(8)
b1_c, b2_c = rng.uniform(-1, 1, 8) / np.sqrt(2), rng.uniform(-1, 1, 1) / np.sqrt(8)
X_small = rng.standard_normal((2, 10))
Y_small = rng.integers(0, 2, (1, 10)).astype(float)
SHAPES = [(8, 2), (8,), (1, 8), (1,)]
theta_c = np.concatenate([a.ravel() for a in (W1_c, b1_c, W2_c, b2_c)])


def split(theta):
    ends = np.cumsum([int(np.prod(s)) for s in SHAPES])
    return tuple(p.reshape(s) for p, s in zip(jnp.split(theta, ends[:-1]), SHAPES))


@jax.jit
def gradient_check(theta, X, Y):
    eps = jnp.asarray(1e-5, theta.dtype)              # the document's step, in θ's precision
    loss = lambda t: mean_bce(*split(t), X, Y)
    steps = eps * jnp.eye(theta.size, dtype=theta.dtype)
    numeric = jax.vmap(lambda e: (loss(theta + e) - loss(theta - e)) / (2 * eps))(steps)
    return numeric, flat(batch_backprop(*split(theta), X, Y)), loss(theta)


numeric, backprop_gradient, loss_value = gradient_check(*map(jnp.asarray,
                                                                (theta_c, X_small, Y_small)))
relative = jnp.abs(numeric - backprop_gradient) / (jnp.abs(numeric) + 1e-8)
check_that("deriv.gradcheck", "fd", jnp.max(relative) < 1e-4,
           f"float64, ε = 1e-5, loss {float(loss_value):.4f}: "
           + residual(jnp.max(relative), 1e-4, "relative error over the 33 parameters")
           + " (the document's bound)")

# %% [markdown]
# That passes with four orders of magnitude to spare, and the margin can be predicted. A
# central difference with step $\epsilon$ has two errors: truncation,
# $\tfrac{\epsilon^2}{6}\,|\partial_i^3 f|$, and rounding, since each loss value carries an
# error of a few units of the last place $u\,|f|$ and the difference of two of them is
# divided by $2\epsilon$: about $c\,u\,|f|/\epsilon$. With $u = 2^{-53}$ in float64, a
# generous $c = 10$, and the third derivative along each parameter computed by JAX, the
# predicted error bound for each parameter is below:

# %%
@jax.jit
def third_derivatives(theta):
    def along(e):
        f = lambda t: mean_bce(*split(theta + t * e), X_small, Y_small)
        return jax.grad(jax.grad(jax.grad(f)))(0.0)
    return jax.vmap(along)(jnp.eye(theta.size))


def predicted_error(theta, loss_value, unit_roundoff, c=10.0, eps=1e-5):
    truncation = eps ** 2 / 6 * jnp.abs(third_derivatives(theta))
    return truncation + c * unit_roundoff * abs(loss_value) / eps


bound64 = predicted_error(jnp.asarray(theta_c), loss_value, 2.0 ** -53)
error64 = jnp.abs(numeric - backprop_gradient)
check_that("deriv.gradcheck", "fd", bool(jnp.all(error64 <= bound64)),
           "float64: every |numeric - backprop| is within its own predicted bound ("
           + residual(jnp.max(error64), jnp.max(bound64), "|numeric - backprop|") + ")")
worst_relative_bound = float(jnp.max(bound64 / jnp.abs(backprop_gradient)))
check_that("deriv.gradcheck", "fd", jnp.max(relative) <= worst_relative_bound,
           "float64: " + residual(jnp.max(relative), worst_relative_bound, "relative error")
           + " (the predicted bound divided by the smallest gradient entry)")

# %% [markdown]
# The same error model says why the document's check is fragile in single precision, which
# is what a default PyTorch tensor holds and what the document's code runs in: with
# $u = 2^{-24} \approx 6\times10^{-8}$ and a loss near 0.7 the rounding term is
# $10 \cdot 6\times 10^{-8} \cdot 0.7 / 10^{-5} \approx 4\times10^{-2}$ at worst, and even a
# tenth of that is far above $10^{-4}$ times the gradient entries here, which range from
# $4\times10^{-4}$ to $0.27$. Repeating the check in float32 shows it:

# %%
numeric32, backprop32, loss32 = gradient_check(*(jnp.asarray(v, jnp.float32)
                                                  for v in (theta_c, X_small, Y_small)))
error32 = jnp.abs(numeric32 - backprop32).astype(jnp.float64)
relative32 = error32 / (jnp.abs(numeric32).astype(jnp.float64) + 1e-8)
bound32 = 10 * 2.0 ** -24 * float(loss32) / 1e-5
print("float32, ε = 1e-5: " + residual(jnp.max(error32), bound32, "|numeric - backprop|")
      + "; " + residual(jnp.max(relative32), 1e-4, "relative error", above=True))
check_that("deriv.gradcheck", "fd", bool(jnp.max(error32) <= bound32),
           "float32: " + residual(jnp.max(error32), bound32, "error")
           + " (the rounding bound of the same model), so its relative error above the "
           "document's 1e-4 is the finite difference's rounding, not an error in backprop")

# %% [markdown]
# ## What a backward pass costs
#
# The document says the backward pass costs the same order of work as the forward pass,
# $O(\sum_l n^{[l-1]} n^{[l]})$, proportional to the number of parameters, and must keep
# every layer's activations, $O(\sum_l n^{[l]})$ numbers per sample. Work is counted here
# with XLA's own cost analysis of the compiled programs, which is exact and the same on
# every run, instead of with a clock.
#
# The prediction, stated before measuring: per layer the forward pass does one matrix
# product, $W^{[l]} A^{[l-1]}$, and the backward pass does two: $\Delta^{[l]}$ times
# $A^{[l-1]\mathsf T}$ for the weights, and $W^{[l]\mathsf T}\Delta^{[l]}$ for the error one
# layer down. The
# gradient program also reruns the forward pass, so it should cost about 3 times the
# forward pass (a little less, since the first layer's error need not be passed to the
# input), and the elementwise work is too small to change that much. The check asks for the
# ratio to stay below **4** at every size.
#
# The networks: 16 inputs, equal hidden widths $n$ with ReLU, one sigmoid output, mean
# binary cross-entropy, a batch of 50 samples; widths grow at depth 3 and depths grow at
# width 64.

# %%
BATCH = 50


def mlp_loss(params, X, Y):
    A = X
    for W, b in params[:-1]:
        A = relu(W @ A + b[:, None])
    W, b = params[-1]
    Y_hat = sigmoid(W @ A + b[:, None])
    return -jnp.mean(Y * jnp.log(Y_hat) + (1 - Y) * jnp.log(1 - Y_hat))


def mlp(width, depth, seed=0):
    rng = np.random.default_rng(seed)
    widths = [16] + [width] * depth + [1]
    params = [(jnp.asarray(rng.standard_normal((m, n)) / np.sqrt(n)), jnp.zeros(m))
              for n, m in zip(widths[:-1], widths[1:])]
    X = jnp.asarray(rng.standard_normal((16, BATCH)))
    Y = jnp.asarray(rng.integers(0, 2, (1, BATCH)).astype(float))
    return widths, params, X, Y


def flops(f, *args):
    return jax.jit(f).lower(*args).compile().cost_analysis()["flops"]


def saved_for_backward(params, X, Y):
    """How many numbers with one column per sample jax.vjp keeps for the backward pass."""
    _, pullback = jax.vjp(mlp_loss, params, X, Y)
    return sum(a.size for a in jax.tree_util.tree_leaves(pullback)
               if a.ndim == 2 and a.shape[1] == BATCH)


def measure(width, depth):
    widths, params, X, Y = mlp(width, depth)
    forward_flops = flops(mlp_loss, params, X, Y)
    gradient_flops = flops(jax.grad(mlp_loss), params, X, Y)
    return dict(width=width, depth=depth, parameters=n_parameters(widths),
                neurons=sum(widths), forward=forward_flops, gradient=gradient_flops,
                ratio=gradient_flops / forward_flops, saved=saved_for_backward(params, X, Y))


by_width = [measure(n, 3) for n in (16, 32, 64, 128, 256)]
by_depth = [measure(64, d) for d in (1, 2, 4, 8)]

# %%
print(f"{'width':>5} {'depth':>5} {'params':>7} {'forward flops':>14} {'gradient flops':>15}"
      f" {'ratio':>6} {'flops/(B·params)':>17}")
for m in by_width + by_depth:
    print(f"{m['width']:>5} {m['depth']:>5} {m['parameters']:>7} {m['forward']:>14,.0f} "
          f"{m['gradient']:>15,.0f} {m['ratio']:>6.2f} "
          f"{m['forward'] / (BATCH * m['parameters']):>17.2f}")

# %% [markdown]
# The forward work per sample and parameter stays at 2 (one multiply and one add per
# weight), so the forward pass is $O(\text{parameters})$ per sample. The gradient costs
# close to 3 forward passes, as predicted: about 2.2 for a single hidden layer, whose error
# is never passed on to the input so that one of its three products is skipped, rising
# towards 3 as that saving matters less in wider and deeper networks.

# %%
ratios = [m["ratio"] for m in by_width + by_depth]
check_that("deriv.complexity", "measured", max(ratios) < 4,
           f"gradient flops / forward flops stays between {min(ratios):.2f} and "
           f"{max(ratios):.2f} for widths 16–256 and depths 1–8, below the stated bound 4")

# %% [markdown]
# Memory: `jax.vjp` returns the backward pass as a function, and the arrays that function
# holds are what the backward pass keeps from the forward pass. Counting only the arrays with
# one column per sample (the activations; the others are the weights themselves), and
# dividing by $B$ times the number of neurons $\sum_{l=0}^{L} n^{[l]}$, input and output
# included: the check asks, before looking, for a count between 1 and 3 numbers per neuron
# and sample at every size, which is what $O(\text{neurons})$ memory means here. For these
# ReLU networks JAX keeps two such arrays per hidden layer (the layer's output, which the
# next weight gradient needs, and what the ReLU's slope needs), plus the input and a few
# rows for the single output unit.

# %%
per_neuron = [m["saved"] / (BATCH * m["neurons"]) for m in by_width + by_depth]
for m, r in zip(by_width + by_depth, per_neuron):
    print(f"width {m['width']:>3}, depth {m['depth']}: {m['neurons']:>4} neurons, "
          f"{m['saved']:>7,} numbers kept, {r:.2f} per neuron and sample")
check_that("deriv.complexity", "measured", 1 <= min(per_neuron) and max(per_neuron) <= 3,
           f"numbers kept for the backward pass per neuron and sample stay between "
           f"{min(per_neuron):.2f} and {max(per_neuron):.2f} while neurons grow from "
           f"{min(m['neurons'] for m in by_width + by_depth)} to "
           f"{max(m['neurons'] for m in by_width + by_depth)}")

# %%
fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
axes[0].plot([m["width"] for m in by_width], [m["ratio"] for m in by_width], "o-")
axes[0].set_xscale("log", base=2)
axes[0].set_xlabel("hidden width (depth 3)")
axes[1].plot([m["depth"] for m in by_depth], [m["ratio"] for m in by_depth], "o-")
axes[1].set_xlabel("depth (width 64)")
for ax in axes[:2]:
    ax.axhline(3, color="gray", linestyle=":", label="3 (three matrix products per layer)")
    ax.axhline(4, color="red", linestyle="--", label="the stated bound 4")
    ax.set_ylim(0, 4.5)
    ax.set_ylabel("gradient flops / forward flops")
axes[0].legend(loc="lower right", fontsize=8)
everything = by_width + by_depth
cells = np.array([BATCH * m["neurons"] for m in everything])
axes[2].plot(cells, [m["saved"] for m in everything], "o")
axes[2].plot([0, cells.max()], [0, 2 * cells.max()], color="gray", linestyle=":",
             label="2 per neuron and sample")
axes[2].legend(loc="upper left", fontsize=8)
axes[2].set_xlabel("batch × neurons")
axes[2].set_ylabel("numbers kept for backward")
fig.tight_layout()
show_figure(fig, "gradient-to-forward flop ratio against width and depth, between 2.2 and 3, "
                 "and the numbers kept for the backward pass, growing in proportion to "
                 "batch × neurons")

# %%
summary()
