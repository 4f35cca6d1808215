# %% [markdown] tags=["solution"]
# # 02 · Gate patterns: add, multiply, copy, max
#
# Backpropagation through a large graph never needs more than a handful of node types, and
# each of them treats the gradient arriving from above in a characteristic way: an add node
# hands it on unchanged, a multiply node scales it by the *other* input, a value that is
# used twice collects the sum of what both uses send back, and a max node sends everything
# to whichever input won. Once these four patterns are familiar, a backward pass can be read
# off a graph without writing a derivative.
#
# This notebook proves the four patterns as stated in “Backpropagation” (kang), §4.1–4.4, in
# “Backpropagation, Once and for all!”, sections *Add Gate*, *Multiply Gate*, *Max Gate* and
# *Copy Gate*, and in “Deep Learning: Backpropagation” (Yook), eq. (1.1)–(1.2). SymPy proves
# each rule with an arbitrary loss downstream of the gate; JAX's autodiff and finite
# differences then check it in float64. The max gate gets extra care, because at a tie the
# documents' rule and JAX's choose different values, and both are shown.

# %%
import sympy as sp
from gradbook import *

verifies("kang.4.add", "kang.4.mul", "kang.4.copy", "kang.4.max",
         "once.add", "once.mul", "once.max", "once.copy", "yook.add")

# %% [markdown]
# ## The upstream gradient
#
# A gate's output feeds the rest of the graph, which ends in a scalar loss. We write that
# remainder as an undefined function $\ell$, so nothing is assumed about it, and call
# $g = \ell'$, evaluated at the gate's output, the *upstream gradient*. Every rule below says
# how a gate turns $g$ into the gradients of its inputs.

# %%
a, b, g, t = sp.symbols("a b g t", real=True)
ell = sp.Function("ell")


def upstream_at(out, rest=ell):
    """g: the derivative of the rest of the graph, taken where the gate's output is `out`."""
    return sp.Subs(sp.Derivative(rest(t), t), t, out)

# %% [markdown] tags=["solution"]
# ## Add gate
#
# For $s = a + b$ (kang §4.1) each input moves the output one-for-one, so both local
# gradients are 1:

# %% tags=["solution"]
prove_equal("kang.4.add", sp.Derivative(a + b, a), 1, box=False)
prove_equal("kang.4.add", sp.Derivative(a + b, b), 1, box=False)

# %% [markdown] tags=["solution"]
# With the loss $\ell(a + b)$ downstream, the chain rule multiplies the upstream gradient by
# a local gradient of 1, which leaves it as it was: both inputs receive $g$ itself.

# %% tags=["solution"]
add_gate = {g: upstream_at(a + b)}
for inp in (a, b):
    with sp.evaluate(False):
        steps = [
            sp.Derivative(ell(a + b), inp),
            (sp.Mul(g, sp.Derivative(a + b, inp)), "chain rule: upstream times local"),
            (g, "the local gradient is 1"),
        ]
    prove_chain("kang.4.add", *steps, where=add_gate)

# %% [markdown] tags=["solution"]
# In kang's worked example of §2 this is exactly the add node $q = x + y$ at $x = -2$,
# $y = 5$, whose upstream gradient is $\partial f/\partial q = z = -4$: both inputs get
# $-4$. The claimed backward rule, "give $g$ to both inputs", matches JAX's vector-Jacobian
# product there and at seeded random inputs and upstream gradients:

# %% tags=["solution"]
def add(a, b):
    return a + b


check_vjp("kang.4.add", add, lambda a, b, g: (g, g), at=(-2.0, 5.0), cotangent=-4.0,
          wrt=("a", "b"), at_label="kang's §2 add node")

# %% [markdown] tags=["solution"]
# Drawn as a graph (traced from the code, numbers computed by JAX), with the upstream
# gradient $-4$ supplied by a multiply by $-4$ after the gate: the red gradient arriving at
# the $+$ node leaves it unchanged along both inputs.

