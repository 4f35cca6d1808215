# %% [markdown]
# # 01 · Computational graphs and the chain rule
#
# A computational graph breaks a formula into small nodes, each of which knows only its own
# inputs and output. The forward pass evaluates the nodes in order; the backward pass walks
# them in reverse, and at every node multiplies the gradient arriving from above (the
# *upstream* gradient) by the node's own derivative (the *local* gradient). Nothing more than
# the chain rule is involved, and this notebook proves that rule in the three forms the
# documents state it.
#
# It follows the worked scalar example $f(x,y,z) = (x+y)\,z$ of “Backpropagation” (kang),
# §2.1–2.2, and the scalar chain rule of its §3.1; the two-path chain rule of
# “Backpropagation, Once and for all!”, section *Chain Rule Refresher*; and the multivariate
# chain rule $\nabla_{\mathbf x} f = \mathbf J_{\mathbf g}^\top \nabla_{\mathbf g} f$ of
# “Backpropagation Derivation”, section *Chain Rule Foundation*. SymPy proves each equals
# sign; JAX in float64 and central finite differences then check the results at numbers.

# %%
import sympy as sp
from gradbook import *

verifies("kang.2.forward", "kang.2.local", "kang.2.result",
         "kang.3.chain", "once.chain", "deriv.chain")

# %% [markdown]
# ## The graph
#
# The formula has two nodes. An add node combines $x$ and $y$ into an intermediate value
# $q = x + y$, and a multiply node combines $q$ with $z$ into the output $f = q\,z$. The
# forward function below is written node by node, exactly in that order; `named` attaches
# the name $q$ to the intermediate value, so that the drawing of the graph further down can
# label it.

# %%
def f(x, y, z):
    q = named(x + y, "q")
    return q * z

# %% [markdown]
# ## Forward pass
#
# kang evaluates the graph at $x=-2$, $y=5$, $z=-4$. SymPy does the same arithmetic exactly,
# node by node, and the two printed values come out as stated: the add node gives $q = 3$
# and the multiply node $f = 3 \cdot (-4) = -12$.

# %%
x, y, z = sp.symbols("x y z", real=True)
point = {x: -2, y: 5, z: -4}

q_value = (x + y).subs(point)
f_value = ((x + y) * z).subs(point)
check_printed("kang.2.forward", "q = x + y", q_value, "3")
check_printed("kang.2.forward", "f = q z", f_value, "-12")

# %% [markdown]
# The JAX forward pass, in floating point, must reach the same value as SymPy's exact one:

# %%
check_close("kang.2.forward", "jax", "f(-2, 5, -4) from JAX and from SymPy",
            float(f_value), f(-2.0, 5.0, -4.0))

# %% [markdown] tags=["solution"]
# ## Step A: the multiply node's local gradients
#
# Seen from the multiply node alone, $q$ and $z$ are two independent inputs; how $q$ was made
# does not matter yet. Differentiating the product by one factor leaves the other factor:

# %% tags=["solution"]
q = sp.Symbol("q", real=True)
df_dq = prove_equal("kang.2.local", sp.Derivative(q * z, q), z, box=False)
df_dz = prove_equal("kang.2.local", sp.Derivative(q * z, z), q, box=False)

# %% [markdown] tags=["solution"]
# At the forward values $q = 3$ and $z = -4$, each local gradient is the *other* input's
# value, which is what kang prints:

# %% tags=["solution"]
at_node = {q: q_value, z: point[z]}
check_printed("kang.2.local", "(∂f/∂q, ∂f/∂z) at q = 3, z = -4", [df_dq.value.subs(at_node), df_dz.value.subs(at_node)],
              ["-4", "3"])

# %% [markdown] tags=["solution"]
# ## Step B: the add node's local gradients
#
# A sum changes one-for-one with each of its terms, so both local gradients of the add node
# are the constant 1, whatever $x$ and $y$ are:

# %% tags=["solution"]
dq_dx = prove_equal("kang.2.local", sp.Derivative(x + y, x), 1, box=False)
dq_dy = prove_equal("kang.2.local", sp.Derivative(x + y, y), 1, box=False)
check_printed("kang.2.local", "(∂q/∂x, ∂q/∂y)", [dq_dx.value, dq_dy.value], ["1", "1"])

# %% [markdown] tags=["solution"]
# ## The chain rule through $q$
#
# Now $q$ is no longer a free input: it is the add node's output, a function $q(x, y)$ that
# equals $x + y$. The input $x$ reaches $f$ only through $q$, so its gradient is the upstream
# gradient $\partial f/\partial q$ times the local gradient $\partial q/\partial x$. SymPy
# proves each line, the chain rule itself included, with $q(x,y)$ replaced by $x + y$:

