"""The colour scale every salience view shares: the Plotly figures and the HTML text alike.

A score s is normalised by the colour domain D to v = s / D in [−1, 1]
(signed methods) or [0, 1], then shown as sign(v)·|v|^(1 − gain); gain
(LIT's "colormap intensity", 0–1, default 0.4) brightens small scores.
Signed scales run orange (negative) through white to blue; unsigned ones
white to purple.
"""

from __future__ import annotations

import itertools

import numpy as np

DEFAULT_GAIN = 0.4
UNSIGNED_SCALE = ((0.0, "#ffffff"), (1.0, "#5b2c9f"))
SIGNED_SCALE = ((0.0, "#c2410c"), (0.5, "#ffffff"), (1.0, "#1d4ed8"))
# Below this relative luminance white text contrasts more than black (WCAG).
_DARK = 0.179


def shown(values: np.ndarray, gain: float) -> np.ndarray:
    """Normalised scores as the colour axis places them: sign(v)·|v|^(1 − gain)."""
    placed: np.ndarray = np.sign(values) * np.abs(values) ** _exponent(gain)
    return placed


def scale(signed: bool) -> tuple[tuple[float, str], ...]:
    """The colour scale's stops, (position in [0, 1], `#rrggbb`)."""
    return SIGNED_SCALE if signed else UNSIGNED_SCALE


def position(value: float, signed: bool) -> float:
    """Where a shown value (`shown`'s output) lies on the colour scale, 0–1."""
    return (value + 1.0) / 2.0 if signed else value


def colour_at(place: float, signed: bool) -> str:
    """The scale's colour at `place` (0–1, clipped), interpolated in RGB as Plotly does."""
    stops = scale(signed)
    place = min(max(place, 0.0), 1.0)
    for (low, low_colour), (high, high_colour) in itertools.pairwise(stops):
        if place <= high:
            share = 0.0 if high == low else (place - low) / (high - low)
            a, b = _rgb(low_colour), _rgb(high_colour)
            return "#" + "".join(f"{round(x + (y - x) * share):02x}" for x, y in zip(a, b))
    return stops[-1][1]


def score_colour(normalised: float, *, signed: bool, gain: float) -> str:
    """The background of a piece whose score, divided by the domain, is `normalised`."""
    return colour_at(position(float(shown(np.array(normalised), gain)), signed), signed)


def is_dark(colour: str) -> bool:
    """Whether `#rrggbb` is dark enough to need white text on it (WCAG relative luminance)."""
    linear = [(c / 255) / 12.92 if c <= 10 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in _rgb(colour)]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2] < _DARK


def ticks(signed: bool, domain: float, gain: float) -> list[tuple[float, str]]:
    """The colour bar's ticks: five evenly spaced along the bar (0–1), each labelled with the score there.

    Even spacing keeps the labels apart whatever the gain, which bunches
    evenly spaced scores towards the ends of the bar.
    """
    placed = np.linspace(-1 if signed else 0, 1, 5)
    scores = np.sign(placed) * np.abs(placed) ** (1.0 / _exponent(gain)) * domain
    return [(position(float(at), signed), f"{score:.3g}") for at, score in zip(placed, scores)]


def _exponent(gain: float) -> float:
    return max(0.05, 1.0 - min(max(gain, 0.0), 1.0))


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)
