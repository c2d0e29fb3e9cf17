"""The path of integrated gradients: its points and weights, its baselines, and how complete its sum is.

Pure numpy: the gradients along the path come from the model
(`promptkit.models.integrated_gradients`), everything else is here.

Along the straight path start + α·(x − start) from the all-zero baseline,
every RMSNorm x / √(mean(x²) + ε) sees inputs of size α·|x|, so the loss
changes wherever nested norms cross their ε: measured from α ≈ 1e-17
(tiny random Gemma 3, sliding window 8) or 1e-13 (Gemma 3 270M) up to 1,
in features about a tenth of a decade wide. A uniform α grid spends all
its points above 1/steps and misses them. So the path is sampled
uniformly in t with α = φ(t), the inverse of

    t(α) = ½·ln(1 + α/α₀) / ln(1 + 1/α₀) + ½·α,

half log-uniform down to α₀ (and linear below it, so the segment [0, α₀]
is still integrated) and half uniform in α (the loss also moves fast
near α = 1). φ is smooth and strictly increasing on [0, 1], so the
midpoint rule of ∫₀¹ ∇f(φ(t))·(x − start)·φ′(t) dt converges to
f(x) − f(start) as steps grow. The `<pad>` baseline's path stays away
from zero, so it keeps the plain midpoint rule in α.
"""

from __future__ import annotations

import dataclasses

import numpy as np

# Below the deepest norm transition measured (1e-17, tiny Gemma 3) the
# loss is flat to 1e-3; α₀ only shifts where points go, not the limit.
_ALPHA_0 = 1e-16
# Per baseline, the share of t spent log-uniformly in α (0: the plain midpoint rule in α).
_LOG_SHARES = {"zero": 0.5, "pad": 0.0}
BASELINES = tuple(_LOG_SHARES)


@dataclasses.dataclass(frozen=True)
class IntegratedGradientsResult:
    """Integrated-gradients attributions of several target losses.

    Attributes:
        attributions: per-token attribution, shape `(num_targets, length)`.
        losses: loss at the input, shape `(num_targets,)`.
        baseline_losses: loss at the baseline, shape `(num_targets,)`.
        completeness_error: |Σ attributions − (loss − baseline loss)|, shape
            `(num_targets,)`; it shrinks as the number of steps grows.
    """

    attributions: np.ndarray
    losses: np.ndarray
    baseline_losses: np.ndarray
    completeness_error: np.ndarray


def check_path_settings(*, steps: int, batch_size: int, baseline: str) -> None:
    """Checks the settings of one integrated-gradients call.

    Args:
        steps: path points per target, at least 1.
        batch_size: path points per model batch, at least 1.
        baseline: one of `BASELINES`.

    Raises:
        ValueError: a setting out of range.
    """
    if baseline not in _LOG_SHARES:
        raise ValueError(f"unknown baseline {baseline!r}; use {' or '.join(repr(name) for name in BASELINES)}")
    if steps < 1 or batch_size < 1:
        raise ValueError("steps and batch_size must be at least 1")


def _path_t(alpha: np.ndarray, log_share: float) -> np.ndarray:
    t: np.ndarray = log_share * np.log1p(alpha / _ALPHA_0) / np.log1p(1 / _ALPHA_0) + (1 - log_share) * alpha
    return t


def path_points(steps: int, baseline: str) -> tuple[np.ndarray, np.ndarray]:
    """Midpoint-rule nodes α = φ(t) on [0, 1] and their weights φ′(t)/steps, for a baseline's path.

    Args:
        steps: number of nodes.
        baseline: one of `BASELINES`; the zero baseline's nodes are spread
            half log-uniformly in α (see the module docstring), the pad
            baseline's uniformly.

    Returns:
        `(alphas, weights)`, float64, each of shape `(steps,)`; Σ weights·g(alphas)
        approximates ∫₀¹ g(α) dα.
    """
    log_share = _LOG_SHARES[baseline]
    t = (np.arange(steps) + 0.5) / steps
    low, high = np.zeros(steps), np.ones(steps)
    # t(α) has no closed-form inverse; 60 bisections reach float64 resolution.
    for _ in range(60):
        middle = (low + high) / 2
        above = _path_t(middle, log_share) > t
        low, high = np.where(above, low, middle), np.where(above, middle, high)
    alphas = (low + high) / 2
    dt_dalpha = log_share / ((_ALPHA_0 + alphas) * np.log1p(1 / _ALPHA_0)) + (1 - log_share)
    return alphas, 1 / (dt_dalpha * steps)


def path_start(embeddings: np.ndarray, pad_embedding: np.ndarray | None) -> np.ndarray:
    """The baseline the path starts from; `<bos>` keeps its real embedding (the model never sees a sequence without it).

    Args:
        embeddings: the input's embeddings, `<bos>` first, shape `(length, hidden)`.
        pad_embedding: for the pad baseline, the `<pad>` token's embedding,
            shape `(hidden,)`: every other token becomes `<pad>`. None for
            the zero baseline: every other token's embedding is zero.

    Returns:
        float32, shape `(length, hidden)`.
    """
    if pad_embedding is None:
        start = np.zeros(embeddings.shape, np.float32)
    else:
        start = np.repeat(np.asarray(pad_embedding, np.float32)[None], len(embeddings), 0)
    start[0] = embeddings[0]
    return start


def path_rows(start: np.ndarray, embeddings: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    """Points start + α·(embeddings − start) of the straight path, one row per α.

    Args:
        start: the baseline, shape `(length, hidden)`.
        embeddings: the input's embeddings, shape `(length, hidden)`.
        alphas: positions on the path, shape `(rows,)`.

    Returns:
        float32, shape `(rows, length, hidden)`.
    """
    rows: np.ndarray = (start + alphas[:, None, None] * (embeddings - start)).astype(np.float32)
    return rows


def path_result(
    gradient_integrals: np.ndarray,
    embeddings: np.ndarray,
    start: np.ndarray,
    losses: np.ndarray,
    baseline_losses: np.ndarray,
) -> IntegratedGradientsResult:
    """Attributions from the integrated gradients, and how far they are from summing to the loss change.

    Args:
        gradient_integrals: per target, Σ weights·gradient over the path
            points, shape `(num_targets, length, hidden)`.
        embeddings: the input's embeddings, shape `(length, hidden)`.
        start: the baseline, shape `(length, hidden)`.
        losses: loss at the input, shape `(num_targets,)`.
        baseline_losses: loss at the baseline, shape `(num_targets,)`.

    Returns:
        Attributions `(num_targets, length)`: the integral dotted with
        embeddings − start per token; with the losses and the completeness error.
    """
    attributions = np.einsum("tlh,lh->tl", gradient_integrals, embeddings - start).astype(np.float32)
    error = np.abs(attributions.sum(axis=1) - (losses - baseline_losses))
    return IntegratedGradientsResult(attributions, losses, baseline_losses, error)
