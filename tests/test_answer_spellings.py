"""Right answers as students write them (plain, Unicode, NumPy, LaTeX, rearranged, another
equivalent form) are all accepted, ten or more per exercise; wrong ones in those notations are
refused with the diagnosis the grader gives the plain spelling."""
import pytest

from gradbook.exercises import _prove
from gradbook.exercises._bank import bank
from gradbook.exercises._grader import check

EXERCISES = bank()

RIGHT = {
    "kang.2.result": [
        "(z, z, x + y)", "z, z, y + x", "(1z, z·1, x + y)", r"\left(z, z, x + y\right)",
        "(z, z, (x + y))", "(2z - z, z, x + y)", "(z, z, (x+y)·1)", "(z,z,x+y)",
        "(z, z, x - (-y))", "(z, z, 2(x + y)/2)"],
    "kang.3.chain": [
        "cos(x**2)*2*x", "2x cos(x^2)", r"2 x \cos(x^2)", r"2x\cos\left(x^{2}\right)",
        "2·x·cos(x²)", "np.cos(x**2) * 2 * x", "cos(x*x)*(x + x)", "2*x*jnp.cos(x**2)",
        "x cos(x^2) 2", r"\cos(x^2) \cdot 2x", "2*x*math.cos(x**2)"],
    "once.chain": [
        "(v + cos(u)) y + u", "y(v + cos(u)) + u", "u + y v + y cos(u)",
        "(x + y^2 + cos(x y)) y + x y", "y·(v + cos(u)) + u", r"y\left(v + \cos u\right) + u",
        "x*y + y*(x + y**2) + y*np.cos(x*y)", "2x y + y^3 + y cos(x y)", "(cos(u) + v)*y + u",
        "y v + u + y cos u"],
    "kang.4.add": [
        "(g, g)", "g, g", "(1g, g)", "(g*1, 1*g)", "(2g - g, g)", "(g + 0, g)",
        r"\left(g, g\right)", "(g,g)", "(g·1, g)", "(+g, g)"],
    "kang.4.mul": [
        "(g b, g a)", "(b g, a g)", "(g·b, g·a)", r"(g \cdot b, g \cdot a)", "(b*g, a*g)",
        "g*b, g*a", "(g*b, a*g)", "(g(b), g(a))", "(b·g, a·g)", "((g)(b), (g)(a))"],
    "once.copy": [
        "y1 + y2 + cos(y3)", "2x + cos(x)", "x + x + cos x", "y_1 + y_2 + cos(y_3)",
        "y₁ + y₂ + cos(y₃)", r"y_{1} + y_{2} + \cos(y_{3})", "2*x + np.cos(x)",
        "cos(y3) + y1 + y2", "2 y1 + cos(y3)", "x + y2 + cos(y1)"],
    "kang.4.max": [
        "(g (a > b), g (b > a))", "(g*(a>b), g*(a<b))",
        "(g*where(a > b, 1, 0), g*where(b > a, 1, 0))", "(g*step(a - b), g*step(b - a))",
        "((a > b) g, (b > a) g)", "(g·(a > b), g·(b > a))",
        "(np.where(a > b, g, 0), np.where(b > a, g, 0))", "(g*(a - b > 0), g*(b - a > 0))",
        r"\left(g (a > b), g (a < b)\right)", "(g*(b < a), g*(a < b))"],
    "kang.5.sigmoid": [
        "σ(s)(1−σ(s))", "e^(-s)/(1+e^(-s))^2", "1/(4*cosh(s/2)**2)",
        "sigmoid(s)*(1 - sigmoid(s))", r"\sigma(s)\left(1-\sigma(s)\right)",
        r"\frac{e^{-s}}{(1+e^{-s})^2}", "exp(-s)/(1 + exp(-s))**2", "sigma(s) - sigma(s)^2",
        "(1 - tanh(s/2)^2)/4", "sech(s/2)^2/4", "np.exp(s)/(1 + np.exp(s))**2",
        "jax.nn.sigmoid(s) * (1 - jax.nn.sigmoid(s))", "1/(2 + 2cosh(s))"],
    "jin.dsigmoid": [
        "diag(y_pred*(1 - y_pred))", "diag(σ(z)(1 − σ(z)))",
        "np.diag(sigmoid(z) * (1 - sigmoid(z)))", "diag(exp(-z)/(1 + exp(-z))**2)",
        "diag(y_pred - y_pred**2)", "diag(y_pred) @ (eye(N) - diag(y_pred))",
        r"\operatorname{diag}(\sigma(z) \odot (1-\sigma(z)))",
        "diag(y_pred) - outer(y_pred, y_pred) * eye(N)", "diag(1/(4 cosh(z/2)^2))",
        "jnp.diag(jax.nn.sigmoid(z)*(1 - jax.nn.sigmoid(z)))", "diag(ypred (1 - ypred))"],
    "kang.5.bce_yhat": [
        "(1-y)/(1-ŷ) - y/ŷ", "(ŷ - y)/(ŷ(1 - ŷ))", r"\frac{1-y}{1-\hat{y}} - \frac{y}{\hat{y}}",
        r"\frac{\hat y - y}{\hat y (1-\hat y)}", "(y_hat - y)/(y_hat*(1 - y_hat))",
        "-y/yhat + (1-y)/(1-yhat)", "-(y/yhat - (1 - y)/(1 - yhat))",
        "(yhat - y)/(yhat - yhat^2)", "y_hat^-1 * (-y) + (1-y) (1-y_hat)^-1",
        "$(\\hat{y}-y)/(\\hat{y}(1-\\hat{y}))$"],
    "kang.5.bce_logit": [
        "yhat - y", "ŷ − y", "y_hat - y", r"\hat{y} - y", r"\hat y - y", "σ(s) - y",
        "sigmoid(s) - y", "1/(1 + e^(-s)) - y", r"\frac{1}{1+e^{-s}} - y", "-(y - yhat)",
        "jax.nn.sigmoid(s) - y", "-y + yhat", "(tanh(s/2) + 1)/2 - y", "scipy.special.expit(s) - y"],
    "kang.5.logreg": [
        "((yhat-y)x, yhat-y, (yhat-y)w)", "((ŷ − y)x, ŷ − y, (ŷ − y)w)",
        "(x(yhat - y), yhat - y, w(yhat - y))",
        "((σ(w @ x + b) - y) x, σ(w @ x + b) - y, (σ(w @ x + b) - y) w)",
        "(x*(y_hat - y), y_hat - y, w*(y_hat - y))",
        r"\left((\hat y - y) x, \hat y - y, (\hat y - y) w\right)",
        "((yhat - y)*x, -(y - yhat), (yhat - y)*w)", "(yhat*x - y*x, yhat - y, yhat*w - y*w)",
        "((sigmoid(s) - y)*x, sigmoid(s) - y, (sigmoid(s) - y)*w)",
        "((σ(wᵀx + b) − y)x, σ(wᵀx + b) − y, (σ(wᵀx + b) − y)w)"],
    "kang.6.shapes": [
        "[[x2, x1, cos(x3)], [exp(x1), -x3**2, -2*x2*x3]]",
        "[[x₂, x₁, cos(x₃)], [e^(x₁), −x₃², −2x₂x₃]]",
        "np.array([[x2, x1, np.cos(x3)], [np.exp(x1), -x3**2, -2*x2*x3]])",
        r"[[x_2, x_1, \cos x_3], [e^{x_1}, -x_3^2, -2 x_2 x_3]]",
        "[[x2, x1, cos(x3)], [exp(x1), -x3*x3, -2*x3*x2]]",
        "[[x2, x1, cos(x3)], [E**x1, -(x3**2), -x2*x3*2]]",
        "[[x2, x1, sin(x3 + pi/2)], [exp(x1), -x3^2, -2x2 x3]]",
        "[[1*x2, x1, cos(x3)], [exp(x1), -x3**2, -2*x2*x3]]",
        r"\left[\left[x_2, x_1, \cos(x_3)\right], \left[\exp(x_1), -x_3^{2}, -2x_2x_3\right]\right]",
        "[[x_2, x_1, cos(x_3)], [exp(x_1), -x_3^2, -2 x_2 x_3]]"],
    "kang.7.vjp": [
        "Jᵀg", "J^T g", r"J^\top g", r"J^{\top} g", "(g.T @ J).T", "np.transpose(J) @ g",
        "J.transpose() @ g", "np.dot(J.T, g)", "np.einsum('ij,ik->jk', J, g)", "J.T.dot(g)",
        r"\mathbf{J}^\top \mathbf{g}", "(gᵀJ)ᵀ"],
    "kang.8.relu_jacobian": [
        "diag(x > 0)", "np.diag(x > 0)", "diag(z > 0)", "diag(step(x))",
        "diag(where(x > 0, 1, 0))", "diag(1*(x > 0))", "diag(x > 0) @ eye(n)",
        "eye(n) * (x > 0)", "diag(relu(x) > 0)", r"\operatorname{diag}(x > 0)", "diag(0 < x)"],
    "jin.relu_mask": [
        "(((a > 0) ⊙ G) w1ᵀ, xᵀ ((a > 0) ⊙ G))", "((G * (a > 0)) @ w1.T, x.T @ (G * (a > 0)))",
        "((G*(x @ w1 > 0)) @ w1.T, x.T @ (G*(x @ w1 > 0)))",
        r"\left((G \odot (a > 0)) w_1^\top, x^\top (G \odot (a > 0))\right)",
        "(np.where(a > 0, G, 0) @ w1.T, x.T @ np.where(a > 0, G, 0))",
        "((step(a) * G) @ w1.T, x.T @ (step(a) * G))",
        "(((a > 0)*G).dot(w1.T), x.T.dot((a > 0)*G))",
        "((w1 @ ((a > 0) * G).T).T, (((a > 0) * G).T @ x).T)",
        "(((a>0)*G) @ np.transpose(w1), np.transpose(x) @ ((a>0)*G))",
        "(((a > 0) * G) @ w_1.T, x.T @ ((a > 0) * G))"],
    "kang.9.affine.W": [
        "g xᵀ", "g x^T", r"g x^\top", r"\mathbf{g}\mathbf{x}^{\top}", "g @ x.T",
        "np.outer(g, x)", "(x @ g.T).T", "g * x.T", "np.einsum('ik,jk->ij', g, x)",
        "g.dot(x.T)", "g x.T"],
    "kang.9.affine.x": [
        "Wᵀg", "W^T g", r"W^{\top} g", "W.T @ g", "(g.T @ W).T", "np.dot(W.T, g)",
        "W.transpose() @ g", "jnp.matmul(W.T, g)", "(gᵀW)ᵀ", r"\mathbf{W}^\top\mathbf{g}"],
    "kang.9.affine.b": [
        "g", "1g", "g*1", "np.ones((d_z, 1)) * g", "(g.T).T", "gᵀᵀ", r"\mathbf{g}",
        "eye(d_z) @ g", "g + 0", "g.reshape(d_z, 1)", "g.reshape(-1, 1)"],
    "kang.10.batch.X": [
        "G Wᵀ", "G W^T", r"G W^\top", "G @ W.T", "(W @ G.T).T", "np.dot(G, W.T)", "G.dot(W.T)",
        "np.einsum('nk,ik->ni', G, W)", "G @ np.transpose(W)", r"\mathbf{G}\mathbf{W}^{\top}"],
    "kang.10.batch.W": [
        "X^T G", "Xᵀ G", "X.T @ G", r"X^\top G", "(G.T @ X).T", "np.dot(X.T, G)",
        "X.transpose() @ G", "np.einsum('ni,nk->ik', X, G)", "X.T.dot(G)", "jnp.matmul(X.T, G)"],
    "kang.10.batch.b": [
        "sum(G, axis=0)", "G.sum(0)", "G.sum(axis=0)", "np.sum(G, 0)", "np.ones(N) @ G",
        "sum(G, 0)", r"\sum_n G_n", r"\sum_{n=1}^{N} G_{n}", "jnp.sum(G, axis=0)",
        "G.T @ np.ones(N)", "N*mean(G, axis=0)", "G.mean(0) * N"],
    "jin.chain.delta": [
        "(y_pred - y)/N", "(σ(z) − y)/N", "1/N (y_pred - y)", r"\frac{1}{N}(y_{pred} - y)",
        r"\frac{\sigma(z) - y}{N}", "(sigmoid(z) - y)/N", "y_pred/N - y/N", "(ypred - y)/N",
        "(y_pred - y)*(1/N)", "-(y - y_pred)/N"],
    "jin.grads.w2": [
        "hᵀ(y_pred − y)/N", "h^T (y_pred - y)/N", "1/N h^T (y_pred - y)",
        r"\frac{1}{N} h^\top (y_{pred} - y)", "h.T @ (y_pred - y) / N",
        "relu(x @ w1).T @ (y_pred - y)/N", "(((y_pred - y)/N).T @ h).T",
        "np.dot(h.T, y_pred - y)/N", "relu(a).T @ (sigmoid(z) - y) / N",
        "np.maximum(x @ w1, 0).T @ (y_pred - y)/N"],
    "jin.grads.b": [
        "sum((y_pred - y)/N)", "np.sum(y_pred - y)/N", "mean(y_pred - y)", "np.mean(σ(z) − y)",
        r"\frac{1}{N}\sum_n (y_{pred,n} - y_n)", "(y_pred - y).sum()/N", "(y_pred - y).mean()",
        "sum(y_pred)/N - sum(y)/N", "np.ones(N) @ (y_pred - y) / N",
        "jnp.mean(jax.nn.sigmoid(z) - y)", r"\sum_n (y_pred - y)/N"],
    "jin.grads.w1": [
        "xᵀ(((y_pred − y)/N) w2ᵀ ⊙ (a > 0))", "1/N x^T ((y_pred - y) w2^T ⊙ (a>0))",
        "x.T @ (((y_pred - y) @ w2.T) * (a > 0)) / N",
        r"\frac{1}{N} x^\top \left((y_{pred} - y) w_2^\top \odot (a > 0)\right)",
        "x.T @ (np.outer(y_pred - y, w2) * (a > 0)) / N",
        "x.T @ ((a > 0) * ((y_pred - y) @ w2.T)) / N",
        "(((a > 0) * ((y_pred - y)/N @ w2.T)).T @ x).T",
        "x.T @ (step(a) * ((y_pred - y) @ w2.T/N))",
        "np.dot(x.T, np.where(a > 0, (y_pred - y) @ w2.T, 0))/N",
        "x.T @ ((((y_pred - y)/N) @ w2.T) * (a > 0))"],
    "deriv.hidden": [
        "(W₂ᵀδ₂) ⊙ a₁ ⊙ (1 − a₁)", "(W2^T delta2) * a1 * (1 - a1)",
        r"(W_2^\top \delta_2) \odot a_1 \odot (1 - a_1)", "(W2.T @ delta2) * a1 * (1 - a1)",
        "W2.T @ (yhat - y) * a1 * (1 - a1)", "(W2.T @ delta2) * (a1 - a1**2)",
        "a1*(1-a1)*(W2.T @ delta2)", "(W_2.T @ delta_2) * sigma(z1) * (1 - sigma(z1))",
        "(W2.T @ δ2) * σ(z1) * (1 − σ(z1))", "(delta2.T @ W2).T * a1 * (1 - a1)"],
    "deriv.layer1.W": [
        "((W₂ᵀδ₂) ⊙ a₁ ⊙ (1 − a₁)) xᵀ", "((W2^T delta2) * a1 * (1 - a1)) x^T",
        r"\left((W_2^\top \delta_2) \odot a_1 \odot (1 - a_1)\right) x^\top",
        "((W2.T @ delta2) * a1 * (1 - a1)) @ x.T", "np.outer((W2.T @ delta2) * a1 * (1 - a1), x)",
        "(x @ ((W2.T @ delta2) * a1 * (1 - a1)).T).T", "((W2.T @ (yhat - y)) * a1 * (1 - a1)) @ x.T",
        "(W2.T @ delta2 * a1 * (1 - a1)) * x.T", "((W2.T @ delta2) * (a1 - a1**2)) @ x.T",
        "((delta2.T @ W2).T * sigma(z1) * (1 - sigma(z1))) @ x.T"],
    "deriv.batch.W": [
        "Δ Aᵀ / B", "1/B Delta A^T", r"\frac{1}{B} \Delta A^\top", "Delta @ A.T / B",
        "(A @ Delta.T).T / B", "np.dot(Delta, A.T)/B", "Delta.dot(A.T)/B",
        "np.einsum('ib,jb->ij', Delta, A)/B", r"\frac{\Delta A^{T}}{B}", "(Delta/B) @ A.T"],
    "deriv.batch.b": [
        "sum(Delta, axis=1, keepdims=True)/B", "Delta.sum(1)/B", "Delta.sum(axis=1, keepdims=True)/B",
        "np.mean(Delta, axis=1, keepdims=True)", "Delta.mean(1)", "Delta @ np.ones((B, 1)) / B",
        r"\frac{1}{B}\sum_n \Delta_n", "Δ.mean(axis=1)", "np.sum(Delta, 1).reshape(-1, 1)/B",
        "Delta @ ones(B) / B"],
}