# %% tags=["solution"]
q_of = sp.Function("q")(x, y)
add_node = {q_of: x + y}
with sp.evaluate(False):
    wrt_x = [
        sp.Derivative(q_of * z, x),
        (sp.Mul(sp.Derivative(q_of * z, q_of), sp.Derivative(q_of, x)),
         r"chain rule through $q$"),
        (z, r"$\frac{\partial f}{\partial q} = z$ (step A), $\frac{\partial q}{\partial x} = 1$ (step B)"),
    ]
prove_chain("kang.2.result", *wrt_x, where=add_node, box=False)

# %% [markdown] tags=["solution"]
# The same two factors serve $y$, because the add node treats its two inputs alike:

# %% tags=["solution"]
with sp.evaluate(False):
    wrt_y = [
        sp.Derivative(q_of * z, y),
        (sp.Mul(sp.Derivative(q_of * z, q_of), sp.Derivative(q_of, y)),
         r"chain rule through $q$"),
        (z, r"$\frac{\partial f}{\partial q} = z$ (step A), $\frac{\partial q}{\partial y} = 1$ (step B)"),
    ]
prove_chain("kang.2.result", *wrt_y, where=add_node, box=False)

# %% [markdown] tags=["solution"]
# The input $z$ feeds the multiply node directly, so there is no chain to follow: its
# gradient is the local gradient of step A, $q$, which is $x + y$.

# %% tags=["solution"]
prove_chain("kang.2.result", sp.Derivative(q_of * z, z), q_of,
            (x + y, "the add node"), where=add_node, box=False)

# %% [markdown] tags=["solution"]
# ## The boxed result
#
# Stacking the three results gives the gradient $(z,\; z,\; x + y)$; at $x=-2$, $y=5$,
# $z=-4$ it takes kang's boxed values:

# %% tags=["solution"]
gradient = sp.Matrix([sp.Derivative((x + y) * z, v) for v in (x, y, z)])
at_example = (tuple(point), tuple(point.values()))
prove_chain("kang.2.result", sp.Subs(gradient, *at_example),
            (sp.Subs(sp.Matrix([z, z, x + y]), *at_example), "the three chains above"),
            sp.Matrix([-4, -4, 3]))

# %% [markdown] tags=["solution"]
# In code, the derived gradient is $(z,\; z,\; x + y)$. JAX's autodiff and central finite
# differences agree with it at the worked example and at seeded random points, and at the
# worked example it reproduces the printed numbers.

# %% tags=["solution"]
def grad_f(x, y, z):
    return z, z, x + y


check_gradient("kang.2.result", f, grad_f, at=(-2.0, 5.0, -4.0), wrt=("x", "y", "z"))
check_printed("kang.2.result", "(∂f/∂x, ∂f/∂y, ∂f/∂z) at (-2, 5, -4)", grad_f(-2.0, 5.0, -4.0),
              ["-4", "-4", "3"])

# %%
exercise("kang.2.result",
         r"For $f(x, y, z) = (x + y)\,z$, find the gradient $\left(\dfrac{\partial f}{\partial x},"
         r" \dfrac{\partial f}{\partial y}, \dfrac{\partial f}{\partial z}\right)$ as formulas in"
         r" $x$, $y$, $z$, valid at every point, not only at the worked example.",
         of="(x + y)*z", wrt=("x", "y", "z"), answer="(z, z, x + y)",
         inputs={"x": "scalar", "y": "scalar", "z": "scalar"},
         example={"x": -2.0, "y": 5.0, "z": -4.0},
         spellings=[r"(z,\; z,\; x + y)", "return z, z, x + y"], same_as=grad_f)

# %% [markdown] tags=["solution"]
# ## The graph, drawn from the computation
#
# The picture below is not drawn by hand. gradbook traces `f` with JAX, draws one node per
# operation, and writes on every edge the value that flows forward (green, above the edge)
# and the gradient of $f$ with respect to that value (red, below it), both as JAX computes
# them. Read it right to left for the backward pass: the gradient 1 leaves $f$, the multiply
# node hands $q$ the value of $z$ and hands $z$ the value of $q$, and the add node passes
# $-4$ unchanged to both $x$ and $y$. The numbers on the picture are then held against the
# ones kang prints.

# %% tags=["solution"]
graph = draw_graph(f, -2.0, 5.0, -4.0)
graph.check_printed("kang.2.forward", values={"q": "3", "f": "-12"})
graph.check_printed("kang.2.result", grads={"x": "-4", "y": "-4", "z": "3"})

# %% [markdown]
# ## The scalar chain rule for any functions
#
# kang §3.1 states the rule behind every step above: when $z = f(u)$ and $u = g(x)$, then
# $\frac{dz}{dx} = \frac{dz}{du}\cdot\frac{du}{dx}$. In backpropagation's words, the
# downstream gradient is the upstream gradient $\frac{dz}{du}$ times the local gradient
# $\frac{du}{dx}$. SymPy proves it with $f$ and $g$ left as *undefined* functions, so the
# result holds for every differentiable pair, not for one example. On the right, $u$ stands
# for $g(x)$, and SymPy puts $g(x)$ in its place before it compares the two sides:

# %%
u = sp.Symbol("u", real=True)
outer, inner = sp.Function("f"), sp.Function("g")
with sp.evaluate(False):
    scalar_chain = sp.Mul(sp.Derivative(outer(u), u), sp.Derivative(u, x))
prove_equal("kang.3.chain", sp.Derivative(outer(inner(x)), x), scalar_chain,
            where={u: inner(x)})

# %% [markdown] tags=["solution"]
# As a numeric illustration, take $f = \sin$ and $g(x) = x^2$: the rule gives
# $\cos(x^2)\cdot 2x$, and JAX and finite differences agree at seeded random points (the
# document has no numbers here, so there is no worked example to add).

# %% tags=["solution"]
check_gradient("kang.3.chain", lambda x: jnp.sin(x ** 2), lambda x: jnp.cos(x ** 2) * 2 * x,
               at=None, sample=lambda rng: (float(rng.standard_normal()),))

# %%
exercise("kang.3.chain",
         r"Apply the scalar chain rule to $z = f(u) = \sin u$ with $u = g(x) = x^2$: find "
         r"$\dfrac{dz}{dx}$ as a formula in $x$.",
         of="sin(x**2)", wrt="x", answer="cos(x**2)*2*x", inputs={"x": "scalar"},
         spellings=[r"\cos(x^2)\cdot 2x", "jnp.cos(x ** 2) * 2 * x"],
         same_as=lambda x: jnp.cos(x ** 2) * 2 * x)

# %% [markdown]
# ## Two paths: the multivariable chain rule
#
# In “Backpropagation, Once and for all!”, *Chain Rule Refresher*, the output
# $L = f(u, v)$ depends on $x$ along two paths, once through $u(x,y)$ and once through
# $v(x,y)$. The derivative is the sum of one chain-rule product per path. Again every
# function is left arbitrary, and on the right $u$ and $v$ stand for $u(x,y)$ and $v(x,y)$:

# %%
u, v = sp.symbols("u v", real=True)
L_fn, u_fn, v_fn = sp.Function("f"), sp.Function("u"), sp.Function("v")
inner_uv = {u: u_fn(x, y), v: v_fn(x, y)}
L = L_fn(u_fn(x, y), v_fn(x, y))
with sp.evaluate(False):
    two_paths_x = sp.Add(sp.Mul(sp.Derivative(L_fn(u, v), u), sp.Derivative(u, x)),
                         sp.Mul(sp.Derivative(L_fn(u, v), v), sp.Derivative(v, x)))
    two_paths_y = sp.Add(sp.Mul(sp.Derivative(L_fn(u, v), u), sp.Derivative(u, y)),
                         sp.Mul(sp.Derivative(L_fn(u, v), v), sp.Derivative(v, y)))
prove_equal("once.chain", sp.Derivative(L, x), two_paths_x, where=inner_uv)
prove_equal("once.chain", sp.Derivative(L, y), two_paths_y, where=inner_uv)

# %% [markdown] tags=["solution"]
# Dropping either path gives a wrong derivative. A concrete case makes that visible: with
# $f(u,v) = u\,v + \sin u$, $u = xy$ and $v = x + y^2$, the two-path sum is
# $(v + \cos u)\,y + u \cdot 1$, which JAX and finite differences confirm at seeded random
# points.

# %% tags=["solution"]
def two_paths(x, y):
    u, v = x * y, x + y ** 2
    return u * v + jnp.sin(u)


def two_paths_dx(x, y):
    u, v = x * y, x + y ** 2
    return (v + jnp.cos(u)) * y + u * 1


check_gradient("once.chain", two_paths, two_paths_dx, at=None, wrt="x",
               sample=lambda rng: tuple(float(t) for t in rng.standard_normal(2)))

# %%
exercise("once.chain",
         r"Let $L = f(u, v) = u\,v + \sin u$ with $u = x y$ and $v = x + y^2$, so that $x$ "
         r"reaches $L$ along two paths. Find $\dfrac{\partial L}{\partial x}$, one chain-rule "
         r"product per path; you may write it with $u$ and $v$.",
         of="u*v + sin(u)", wrt="x", answer="(v + cos(u))*y + u",
         inputs={"x": "scalar", "y": "scalar"}, where={"u": "x*y", "v": "x + y**2"},
         spellings=[r"(v + \cos u)\,y + u \cdot 1", "(v + jnp.cos(u)) * y + u * 1"],
         same_as=two_paths_dx)

