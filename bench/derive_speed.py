"""Benchmark derive() against JAX alone, as ratios taken in one run (issue 8).

The model: a two-layer MLP, widths 3-5-2, ReLU, softmax cross-entropy, a batch of 4.
  jax      JAX alone: trace the loss, differentiate it, compile and run the gradient once
           (jax.jit(jax.grad(loss)) on fresh functions, so nothing is cached).
  stage    derive's staging and SymPy rules only (stage + derive_rules: the SymPy work).
  derive   the whole derive(): tables, proofs, every check (node numbers against JAX, the
           closed form against jax.grad and finite differences at 4 points), graph drawn (from
           the staged nodes and the numbers already computed: nothing traced or compiled again).
           derive's compiled functions use checks/_quick_jit's compile options, JAX's step not.
  large    the same derive() on the same MLP made wide (widths 20-50-10, batch 25: 2,310
           numbers instead of 52): the cost should stay about flat in the array sizes.
  scalar   derive() on a scalar network of a dozen weights (2 inputs, 3 sigmoid units with
           biases, a linear output; inputs and target written into the function as floats):
           every gradient's closed form proven by SymPy.
Each is run in a fresh process; the best of --repeat runs is kept, and the machine's load
average is printed with the figures. Nothing is asserted: this reports figures (see the
README), it is not a timed test.
Usage: python bench/derive_speed.py [--repeat N]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

SETUP = """
import time, io, contextlib
import numpy as np
from gradbook import jax, jnp, derive, Ledger, use_ledger

def loss(W1, b1, W2, b2, X, Y):
    H = jax.nn.relu(W1 @ X + b1[:, None])
    Z = W2 @ H + b2[:, None]
    logp = Z - jax.scipy.special.logsumexp(Z, axis=0, keepdims=True)
    return -jnp.mean(jnp.sum(Y * logp, axis=0))

rng = np.random.default_rng(0)
at = dict(W1=rng.standard_normal((5, 3)), b1=rng.standard_normal(5), W2=rng.standard_normal((2, 5)),
          b2=rng.standard_normal(2), X=rng.standard_normal((3, 4)), Y=np.eye(2)[[0, 1, 1, 0]].T)
args = [jnp.asarray(v) for v in at.values()]
wide = dict(W1=rng.standard_normal((50, 20)), b1=rng.standard_normal(50), W2=rng.standard_normal((10, 50)),
            b2=rng.standard_normal(10), X=rng.standard_normal((20, 25)), Y=np.eye(10)[np.arange(25) % 10].T)

def scalar(w1, w2, w3, w4, w5, w6, b1, b2, b3, v1, v2, v3):
    h1 = jax.nn.sigmoid(w1 * 0.5 + w2 * -1.5 + b1)
    h2 = jax.nn.sigmoid(w3 * 0.5 + w4 * -1.5 + b2)
    h3 = jax.nn.sigmoid(w5 * 0.5 + w6 * -1.5 + b3)
    return 0.5 * (v1 * h1 + v2 * h2 + v3 * h3 - 0.25) ** 2

weights = dict(zip("w1 w2 w3 w4 w5 w6 b1 b2 b3 v1 v2 v3".split(), np.round(rng.standard_normal(12), 2)))
jnp.zeros(1).block_until_ready()  # JAX's start-up is not part of any step
start = time.perf_counter()
"""
STEPS = {
    "jax": "jax.block_until_ready(jax.jit(jax.grad(loss, argnums=(0, 1, 2, 3)))(*args))",
    "stage": ("from gradbook.graph._stage import stage\n"
              "from gradbook.graph._backward import derive_rules\n"
              "s = stage(loss, at); r = derive_rules(s)"),
    "derive": ("with use_ledger(Ledger()), contextlib.redirect_stdout(io.StringIO()):\n"
               "    derive(loss, at=at, wrt=['W1', 'b1', 'W2', 'b2'])"),
    "large": ("with use_ledger(Ledger()), contextlib.redirect_stdout(io.StringIO()):\n"
              "    derive(loss, at=wide, wrt=['W1', 'b1', 'W2', 'b2'])"),
    "scalar": ("with use_ledger(Ledger()), contextlib.redirect_stdout(io.StringIO()):\n"
               "    derive(scalar, at=weights)"),
}


def run(step: str) -> float:
    code = SETUP + STEPS[step] + "\nprint(time.perf_counter() - start)\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"JAX_PLATFORMS": "cpu", "MPLBACKEND": "Agg", "PATH": ""})
    if done.returncode != 0:
        sys.exit(f"benchmark step {step} failed:\n{done.stderr}")
    return float(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3, help="keep the best of N runs of each step")
    opts = p.parse_args(argv)
    load = os.getloadavg()[0]
    best = {step: min(run(step) for _ in range(opts.repeat)) for step in STEPS}
    print(f"{'step':<8} {'seconds':>8} {'× jax':>7}")
    for step, seconds in best.items():
        print(f"{step:<8} {seconds:8.2f} {seconds / best['jax']:7.1f}")
    print(f"\nderive generates the whole verified workbook in {best['derive']:.1f} s, "
          f"{best['derive'] / best['jax']:.0f}× what JAX alone takes to trace and differentiate")
    print(f"(load average {load:.2f} before, {os.getloadavg()[0]:.2f} after, on {os.cpu_count()} "
          "cores: other jobs' load slows every step, so compare ratios taken in one run)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
