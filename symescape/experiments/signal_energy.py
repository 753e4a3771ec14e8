"""The signal energy M = E[f(x)(v·x)] and its gradients G_l = ∂M/∂W_l (MATH.md §8, Proposition 8,
Theorem 11 and the remark on prefactor agreement).

Proposition 8. Under uniform gradient flow of the squared loss with the teacher y = aσ(s),
s = v·x, split y = aμ₁ s + a(σ(s) − μ₁ s) (first Hermite part and the rest). Then, exactly,

    dW_l/dt = E[(y − f) ∂f/∂W_l] = aμ₁ G_l + H_l − S_l,
    H_l = E[a(σ(s) − μ₁ s) ∂f/∂W_l],   S_l = E[f ∂f/∂W_l],
    dM/dt = Σ_l ⟨G_l, dW_l/dt⟩ = aμ₁ Σ_l ||G_l||² + Σ_l ⟨G_l, H_l⟩ − Σ_l ⟨G_l, S_l⟩

(signal term, the teacher's higher-Hermite term, the self-interaction term). The identity holds for
any input measure; it is checked against the exact directional derivative of M along the flow,
computed by forward-mode tangent propagation (an independent route from back-propagation).

Remark (prefactor agreement). On the symmetric ansatz at leading order M = C_M ρ^L and
(Π_l G_l²)^{1/L} = C_G ρ^{2L−2} on the balanced ray (G_l = ∂M/∂X_l); the AM-GM step
Σ_l G_l² ≥ L (Π_l G_l²)^{1/L} saturates there, and the comparison ODE
dM/dt = aμ₁ L (Π_l G_l²)^{1/L} gives dρ/dt = K_SE ρ^{L−1} with K_SE = aμ₁ C_G / C_M, to be
compared with Theorem 6's K = aμ₁ c_1^{L−1}: T = ε^{−(L−2)}/(K (L−2)) at leading order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symescape.numeric.losses import SQUARED
from symescape.numeric.network import (
    Weights,
    backward,
    batch_mean,
    loss_and_gradients,
)
from symescape.numeric.reduced import reduced_model
from symescape.numeric.training import Engine
from symescape.precision.gauss import gauss_hermite_rule
from symescape.symbolic.chain import chain_kernel
from symescape.symbolic.resolved import ActivationKernels


@dataclass(frozen=True)
class PrefactorAgreement:
    """Theorem 6's K (exact, symbolic) against the signal-energy bound's K_SE = aμ₁ C_G/C_M
    (quadrature of the chain at the balanced point ρ), and the AM-GM saturation ratio
    Σ G_l² / (L (Π G_l²)^{1/L}) there (1 when saturated) and at an unbalanced point."""

    activation: str
    depth: int
    rho: float
    K_exact: float
    K_signal: float
    saturation_balanced: float
    saturation_unbalanced: float

    @property
    def relative_gap(self) -> float:
        return abs(self.K_signal / self.K_exact - 1)


def manifold_signal(
    activation: str, depth: int, X: np.ndarray, nodes: int = 96
) -> tuple[float, np.ndarray]:
    """(M, G) on the symmetric ansatz: M = E_s[f(s) s], G_l = ∂M/∂X_l = E_s[∂_l f(s) s]."""
    model = reduced_model(activation, depth, nodes=nodes)
    s, w = gauss_hermite_rule(nodes)
    values = chain_kernel(model.activation, depth)(s, *np.asarray(X, dtype=float))
    values = [np.broadcast_to(v, s.shape) for v in values]
    M = float((values[0] * s) @ w)
    G = np.array([float((g * s) @ w) for g in values[1:]])
    return M, G


def prefactor_agreement(
    activation: str, depth: int, rho: float = 1e-13, amplitude: float = 1.0
) -> PrefactorAgreement:
    """K_SE = aμ₁ C_G / C_M from the chain at X = ρ𝟏 against K (MATH.md §6, §8).

    aμ₁ is measured by quadrature as E[aσ(s) s]; the corrections at finite ρ are O(ρ^{q−1}).
    """
    model = reduced_model(activation, depth, amplitude)
    s, w = gauss_hermite_rule(model.nodes)
    from symescape.symbolic.resolved import activation_kernels

    a_mu1 = amplitude * float((np.asarray(activation_kernels(model.activation).sigma(s)) * s) @ w)
    X = np.full(depth, rho)
    M, G = manifold_signal(activation, depth, X, model.nodes)
    C_M = M / rho**depth
    C_G = float(np.exp(np.mean(np.log(G**2)))) / rho ** (2 * depth - 2)
    saturation = float(np.sum(G**2) / (depth * np.exp(np.mean(np.log(G**2)))))
    X_unbalanced = rho * np.linspace(1.0, 2.0, depth)
    _, G_u = manifold_signal(activation, depth, X_unbalanced, model.nodes)
    saturation_u = float(np.sum(G_u**2) / (depth * np.exp(np.mean(np.log(G_u**2)))))
    return PrefactorAgreement(
        activation,
        depth,
        rho,
        float(model.constants.K),
        a_mu1 * C_G / C_M,
        saturation,
        saturation_u,
    )


@dataclass(frozen=True)
class PopulationMeasure:
    """Inputs x = s_i v + P_⊥ g_m (Gauss–Hermite s_i along v, a fixed Gaussian sample g_m in the
    orthogonal complement), weights w_i / m; ``s`` = v·x per input."""

    x: np.ndarray
    weights: np.ndarray
    s: np.ndarray


def population_measure(
    direction: np.ndarray, nodes: int = 32, orthogonal_samples: int = 64, seed: int = 0
) -> PopulationMeasure:
    """Gauss–Hermite along v times a fixed Monte Carlo sample of the orthogonal components."""
    v = np.asarray(direction, dtype=float)
    v = v / np.linalg.norm(v)
    s, w = gauss_hermite_rule(nodes)
    g = np.random.default_rng(seed).standard_normal((orthogonal_samples, v.size))
    g -= np.outer(g @ v, v)
    x = (s[:, None, None] * v[None, None, :] + g[None, :, :]).reshape(-1, v.size)
    weights = np.repeat(w / orthogonal_samples, orthogonal_samples)
    return PopulationMeasure(x, weights, x @ v)


@dataclass(frozen=True)
class SignalEnergySplit:
    """The three terms of Proposition 8 and two independent values of dM/dt, at one point W.

    ``signal`` = aμ₁ Σ||G_l||², ``higher`` = Σ⟨G_l, H_l⟩, ``self_interaction`` = Σ⟨G_l, S_l⟩
    (entering with a minus sign); ``chain_rule`` = Σ⟨G_l, −∇_{W_l}𝓛⟩ with ∇𝓛 from the loss's own
    back-propagation; ``tangent`` = E[s ḟ] along Ẇ = −∇𝓛 by forward-mode propagation."""

    M: float
    loss: float
    signal: float
    higher: float
    self_interaction: float
    chain_rule: float
    tangent: float
    gradient_mass: float  # Φ = Σ||G_l||²

    @property
    def split_sum(self) -> float:
        return self.signal + self.higher - self.self_interaction

    @property
    def identity_error(self) -> float:
        """|split − tangent| and |chain rule − tangent| relative to the largest term."""
        scale = max(abs(self.signal), abs(self.higher), abs(self.self_interaction), 1e-300)
        return max(abs(self.split_sum - self.tangent), abs(self.chain_rule - self.tangent)) / scale


def tangent_output(
    weights: Weights, tangents: Weights, x: np.ndarray, kernels: ActivationKernels
) -> tuple[np.ndarray, np.ndarray]:
    """(f, ḟ): the output and its directional derivative along ``tangents`` (forward mode):
    ż_1 = Ẇ_1 x, ż_{l+1} = Ẇ_{l+1} h_l + W_{l+1} (σ'(z_l) ⊙ ż_l)."""
    h = np.broadcast_to(x, (weights[0].shape[0], *x.shape)) if x.ndim == 2 else x
    dh = np.zeros_like(h)
    depth = len(weights)
    for index, (w, dw) in enumerate(zip(weights, tangents, strict=True)):
        z = h @ np.swapaxes(w, 1, 2)
        dz = h @ np.swapaxes(dw, 1, 2) + dh @ np.swapaxes(w, 1, 2)
        if index < depth - 1:
            h, dh = kernels.sigma(z), kernels.derivative(z) * dz
    return z[..., 0], dz[..., 0]


def _pairing(left: Weights, right: Weights) -> np.ndarray:
    return sum((a * b).sum(axis=(1, 2)) for a, b in zip(left, right, strict=True))


def signal_energy_split(
    weights: Weights,
    measure: PopulationMeasure,
    kernels: ActivationKernels,
    amplitude: float,
    mu1: float,
) -> list[SignalEnergySplit]:
    """Proposition 8's three terms for each ensemble member, on ``measure`` (MATH.md §8)."""
    members = weights[0].shape[0]
    x = np.ascontiguousarray(np.broadcast_to(measure.x, (members, *measure.x.shape)))
    bw, s = measure.weights, measure.s
    y = amplitude * kernels.sigma(s)
    loss, passed, grads = loss_and_gradients(weights, x, y, SQUARED, kernels, bw)
    f = passed.output
    shape = f.shape

    def expect_df(values: np.ndarray) -> Weights:
        dloss = np.ascontiguousarray(np.broadcast_to(values, shape))
        return backward(weights, passed, dloss, kernels, bw).gradients

    G = expect_df(s)
    H = expect_df(amplitude * (kernels.sigma(s) - mu1 * s))
    S = expect_df(f)
    velocity = tuple(-g for g in grads.gradients)
    _, df = tangent_output(weights, velocity, x, kernels)
    M = batch_mean((f * s)[..., None], bw)[..., 0]
    tangent = batch_mean((df * s)[..., None], bw)[..., 0]
    Phi = _pairing(G, G)
    signal, higher, self_term = amplitude * mu1 * Phi, _pairing(G, H), _pairing(G, S)
    chain = _pairing(G, velocity)
    return [
        SignalEnergySplit(
            float(M[e]),
            float(loss[e]),
            float(signal[e]),
            float(higher[e]),
            float(self_term[e]),
            float(chain[e]),
            float(tangent[e]),
            float(Phi[e]),
        )
        for e in range(shape[0])
    ]


@dataclass(frozen=True)
class EscapeSplit:
    """Proposition 8's terms along one off-manifold escape: ``steps`` of SGD at which each split
    was evaluated; ``escape_step`` the first checkpoint with loss below ``threshold`` · baseline."""

    r: int
    eps: float
    steps: list[int]
    splits: list[SignalEnergySplit]
    baseline: float
    threshold: float
    escape_step: int | None


def escape_split(
    r: int,
    eps: float,
    *,
    activation: str = "tanh",
    depth: int = 8,
    width: int = 16,
    input_dim: int = 16,
    learning_rate: float = 0.1,
    batch: int = 128,
    chunk: int = 100,
    max_steps: int = 6000,
    threshold: float = 0.3,
    seed: int = 7,
    engine: Engine = Engine.NUMPY,
) -> EscapeSplit:
    """He-normal network with the first r layers × ε trained by SGD (fresh Gaussian batches,
    uniform rate, :func:`~symescape.numeric.training.train`) until the population loss falls below
    ``threshold`` times the baseline E[y²]/2; Proposition 8's split every ``chunk`` steps.

    ``engine``: NumPy by default. One network trained ``chunk`` steps at a time between exact
    splits is too little work per call for the compiled engine: ``prop8-signal-energy`` took
    5.6 s CPU on it against 3.0 s on NumPy (quick; full 11.5 against 7.1 s), the same escape
    steps and splits (two cores, 2026-12-07); its program alone took 1.7 s to compile."""
    from symescape.numeric.inits import he_normal_weights
    from symescape.numeric.teachers import single_mode_teacher
    from symescape.numeric.training import TrainingConfig, train
    from symescape.symbolic.classification import classify
    from symescape.symbolic.resolved import activation_kernels

    kernels = activation_kernels(activation)
    mu1 = float(classify(activation).mu1.value)
    teacher = single_mode_teacher(input_dim)
    measure = population_measure(teacher.directions[0])
    y = kernels.sigma(measure.s)
    baseline = float(0.5 * (y**2) @ measure.weights)
    weights = he_normal_weights(
        [input_dim] + [width] * (depth - 1) + [1], seed=seed, epsilon=eps, bottleneck=r
    )
    steps, splits, escape = [], [], None
    for segment in range(max_steps // chunk + 1):
        split = signal_energy_split(weights, measure, kernels, 1.0, mu1)[0]
        steps.append(segment * chunk)
        splits.append(split)
        if split.loss < threshold * baseline:
            escape = segment * chunk
            break
        config = TrainingConfig(
            steps=chunk, learning_rate=learning_rate, batch=batch, seed=seed + segment,
            record_every=chunk, engine=engine,
        )
        weights = train(weights, teacher, kernels, config).weights
    return EscapeSplit(r, eps, steps, splits, baseline, threshold, escape)