# %% tags=["solution"]
def add_then_scale(a, b):
    return named(add(a, b), "s") * -4.0


add_graph = draw_graph(add_then_scale, -2.0, 5.0, output="L")
add_graph.check_printed("kang.4.add", grads={"s": "-4", "a": "-4", "b": "-4"})

# %% [markdown] tags=["solution"]
# Yook writes the same node as $y = x_1 + x_2$ feeding some function $f(y)$, eq. (1.1), and
# notes in eq. (1.2) that both partial derivatives are 1:

# %% tags=["solution"]
x1, x2 = sp.symbols("x1 x2", real=True)
f_down = sp.Function("f")
prove_equal("yook.add", sp.Derivative(x1 + x2, x1), 1, box=False)
prove_equal("yook.add", sp.Derivative(x1 + x2, x2), 1, box=False)

# %% [markdown] tags=["solution"]
# So the $+$ node passes the upstream derivative, here $g = f'(y)$ at $y = x_1 + x_2$,
# straight to both branches:

# %% tags=["solution"]
plus_node = {g: upstream_at(x1 + x2, rest=f_down)}
for xi in (x1, x2):
    with sp.evaluate(False):
        steps = [
            sp.Derivative(f_down(x1 + x2), xi),
            (sp.Mul(g, sp.Derivative(x1 + x2, xi)), "chain rule: upstream times local"),
            (g, r"$\partial y / \partial x_i = 1$"),
        ]
    prove_chain("yook.add", *steps, where=plus_node)

# %% [markdown] tags=["solution"]
# “Backpropagation, Once and for all!” (*Add Gate*) looks at one input at a time, holding
# the other fixed: with the other input equal to 4 the gate is $f(x) = x + 4$, whose slope
# is 1.

# %% tags=["solution"]
xs = sp.Symbol("x", real=True)
prove_equal("once.add", sp.Derivative(xs + 4, xs), 1)
check_gradient("once.add", lambda x: x + 4.0, lambda x: 1.0, at=None,
               sample=lambda rng: (float(rng.standard_normal()),))

# %% [markdown] tags=["solution"]
# Hence both inputs of $y = x_1 + x_2$ receive $\partial L/\partial y$ unchanged. With $L$
# any function $\ell$ of $y$ and $g$ its derivative there, SymPy confirms
# $\partial L/\partial x_1 = \partial L/\partial x_2 = g$, and JAX agrees at random points:

# %% tags=["solution"]
once_add = {g: upstream_at(x1 + x2)}
prove_equal("once.add", sp.Derivative(ell(x1 + x2), x1), g, where=once_add)
prove_equal("once.add", sp.Derivative(ell(x1 + x2), x2), g, where=once_add)


def add_x(x1, x2):
    return x1 + x2


check_vjp("once.add", add_x, lambda x1, x2, g: (g, g), at=None, wrt=("x1", "x2"),
          sample=lambda rng: tuple(float(v) for v in rng.standard_normal(2)))

# %%
exercise("kang.4.add",
         r"An add gate $s = a + b$ sits inside a graph, and the rest of the graph sends back the "
         r"upstream gradient $g = \partial L/\partial s$. Find $\left(\dfrac{\partial L}{\partial "
         r"a}, \dfrac{\partial L}{\partial b}\right)$.",
         of="g*(a + b)", wrt=("a", "b"), answer="(g, g)",
         inputs={"a": "scalar", "b": "scalar", "g": "scalar"},
         example={"a": -2.0, "b": 5.0, "g": -4.0}, spellings=["lambda a, b, g: (g, g)"],
         same_as=lambda a, b, g: (g, g))

# %% [markdown] tags=["solution"]
# ## Multiply gate
#
# For $p = a\,b$ (kang §4.2) the local gradient with respect to one input is the value of
# the other input:

# %% tags=["solution"]
prove_equal("kang.4.mul", sp.Derivative(a * b, a), b, box=False)
prove_equal("kang.4.mul", sp.Derivative(a * b, b), a, box=False)

# %% [markdown] tags=["solution"]
# So the upstream gradient reaches each input scaled by the other one: the gate "swaps"
# its inputs on the way back.

# %% tags=["solution"]
mul_gate = {g: upstream_at(a * b)}
for inp, other in ((a, b), (b, a)):
    with sp.evaluate(False):
        steps = [
            sp.Derivative(ell(a * b), inp),
            (sp.Mul(g, sp.Derivative(a * b, inp)), "chain rule: upstream times local"),
            (sp.Mul(g, other), "the local gradient is the other input"),
        ]
    prove_chain("kang.4.mul", *steps, where=mul_gate)

# %% [markdown] tags=["solution"]
# In kang's §2 graph the multiply node $f = q\,z$ has $q = 3$, $z = -4$ and upstream
# gradient $\partial f/\partial f = 1$, so the rule hands $z = -4$ to $q$ and $q = 3$ to $z$.
# JAX agrees there and at random points:

# %% tags=["solution"]
def mul(a, b):
    return a * b


check_vjp("kang.4.mul", mul, lambda a, b, g: (g * b, g * a), at=(3.0, -4.0), cotangent=1.0,
          wrt=("a", "b"), at_label="kang's §2 multiply node")

# %% [markdown] tags=["solution"]
# On a graph, with an upstream gradient of 2: each input of the $\times$ node receives 2
# times the *other* input's value, $2 \cdot (-4) = -8$ for $a$ and $2 \cdot 3 = 6$ for $b$.

# %% tags=["solution"]
def mul_then_scale(a, b):
    return named(mul(a, b), "p") * 2.0


mul_graph = draw_graph(mul_then_scale, 3.0, -4.0, output="L")
mul_graph.check_printed("kang.4.mul", grads={"p": "2", "a": "-8", "b": "6"})

# %% [markdown] tags=["solution"]
# “Backpropagation, Once and for all!” (*Multiply Gate*) again fixes one input: with the
# other equal to 3 the gate is $f(x) = 3x$, slope 3.

# %% tags=["solution"]
prove_equal("once.mul", sp.Derivative(3 * xs, xs), 3)
check_gradient("once.mul", lambda x: 3.0 * x, lambda x: 3.0, at=None,
               sample=lambda rng: (float(rng.standard_normal()),))

# %% [markdown] tags=["solution"]
# In general, for $y = x_1 x_2$ the partial derivatives are $x_2$ and $x_1$, and the backward
# rule multiplies them by $g = \partial L/\partial y$. SymPy proves both, and JAX's
# vector-Jacobian product agrees at random points:

# %% tags=["solution"]
prove_equal("once.mul", sp.Derivative(x1 * x2, x1), x2, box=False)
prove_equal("once.mul", sp.Derivative(x1 * x2, x2), x1, box=False)
once_mul = {g: upstream_at(x1 * x2)}
prove_equal("once.mul", sp.Derivative(ell(x1 * x2), x1), g * x2, where=once_mul)
prove_equal("once.mul", sp.Derivative(ell(x1 * x2), x2), g * x1, where=once_mul)


def mul_x(x1, x2):
    return x1 * x2


check_vjp("once.mul", mul_x, lambda x1, x2, g: (g * x2, g * x1), at=None, wrt=("x1", "x2"),
          sample=lambda rng: tuple(float(v) for v in rng.standard_normal(2)))

# %%
exercise("kang.4.mul",
         r"A multiply gate $p = a\,b$ receives the upstream gradient $g = \partial L/\partial p$. "
         r"Find $\left(\dfrac{\partial L}{\partial a}, \dfrac{\partial L}{\partial b}\right)$.",
         of="g*(a*b)", wrt=("a", "b"), answer="(g*b, g*a)",
         inputs={"a": "scalar", "b": "scalar", "g": "scalar"},
         example={"a": 3.0, "b": -4.0, "g": 1.0}, spellings=["(g * b, g * a)"],
         same_as=lambda a, b, g: (g * b, g * a))

