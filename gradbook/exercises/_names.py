"""The spellings of an exercise's names: ŷ, yhat, y_hat and \\hat{y} are one name; W₁, W_1, W1 one.

Spellings are derived from the name itself (a hat, a trailing index, a Greek letter), never
guessed from a name that could mean something else: a spelling two names could claim is
nobody's.
"""
from __future__ import annotations

import re
import unicodedata

# Greek letters as a student types them, and the word a formula uses for each.
GREEK = {"α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "ϵ": "epsilon",
         "ζ": "zeta", "η": "eta", "θ": "theta", "κ": "kappa", "μ": "mu",
         "ν": "nu", "ξ": "xi", "π": "pi", "ρ": "rho", "σ": "sigma", "τ": "tau", "φ": "phi",
         "ϕ": "phi", "χ": "chi", "ψ": "psi", "ω": "omega", "Γ": "Gamma", "Δ": "Delta",
         "Θ": "Theta", "Λ": "Lambda", "Σ": "Sigma", "Φ": "Phi", "Ψ": "Psi", "Ω": "Omega"}
SUBSCRIPTS = dict(zip("₀₁₂₃₄₅₆₇₈₉ₐₑₒₓₕₖₗₘₙₚₛₜᵢⱼ", "0123456789aeoxhklmnpstij"))
COMBINING_HAT = "\u0302"
# Other names for the functions a formula may call.
FUNCTION_SPELLINGS = {"ln": "log", "ReLU": "relu", "Relu": "relu", "arcsin": "asin",
                      "arccos": "acos", "arctan": "atan", "arcsinh": "asinh",
                      "arccosh": "acosh", "arctanh": "atanh", "expit": "sigmoid",
                      "logistic": "sigmoid", "Sigmoid": "sigmoid", "Softplus": "softplus",
                      "absolute": "abs", "heaviside": "step", "Heaviside": "step"}


def spellings(names) -> dict[str, str]:
    """Every other spelling of each name (ASCII, after Unicode and LaTeX are read) -> the name."""
    claims: dict[str, set[str]] = {}
    for name in names:
        for spelling in _variants(name):
            if spelling != name:
                claims.setdefault(spelling, set()).add(name)
    names = set(names)
    return {s: next(iter(owners)) for s, owners in claims.items()
            if len(owners) == 1 and s not in names}


def _variants(name: str) -> set[str]:
    """yhat -> y_hat; y_hat -> yhat; y_pred -> ypred; W1 -> W_1; W_1 -> W1; delta2 -> delta_2."""
    out = {name}
    m = re.fullmatch(r"([A-Za-z]+?)_?hat", name)
    if m:
        out |= {m.group(1) + "hat", m.group(1) + "_hat"}
    m = re.fullmatch(r"([A-Za-z]+)_([A-Za-z]+)", name)  # y_pred -> ypred, d_x -> dx
    if m and not name.endswith("_hat"):
        out.add(m.group(1) + m.group(2))
    m = re.fullmatch(r"([A-Za-z]+)_?(\d+)", name)
    if m:
        out |= {m.group(1) + m.group(2), f"{m.group(1)}_{m.group(2)}"}
    return out


def ascii_name(letter: str) -> str | None:
    """A Unicode letter as the ASCII a formula uses (σ -> sigma, ŷ -> yhat), or None."""
    if letter in GREEK:
        return GREEK[letter]
    decomposed = unicodedata.normalize("NFD", letter)
    if len(decomposed) == 2 and decomposed[1] == COMBINING_HAT and decomposed[0].isascii():
        return decomposed[0] + "hat"
    return None
