"""float64 is on as soon as gradbook is imported, whether JAX is imported before it or after."""
import subprocess
import sys

import pytest

ORDERS = {
    "gradbook first": "import gradbook\nimport jax.numpy as jnp\n",
    "jax first": "import jax.numpy as jnp\nimport gradbook\n",
}


@pytest.mark.parametrize("imports", ORDERS.values(), ids=ORDERS.keys())
def test_arrays_are_float64_after_import_gradbook(imports):
    code = imports + "print(jnp.ones(3).dtype, jnp.asarray(0.5).dtype)\n"
    env = {"JAX_PLATFORMS": "cpu", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True).stdout.split()
    assert out == ["float64", "float64"]


def test_import_gradbook_does_not_import_jax():
    code = "import sys, gradbook\nprint('jax' in sys.modules, 'sympy' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]