# %% [markdown] tags=["solution"]
# ## Copy gate: gradients add
#
# When one value $v$ feeds two branches, whose contributions to the loss are
# $\mathcal L_1(v)$ and $\mathcal L_2(v)$ (kang §4.3), the loss is their sum and its
# derivative is the sum of the branch derivatives. To see the copy explicitly, give the two
# uses their own names $v_1 = v_2 = v$: the chain rule runs once through each copy, and each
# copy's local gradient is 1. Both $\mathcal L_1$ and $\mathcal L_2$ are arbitrary:

# %% tags=["solution"]
v, v1, v2 = sp.symbols("v v1 v2", real=True)
L1, L2 = sp.Function("L_1"), sp.Function("L_2")
copies = {v1: v, v2: v}
with sp.evaluate(False):
    through_copies = sp.Add(sp.Mul(sp.Derivative(L1(v1), v1), sp.Derivative(v1, v)),
                            sp.Mul(sp.Derivative(L2(v2), v2), sp.Derivative(v2, v)))
    branch_sum = sp.Add(sp.Derivative(L1(v1), v1), sp.Derivative(L2(v2), v2))
prove_chain("kang.4.copy", sp.Derivative(L1(v) + L2(v), v),
            (through_copies, "chain rule through each copy"),
            (branch_sum, "each copy has local gradient 1"), where=copies)

# %% [markdown] tags=["solution"]
# A concrete pair of branches, $\mathcal L_1 = \sin v$ and $\mathcal L_2 = v^3$, gives
# $\cos v + 3v^2$; JAX and finite differences agree:

# %% tags=["solution"]
def two_branches(v):
    return jnp.sin(v) + v ** 3


check_gradient("kang.4.copy", two_branches, lambda v: jnp.cos(v) + 3 * v ** 2, at=None,
               sample=lambda rng: (float(rng.standard_normal()),))

# %% [markdown] tags=["solution"]
# The graph of this function at $v = 0.5$ shows the fan-out as a branch point. Each edge
# leaving it carries its own branch's gradient, $\cos 0.5$ into the sine and
# $3 \cdot 0.5^2 = 0.75$ into the cube, and the edge into it carries their sum:

# %% tags=["solution"]
copy_graph = draw_graph(two_branches, 0.5)
check_close("kang.4.copy", "jax", "the summed gradient on the graph and cos v + 3v² at v = 0.5",
            jnp.cos(0.5) + 3 * 0.5 ** 2, copy_graph.grad("v"))

# %% [markdown] tags=["solution"]
# “Backpropagation, Once and for all!” (*Copy Gate*) states the general case: $x$ is copied
# to $y_1, \dots, y_n$, and $\partial L/\partial x = \sum_i \partial L/\partial y_i$. The
# copy gate's output is the vector $(x, \dots, x)$, so its Jacobian is a column of ones,
# shown here for $n = 3$:

# %% tags=["solution"]
n = 3
copy_out = sp.Matrix([xs] * n)
prove_equal("once.copy", copy_out.applyfunc(lambda yi: sp.Derivative(yi, xs)), sp.ones(n, 1),
            box=False)

# %% [markdown] tags=["solution"]
# Let the loss be an arbitrary function $\Lambda(y_1, y_2, y_3)$ of the copies and write
# $g_i$ for its partial derivative in the $i$-th slot, taken at $y_1 = y_2 = y_3 = x$. The
# derivative of $\Lambda(x, x, x)$ is the sum of the three upstream gradients, one per copy:

# %% tags=["solution"]
Lam = sp.Function("Lambda")
gs = sp.symbols(f"g1:{n + 1}", real=True)


