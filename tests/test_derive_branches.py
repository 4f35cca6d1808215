"""A cond whose predicate depends on the inputs: derive stages the branch the worked example
takes, so a random check point taking the other branch would compare another function; such
points are skipped and the page says how many, and a wrong backward pass is still rejected."""
import re

import numpy as np
import pytest

from gradbook import ClaimFailed, derive, jax, jnp
from gradbook.graph import _derive
from gradbook.graph._backward import forward
from gradbook.graph._stage import stage


def sign_switch(x):
    return jnp.sum(jax.lax.cond(x.sum() > 0, lambda a: jnp.sin(a) * a, lambda a: a ** 3, x))


AT = dict(x=np.array([1.0, -0.97, 0.5, -0.5]))  # sum 0.03: points near it often flip the sign


def test_random_points_taking_the_other_branch_are_skipped_and_said(ledger, capsys):
    derive(sign_switch, at=AT, graph=False, points=3)
    out = capsys.readouterr().out
    skipped = re.search(r"(\d+) random draw\(s\) took another branch and were skipped", out)
    assert skipped and int(skipped[1]) > 0, out
    assert "takes branch 1 of 2" in out and "the random points below are 3 that take the same branch" in out
    assert ledger.entry("derived.sign_switch")["status"] == "verified"


def test_the_skipped_draws_really_take_the_other_branch():
    staged = stage(sign_switch, AT)
    assert len(staged.conds) == 1
    flipped = dict(x=AT["x"] * np.array([0.9, 1.1, 1.0, 1.0]))  # sum < 0
    assert staged.same_branches(forward(staged, AT))
    assert not staged.same_branches(forward(staged, flipped))
    assert float(sign_switch(flipped["x"])) != pytest.approx(float(forward(staged, flipped)[staged.output]))


def test_when_no_random_point_keeps_the_branch_the_page_says_so(ledger, capsys):
    derive(sign_switch, at=AT, graph=False, points=2, sample=lambda rng: (-AT["x"] * (1 + 0.1 * rng.random()),))
    out = capsys.readouterr().out
    assert "are 0 that take the same branch(es), fewer than the 2 wanted" in out
    assert ledger.entry("derived.sign_switch")["status"] == "verified"


def test_a_wrong_backward_in_the_taken_branch_is_still_rejected(ledger, monkeypatch):
    real = _derive.derive_rules

    def with_a_mistake(staged):
        rules = real(staged)
        node = next(n for n in staged.nodes if n.op == "sin")
        local = rules[node.name].locals[0]
        right = local.evaluate
        local.evaluate = lambda values, upstream: right(values, upstream) * (1 + 1e-6)
        return rules

    monkeypatch.setattr(_derive, "derive_rules", with_a_mistake)
    with pytest.raises(ClaimFailed, match=r"node \S+ \(sin"):
        derive(sign_switch, at=AT, graph=False, points=3)


def test_a_where_on_the_inputs_is_no_branch_it_is_compared_point_by_point(ledger, capsys):
    def leaky(x):
        return jnp.sum(jnp.where(x > 0, x, 0.1 * x) ** 2)

    staged = stage(leaky, AT)
    assert staged.conds == []
    derive(leaky, at=AT, graph=False, points=3)
    assert "took another branch" not in capsys.readouterr().out
    assert ledger.entry("derived.leaky")["status"] == "verified"
