"""Shared fixtures: tiny random-weight Gemmas and the real embedded model."""

from __future__ import annotations

import functools

import pytest

from promptkit.models.gemma_model import GemmaModel
from promptkit.models.loader import load_model

TINY_FAMILIES = ("gemma1", "gemma2", "gemma3")


@functools.cache
def _tiny(family: str) -> GemmaModel:
    return load_model(f"tiny:{family}")


@pytest.fixture(params=TINY_FAMILIES)
def tiny_model(request: pytest.FixtureRequest) -> GemmaModel:
    """A tiny random-weight Gemma of each family (built once per process)."""
    return _tiny(request.param)


@pytest.fixture
def tiny_gemma3() -> GemmaModel:
    """The tiny Gemma 3 alone, for tests that need one model."""
    return _tiny("gemma3")


@pytest.fixture(scope="session")
def embedded_model() -> GemmaModel:
    """The real Gemma 3 270M, converted into the cache on first use."""
    return load_model()