def slot_gradient(i):
    """∂Λ/∂y_i with every slot at x: vary slot i through t, hold the others at x."""
    slots = [t if k == i else xs for k in range(n)]
    return sp.Subs(sp.Derivative(Lam(*slots), t), t, xs)


slot_gradients = {gi: slot_gradient(i) for i, gi in enumerate(gs)}
prove_equal("once.copy", sp.Derivative(Lam(*(xs,) * n), xs), sum(gs), where=slot_gradients)

# %% [markdown] tags=["solution"]
# In code the copy gate is `jnp.stack([x, x, x])`, and its backward rule is "sum the
# incoming gradients". JAX's vector-Jacobian product agrees at random $x$ and random
# upstream vectors:

# %% tags=["solution"]
def copy3(x):
    return jnp.stack([x, x, x])


check_vjp("once.copy", copy3, lambda x, g: jnp.sum(g), at=None,
          sample=lambda rng: (float(rng.standard_normal()),))

# %% [markdown] tags=["solution"]
# And end to end, with $\Lambda(y_1,y_2,y_3) = y_1 y_2 + \sin y_3$ after the copy: the three
# slot gradients are $y_2$, $y_1$ and $\cos y_3$, whose sum at the copies is
# $2x + \cos x$:

# %% tags=["solution"]
def copied_loss(x):
    y = copy3(x)
    return y[0] * y[1] + jnp.sin(y[2])


check_gradient("once.copy", copied_loss, lambda x: x + x + jnp.cos(x), at=None,
               sample=lambda rng: (float(rng.standard_normal()),))

# %%
exercise("once.copy",
         r"A value $x$ is copied three times, $y_1 = y_2 = y_3 = x$, and the copies feed "
         r"$L = y_1 y_2 + \sin y_3$. Find $\dfrac{\partial L}{\partial x}$ as a formula in $x$ "
         r"(or in the copies).",
         of="y1*y2 + sin(y3)", wrt="x", answer="y2 + y1 + cos(y3)", inputs={"x": "scalar"},
         where={"y1": "x", "y2": "x", "y3": "x"},
         spellings=["x + x + jnp.cos(x)", r"2x + \cos x"], same_as=lambda x: x + x + jnp.cos(x))

# %% [markdown] tags=["solution"]
# ## Max gate
#
# For $m = \max(a, b)$ (kang §4.4) the output simply *is* the larger input, so near any
# point without a tie the gate behaves like that input and ignores the other. SymPy proves
# the two cases from `Max` itself. To state "$a > b$" in a form SymPy can use, write
# $a = b + d$ with $d > 0$, and the other way round for "$b > a$":

# %% tags=["solution"]
d = sp.Symbol("d", positive=True)
m = sp.Max(a, b)
grad_m = sp.Matrix([sp.Derivative(m, a), sp.Derivative(m, b)])
prove_equal("kang.4.max", sp.Subs(grad_m, a, b + d), sp.Matrix([1, 0]))
prove_equal("kang.4.max", sp.Subs(grad_m, b, a + d), sp.Matrix([0, 1]))

# %% [markdown] tags=["solution"]
# The same holds for the piecewise form of the definition, which is how both documents
# argue it (take the winning branch, then differentiate):

# %% tags=["solution"]
m_cases = sp.Piecewise((a, a > b), (b, True))
grad_cases = sp.Matrix([sp.Derivative(m_cases, a), sp.Derivative(m_cases, b)])
prove_equal("kang.4.max", sp.Subs(grad_cases, a, b + d), sp.Matrix([1, 0]), box=False)
prove_equal("kang.4.max", sp.Subs(grad_cases, b, a + d), sp.Matrix([0, 1]), box=False)

# %% [markdown] tags=["solution"]
# With the upstream gradient, the gate *routes*: the winner receives all of $g$ and the
# loser nothing. Here for $a > b$, where $g = \ell'$ at the output $m = a$:

# %% tags=["solution"]
routed = sp.Matrix([sp.Derivative(ell(m), a), sp.Derivative(ell(m), b)])
prove_equal("kang.4.max", sp.Subs(routed, a, b + d), sp.Matrix([g, 0]),
            where={g: upstream_at(b + d)})

# %% [markdown] tags=["solution"]
# Numerically, the routing rule matches JAX's `jnp.maximum` at random points with a clear
# winner, once with $a > b$ and once with $b > a$. The inputs are drawn at least 0.1 apart,
# so no point is a tie and every finite difference stays on one side.

# %% tags=["solution"]
def a_wins(rng):
    b, gap = rng.standard_normal(), rng.uniform(0.1, 2.0)
    return float(b + gap), float(b)


def b_wins(rng):
    return a_wins(rng)[::-1]


def max_gate(a, b):
    return jnp.maximum(a, b)


def route(a, b, g):
    return jnp.where(a > b, g, 0.0), jnp.where(b > a, g, 0.0)


check_vjp("kang.4.max", max_gate, route, at=None, sample=a_wins, wrt=("a", "b"))
check_vjp("kang.4.max", max_gate, route, at=None, sample=b_wins, wrt=("a", "b"))

# %% [markdown] tags=["solution"]
# On a graph at $a = 3$, $b = -1$ with an upstream gradient of 2, the max node routes all of
# it to the winner $a$ and nothing to $b$:

# %% tags=["solution"]
def max_then_scale(a, b):
    return named(max_gate(a, b), "m") * 2.0


max_graph = draw_graph(max_then_scale, 3.0, -1.0, output="L")
max_graph.check_printed("kang.4.max", grads={"m": "2", "a": "2", "b": "0"})

# %% [markdown] tags=["solution"]
# “Backpropagation, Once and for all!” (*Max Gate*) writes the rule as two indicator
# functions, $\partial y/\partial x_1 = 1$ if $x_1 > x_2$ and 0 otherwise, and the same for
# $x_2$. Each indicator uses a *strict* inequality of its own. Away from a tie the rule is
# the derivative of `Max`, in both orders:

# %% tags=["solution"]
rule = sp.Matrix([sp.Piecewise((1, x1 > x2), (0, True)),
                  sp.Piecewise((1, x2 > x1), (0, True))])
grad_y = sp.Matrix([sp.Derivative(sp.Max(x1, x2), x1), sp.Derivative(sp.Max(x1, x2), x2)])
prove_chain("once.max", sp.Subs(grad_y, x1, x2 + d), sp.Subs(rule, x1, x2 + d),
            sp.Matrix([1, 0]))
prove_chain("once.max", sp.Subs(grad_y, x2, x1 + d), sp.Subs(rule, x2, x1 + d),
            sp.Matrix([0, 1]))

# %% [markdown] tags=["solution"]
# In code the indicator rule is two `jnp.where`s, and it matches `jax.grad` and finite
# differences at untied random points on either side:

# %% tags=["solution"]
def y_max(x1, x2):
    return jnp.maximum(x1, x2)


def indicator_rule(x1, x2):
    return jnp.where(x1 > x2, 1.0, 0.0), jnp.where(x2 > x1, 1.0, 0.0)


check_gradient("once.max", y_max, indicator_rule, at=None, sample=a_wins, wrt=("x1", "x2"))
check_gradient("once.max", y_max, indicator_rule, at=None, sample=b_wins, wrt=("x1", "x2"))

# %% [markdown] tags=["solution"]
# ## At a tie, two conventions
#
# When $x_1 = x_2$ the max is not differentiable, and any backward rule has to pick a
# value. The documents' indicator rule, read literally, gives **0 to both inputs**, since
# neither strict inequality holds. SymPy evaluates it at the tie:

# %% tags=["solution"]
prove_equal("once.max", sp.Subs(rule, x1, x2), sp.Matrix([0, 0]))

