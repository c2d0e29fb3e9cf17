"""Attribution methods, looked up by name; register new ones with `register_method`.

A gradient method turns a gradient backend's output into one score per
position of `<bos>` + prompt + target. The backend (`promptkit.models.
gradients.GradientComputer`, or a fake in tests) is passed in, so this
module needs no TensorFlow. Occlusion is listed here too, for menus and
stored results, but leaves pieces of the prompt out instead
(`promptkit.salience.occlusion`), so it has no `compute`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np

from promptkit.errors import SalienceError


class GradientBackend(Protocol):
    """What methods need from the model side (see `promptkit.models.gradients`)."""

    def gradients(self, token_ids: np.ndarray, target_masks: np.ndarray) -> Any:
        """Returns `.losses (T,)`, `.gradients (T, L, H)`, `.embeddings (L, H)`."""

    def integrated_gradients(
        self, token_ids: np.ndarray, target_masks: np.ndarray, *, steps: int, batch_size: int, baseline: str
    ) -> Any:
        """Returns `.attributions (T, L)`, `.losses`, `.baseline_losses`, `.completeness_error`."""


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
class Method:
    """An attribution method.

    Attributes:
        name: registry key, e.g. `"grad_l2"`.
        signed: whether scores can be negative (diverging colours).
        description: one line for menus.
        compute: `compute(backend, token_ids, target_masks, **params)`, or
            None for a method that needs no gradients (occlusion).
        defaults: the parameters it accepts, with their default values.
    """

    name: str
    signed: bool
    description: str
    compute: Compute | None
    defaults: Mapping[str, Any] = dataclasses.field(default_factory=dict)


_REGISTRY: dict[str, Method] = {}


def register_method(method: Method, *, replace: bool = False) -> None:
    """Adds a method to the registry (`replace=True` to override one)."""
    if method.name in _REGISTRY and not replace:
        raise ValueError(f"method {method.name!r} is already registered")
    _REGISTRY[method.name] = method


def method_names() -> tuple[str, ...]:
    """Names of the registered methods, in registration order."""
    return tuple(_REGISTRY)


def get_method(name: str) -> Method:
    """The method called `name`.

    Raises:
        SalienceError: no such method.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise SalienceError(f"Unknown salience method {name!r}; choose one of {', '.join(_REGISTRY)}.") from None


def resolve_params(method: Method, params: Mapping[str, Any]) -> dict[str, Any]:
    """The method's defaults updated with `params`.

    Raises:
        SalienceError: a parameter the method does not take.
    """
    unknown = sorted(set(params) - set(method.defaults))
    if unknown:
        raise SalienceError(f"{method.name} takes no parameter {', '.join(unknown)}; it takes: {', '.join(method.defaults) or 'none'}.")
    return {**method.defaults, **params}


def _grad_l2(backend: GradientBackend, token_ids: np.ndarray, target_masks: np.ndarray) -> MethodOutput:
    result = backend.gradients(token_ids, target_masks)
    scores = np.linalg.norm(result.gradients, axis=-1)
    return MethodOutput(scores, result.losses, tuple({} for _ in result.losses))


def _grad_dot_input(backend: GradientBackend, token_ids: np.ndarray, target_masks: np.ndarray) -> MethodOutput:
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

register_method(Method("grad_l2", False, "L2 norm of the loss gradient per token (unsigned).", _grad_l2))
register_method(Method("grad_dot_input", True, "Gradient · embedding per token (signed).", _grad_dot_input))
register_method(
    Method(
        "integrated_gradients",
        True,
        "Integrated gradients from a zero-embedding baseline (signed).",
        _integrated_gradients,
        {"steps": 16, "batch_size": 8, "baseline": "zero"},
    )
)
register_method(
    Method(
        OCCLUSION,
        True,
        "Leave each piece of the prompt out and rescore the answer: the change of its loss (signed, nats).",
        None,
    )
)