def test_every_exercise_has_ten_right_spellings_and_three_hundred_in_all():
    # notebooks 01-10's exercises; those of 11-16 were added later, with their declared spellings
    first_ten = {i for i, ex in EXERCISES.items() if ex.notebook[:2] <= "10"}
    assert set(RIGHT) == first_ten
    assert all(len(spellings) >= 10 for spellings in RIGHT.values())
    assert sum(map(len, RIGHT.values())) >= 300


@pytest.mark.parametrize("exercise_id", sorted(RIGHT))
def test_right_answers_in_every_notation_are_accepted(exercise_id, monkeypatch):
    monkeypatch.setattr(_prove, "TIME_LIMIT", 1.0)
    refused = [(answer, check(exercise_id, answer)) for answer in RIGHT[exercise_id]]
    refused = [(answer, f) for answer, f in refused if not f.passed]
    assert not refused, "\n".join(f"{a!r}: {f!r}" for a, f in refused)


# A wrong answer in another notation, and the same wrong answer written plainly.
WRONG = [
    ("kang.5.bce_logit", "y − ŷ", "y - yhat"),
    ("kang.5.sigmoid", r"3\sigma(s)(1-\sigma(s))", "3*sigma(s)*(1 - sigma(s))"),
    ("kang.9.affine.x", "W g", "W @ g"),
    ("kang.9.affine.W", "g x", "g @ x"),
    ("kang.9.affine.W", r"\mathbf{x}\mathbf{g}^\top", "x @ g.T"),
    ("kang.10.batch.W", "G^T X", "G.T @ X"),
    ("kang.10.batch.b", r"\frac{1}{N}\sum_n G_n", "sum(G, axis=0)/N"),
    ("jin.chain.delta", "σ(z) − y", "y_pred - y"),
    ("kang.4.max", "(g (a ≥ b), g (b ≥ a))", "(g*(a >= b), g*(b >= a))"),
    ("jin.relu_mask", "(((x > 0) ⊙ G) w1ᵀ, xᵀ((x > 0) ⊙ G))",
     "(((x > 0) * G) @ w1.T, x.T @ ((x > 0) * G))"),
    ("deriv.batch.W", "Δ Aᵀ", "Delta @ A.T"),
    ("once.chain", "(v + cos u) y", "(v + cos(u))*y"),
]


@pytest.mark.parametrize("exercise_id, written, plain", WRONG)
def test_a_wrong_answer_in_any_notation_gets_the_diagnosis_of_its_plain_spelling(
        exercise_id, written, plain):
    feedback, reference = check(exercise_id, written), check(exercise_id, plain)
    assert not feedback.passed and not reference.passed
    assert feedback.diagnosis == reference.diagnosis, (feedback, reference)
    assert feedback.diagnosis not in ("could not read the answer", "cannot be evaluated")
