"""Salience methods, each declared once as a `SalienceMethod` and looked up by name.

A declaration holds everything the rest of promptkit knows about a method:
its menu title, whether its scores are signed, their unit, how they may be
combined per piece, its parameters, whether it reads gradients and whether
it explains a contrast. The engine, the CLI's `--method`, the figures'
colour-bar titles and the dashboard's menu and captions all read it, so a
method registered with `register_method` is offered everywhere.

A gradient method turns a gradient backend's output into one score per
position of `<bos>` + prompt + target. The backend (`promptkit.models.
gradients.GradientComputer`, or a fake in tests) is passed in, so this
module needs no TensorFlow. Occlusion is declared here too, for menus and
stored results, but leaves pieces of the prompt out instead
(`promptkit.salience.occlusion`), so it has no `compute`. Attention reads
no gradients either: its scores are the model's own attention weights
(`promptkit.models.attention_weights`), which fill the token-by-token
matrix (`promptkit.salience.token_matrix`) but explain no span on their
own, so `method_names` leaves it out and `matrix_method_names` lists it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from promptkit.errors import SalienceError
from promptkit.models.api import GradientBackend, LossGradients
from promptkit.salience.aggregation import AGGREGATIONS


@dataclasses.dataclass(frozen=True)
class MethodOutput:
    """Scores of several targets over one sequence.

    Attributes:
        scores: shape `(num_targets, length)`, position 0 being `<bos>`.
        losses: each target's loss, shape `(num_targets,)`.
        details: per target, extra numbers worth showing (e.g. IG's error).
    """

    scores: np.ndarray
    losses: np.ndarray
    details: tuple[Mapping[str, float], ...]


Compute = Callable[..., MethodOutput]


@dataclasses.dataclass(frozen=True)
class SalienceMethod:
    """One salience method, declared once.

    Attributes:
        name: registry key and `--method` value, e.g. `"grad_l2"`.
        title: its name in menus and captions, e.g. `"grad l2"`.
        signed: whether scores can be negative (diverging colours).
        unit: what a score measures, for colour bars and axes, e.g. `"nats of loss"`.
        description: one line for menus and `--help`.
        legend: one sentence saying what the heatmap's colours mean.
        compute: `compute(backend, token_ids, target_masks, **parameters)`,
            token ids of shape `(length,)`, bool masks of shape
            `(num_targets, length)`; None for a method that reads no
            gradients (occlusion).
        parameters: the parameters it accepts, with their default values.
        aggregations: how its token scores may be combined per piece, the
            first by default; a method that scores whole pieces allows only
            `"sum"`, which gives the piece scores back.
        default_granularity: the granularity the CLI groups (or, for a
            method that reads no gradients, leaves out) by default.
        allows_contrast: whether it explains a span against a contrast text:
            its `compute` asks the backend for `gradients` alone, so it can
            be given the gradients of L(span) − L(contrast)
            (`promptkit.salience.contrast`).
        reads_attention: whether its scores are the model's attention
            weights, read in one forward pass (no `compute`); such a method
            fills only the token-by-token matrix, and its `parameters` pick
            the layers and the aggregation over heads.
    """

    name: str
    title: str
    signed: bool
    unit: str
    description: str
    legend: str
    compute: Compute | None
    parameters: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    aggregations: tuple[str, ...] = AGGREGATIONS
    default_granularity: str = "words"
    allows_contrast: bool = False
    reads_attention: bool = False

    def __post_init__(self) -> None:
        if self.reads_attention and self.compute is not None:
            raise ValueError(f"method {self.name!r} reads attention weights, so it has no gradient compute")
        if self.allows_contrast and self.compute is None:
            raise ValueError(f"method {self.name!r} reads no gradients, so it cannot explain a contrast")
        if not self.aggregations or not set(self.aggregations) <= set(AGGREGATIONS):
            raise ValueError(f"method {self.name!r}: aggregations must be some of {', '.join(AGGREGATIONS)}")

    @property
    def needs_gradients(self) -> bool:
        """Whether it reads the model's gradients (it has a `compute`), rather than leaving pieces out."""
        return self.compute is not None


_REGISTRY: dict[str, SalienceMethod] = {}


def register_method(method: SalienceMethod, *, replace: bool = False) -> None:
    """Adds a method to the registry (`replace=True` to override one)."""
    if method.name in _REGISTRY and not replace:
        raise ValueError(f"method {method.name!r} is already registered")
    _REGISTRY[method.name] = method


def method_names() -> tuple[str, ...]:
    """Names of the registered methods that explain a chosen span (all but attention's), in registration order."""
    return tuple(name for name, method in _REGISTRY.items() if not method.reads_attention)


def matrix_method_names() -> tuple[str, ...]:
    """Names of the registered methods that fill a token-by-token matrix (gradients or attention), in registration order."""
    return tuple(name for name, method in _REGISTRY.items() if method.needs_gradients or method.reads_attention)


def contrast_method_names() -> tuple[str, ...]:
    """Names of the registered methods that explain a contrast, in registration order."""
    return tuple(name for name, method in _REGISTRY.items() if method.allows_contrast)


def get_method(name: str) -> SalienceMethod:
    """The method called `name`.

    Raises:
        SalienceError: no such method.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise SalienceError(f"Unknown salience method {name!r}; choose one of {', '.join(_REGISTRY)}.") from None


def require_contrast(method: SalienceMethod) -> None:
    """Checks that `method` explains a contrast.

    Raises:
        SalienceError: its declaration says `allows_contrast=False`.
    """
    if not method.allows_contrast:
        names = contrast_method_names()
        listed = " and ".join(names) if len(names) < 3 else f"{', '.join(names[:-1])} and {names[-1]}"
        raise SalienceError(f"Contrastive salience works with {listed}, not {method.name}; pick one of those.")


def resolve_params(method: SalienceMethod, params: Mapping[str, Any]) -> dict[str, Any]:
    """The method's default parameters updated with `params`.

    Raises:
        SalienceError: a parameter the method does not take.
    """
    unknown = sorted(set(params) - set(method.parameters))
    if unknown:
        raise SalienceError(
            f"{method.name} takes no parameter {', '.join(unknown)}; it takes: {', '.join(method.parameters) or 'none'}."
        )
    return {**method.parameters, **params}


def _grad_l2(backend: LossGradients, token_ids: np.ndarray, target_masks: np.ndarray) -> MethodOutput:
    result = backend.gradients(token_ids, target_masks)
    scores = np.linalg.norm(result.gradients, axis=-1)
    return MethodOutput(scores, result.losses, tuple({} for _ in result.losses))


def _grad_dot_input(backend: LossGradients, token_ids: np.ndarray, target_masks: np.ndarray) -> MethodOutput:
    result = backend.gradients(token_ids, target_masks)
    scores = np.einsum("tlh,lh->tl", result.gradients, result.embeddings)
    return MethodOutput(scores, result.losses, tuple({} for _ in result.losses))


def _integrated_gradients(
    backend: GradientBackend, token_ids: np.ndarray, target_masks: np.ndarray, *, steps: int, batch_size: int, baseline: str
) -> MethodOutput:
    result = backend.integrated_gradients(token_ids, target_masks, steps=steps, batch_size=batch_size, baseline=baseline)
    details = tuple(
        {"baseline_loss": float(base), "completeness_error": float(error)}
        for base, error in zip(result.baseline_losses, result.completeness_error)
    )
    return MethodOutput(result.attributions, result.losses, details)


OCCLUSION = "occlusion"
ATTENTION = "attention"
_SIGNED_LEGEND = "Orange made the explained text more likely, blue less likely; white: no effect."

register_method(
    SalienceMethod(
        name="grad_l2",
        title="grad l2",
        signed=False,
        unit="gradient norm",
        description="L2 norm of the loss gradient per token (unsigned).",
        legend="The darker a piece of the prompt, the more the explained text depended on it (direction not shown).",
        compute=_grad_l2,
        allows_contrast=True,
    )
)
register_method(
    SalienceMethod(
        name="grad_dot_input",
        title="grad dot input",
        signed=True,
        unit="≈ nats of loss",
        description="Gradient · embedding per token (signed).",
        legend=_SIGNED_LEGEND,
        compute=_grad_dot_input,
        allows_contrast=True,
    )
)
register_method(
    SalienceMethod(
        name="integrated_gradients",
        title="integrated gradients",
        signed=True,
        unit="nats of loss",
        description="Integrated gradients from a zero-embedding baseline (signed).",
        legend=_SIGNED_LEGEND,
        compute=_integrated_gradients,
        parameters={"steps": 16, "batch_size": 8, "baseline": "zero"},
    )
)
register_method(
    SalienceMethod(
        name=OCCLUSION,
        title="occlusion",
        signed=True,
        unit="nats of loss",
        description="Leave each piece of the prompt out and rescore the answer: the change of its loss (signed, nats).",
        legend=(
            "Each piece was left out in turn and the answer scored again. Orange: without it the explained text "
            "became less likely (it supported it); blue: more likely (it worked against it)."
        ),
        compute=None,
        aggregations=("sum",),
        default_granularity="lines",
    )
)
register_method(
    SalienceMethod(
        name=ATTENTION,
        title="attention",
        signed=False,
        unit="attention weight",
        description=(
            "The model's own attention weights from the position that predicts each token: mean or max over "
            "heads, one layer, a range of layers or all of them averaged (token by token only)."
        ),
        legend=(
            "The darker a piece, the more attention the model paid to it where it wrote the token (weights on "
            "<bos> are not shown; sliding-window layers give 0 to what lies outside their window)."
        ),
        compute=None,
        parameters={"layers": "all", "heads": "mean"},
        default_granularity="tokens",
        reads_attention=True,
    )
)