# %% [markdown] tags=["solution"]
# JAX makes a different choice: `jax.grad` of `jnp.maximum` splits the gradient, **0.5 to
# each input**. The next cell records JAX's value at the tie $x_1 = x_2 = 1.5$; the check
# fails if JAX ever returns anything but $(0.5, 0.5)$:

# %% tags=["solution"]
jax_at_tie = jax.grad(jnp.maximum, argnums=(0, 1))(1.5, 1.5)
check_close("once.max", "jax", "jax.grad of jnp.maximum at the tie (1.5, 1.5) and the split "
            "convention (0.5, 0.5)", [0.5, 0.5], jax_at_tie)

# %% [markdown] tags=["solution"]
# SymPy's own derivative of `Max` sides with JAX. It differentiates $\max(x_1, x_2)$ into a
# Heaviside step of $x_1 - x_2$, and defines the step at 0 as $\tfrac12$, so at the tie
# it too gives half to each input (unlike the piecewise rule above, which is a different
# expression that merely agrees with it away from the tie):

# %% tags=["solution"]
prove_equal("once.max", sp.Subs(grad_y, x1, x2), sp.Matrix([sp.Rational(1, 2)] * 2))

# %% [markdown] tags=["solution"]
# Which is better? Moving both inputs together by $h$ moves $\max(x, x) = x$ by exactly $h$,
# so a sensible gradient at a tie should have entries summing to 1, as every convex mix
# $(\theta, 1-\theta)$ does. JAX's $(0.5, 0.5)$ satisfies this, and a central finite
# difference along $(1, 1)$ confirms the slope of 1. The documents' $(0, 0)$ does not: at an
# exact tie it drops the upstream gradient altogether. Ties have probability zero for
# continuous inputs, so in practice the choice rarely matters. (The step $h = 2^{-20}$ is a
# power of two, so the difference quotient is computed without rounding.)

# %% tags=["solution"]
h = 2.0 ** -20
along_diagonal = (jnp.maximum(1.5 + h, 1.5 + h) - jnp.maximum(1.5 - h, 1.5 - h)) / (2 * h)
check_close("once.max", "fd", "the slope of max along (1, 1) at the tie, by central "
            "difference, and the sum 0.5 + 0.5 of JAX's tie gradient",
            jax_at_tie[0] + jax_at_tie[1], along_diagonal)

# %% [markdown] tags=["solution"]
# The ReLU, $\max(x, 0)$, is a max gate with one constant input, and its tie is at $x = 0$.
# There JAX's two spellings disagree with each other: `jax.nn.relu` follows the
# documents' convention and returns slope **0**, while `jnp.maximum(x, 0.)` splits the tie
# and returns **0.5**. Both values are recorded as checks that fail if JAX changes:

# %% tags=["solution"]
check_close("once.max", "jax", "jax.grad of jax.nn.relu at 0 and the documents' convention, "
            "0", 0.0, jax.grad(jax.nn.relu)(0.0))
check_close("once.max", "jax", "jax.grad of jnp.maximum(x, 0.) at x = 0 and the split "
            "convention, 0.5", 0.5, jax.grad(lambda x: jnp.maximum(x, 0.0))(0.0))

# %%
exercise("kang.4.max",
         r"A max gate $m = \max(a, b)$ receives the upstream gradient $g = \partial L/\partial m$. "
         r"Find $\left(\dfrac{\partial L}{\partial a}, \dfrac{\partial L}{\partial b}\right)$. "
         r"At a tie, $a = b$, follow the documents' convention: neither input receives anything.",
         of="g*max(a, b)", wrt=("a", "b"), answer="(g*(a > b), g*(b > a))",
         inputs={"a": "scalar", "b": "scalar", "g": "scalar"},
         example={"a": 3.0, "b": -1.0, "g": 2.0}, ties=[{"a": 1.5, "b": 1.5, "g": 2.0}],
         spellings=["jnp.where(a > b, g, 0.0), jnp.where(b > a, g, 0.0)"], same_as=route)

# %%
summary()