# %% [markdown]
# ## Many paths at once: the Jacobian form
#
# “Backpropagation Derivation”, *Chain Rule Foundation*, takes the last step: for
# $\mathbf g: \mathbb R^n \to \mathbb R^m$ and $f: \mathbb R^m \to \mathbb R$,
# $\frac{\partial f}{\partial x_i} = \sum_{j=1}^m \frac{\partial f}{\partial g_j}
# \frac{\partial g_j}{\partial x_i}$, one term per path from $x_i$ to $f$. Stacked over
# $i$, the sum is a matrix product with the transposed Jacobian:
# $\nabla_{\mathbf x} f = \mathbf J_{\mathbf g}^\top \nabla_{\mathbf g} f$, where
# $(\mathbf J_{\mathbf g})_{ji} = \partial g_j / \partial x_i$ is $m \times n$.
#
# SymPy proves it at $n = 3$, $m = 2$ with $f$, $g_1$ and $g_2$ all undefined functions
# (on the right, $g_j$ stands for $g_j(x_1, x_2, x_3)$). First the sum over paths, for each
# $x_i$:

# %%
xs = sp.symbols("x1:4", real=True)
gs = sp.symbols("g1:3", real=True)
f_fn, g_fns = sp.Function("f"), [sp.Function(f"g{j + 1}") for j in range(2)]
inner_g = {gj: gj_fn(*xs) for gj, gj_fn in zip(gs, g_fns)}
composite = f_fn(*[gj_fn(*xs) for gj_fn in g_fns])

for xi in xs:
    with sp.evaluate(False):
        paths = sp.Add(*[sp.Mul(sp.Derivative(f_fn(*gs), gj), sp.Derivative(gj, xi))
                         for gj in gs])
    prove_equal("deriv.chain", sp.Derivative(composite, xi), paths, where=inner_g, box=False)

# %% [markdown]
# Then the same column, written as one product. Each entry of
# $\mathbf J_{\mathbf g}^\top \nabla_{\mathbf g} f$ is a row of $\mathbf J_{\mathbf g}^\top$
# (a column of the Jacobian: how $x_i$ moves each $g_j$) dotted with the upstream gradient:

# %%
grad_x = sp.Matrix([sp.Derivative(composite, xi) for xi in xs])
jacobian = sp.Matrix(2, 3, lambda j, i: sp.Derivative(gs[j], xs[i]))
grad_g = sp.Matrix([sp.Derivative(f_fn(*gs), gj) for gj in gs])
prove_equal("deriv.chain", grad_x, sp.MatMul(jacobian.T, grad_g, evaluate=False), where=inner_g)

# %% [markdown]
# ## The Jacobian form at numbers
#
# Now a concrete pair, with hand-derived partial derivatives and no autodiff in them:
# $\mathbf g(\mathbf x) = \big(x_1 x_2 + \sin x_3,\; e^{x_1} - x_2 x_3^2\big)$ and
# $f(g_1, g_2) = g_1^2 g_2 + \cos g_2$. The Jacobian has shape $2 \times 3$, as the
# document says it must.

# %%
def g(x):
    return jnp.stack([x[0] * x[1] + jnp.sin(x[2]),
                      jnp.exp(x[0]) - x[1] * x[2] ** 2])


def J_g(x):
    return jnp.array([[x[1], x[0], jnp.cos(x[2])],
                      [jnp.exp(x[0]), -x[2] ** 2, -2 * x[1] * x[2]]])


def f_of_g(gv):
    return gv[0] ** 2 * gv[1] + jnp.cos(gv[1])


def grad_f_of_g(gv):
    return jnp.stack([2 * gv[0] * gv[1], gv[0] ** 2 - jnp.sin(gv[1])])


x0 = jnp.array([0.5, -1.0, 2.0])
check_shape("deriv.chain", "J_g", J_g(x0), (2, 3))

# %% [markdown]
# Pulling any upstream vector back through $\mathbf g$ is multiplication by
# $\mathbf J_{\mathbf g}^\top$; JAX's vector-Jacobian product agrees at seeded random points
# $\mathbf x$ with random upstream vectors:

# %%
random_x = lambda rng: (jnp.asarray(rng.standard_normal(3)),)
check_vjp("deriv.chain", g, lambda x, gbar: J_g(x).T @ gbar, at=None, sample=random_x)

# %% [markdown]
# and the full gradient of the composition, $\mathbf J_{\mathbf g}^\top \nabla_{\mathbf g} f$
# with $\nabla_{\mathbf g} f$ evaluated at $\mathbf g(\mathbf x)$, equals `jax.grad` of
# $f \circ \mathbf g$:

# %%
def composed(x):
    return f_of_g(g(x))


check_gradient("deriv.chain", composed, lambda x: J_g(x).T @ grad_f_of_g(g(x)),
               at=None, sample=random_x)

# %%
summary()
