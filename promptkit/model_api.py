"""The interface every model behind promptkit fits (LIT's model/component split).

Salience, comparison and the dashboard take any object with this shape:
the KerasHub Gemma wrapper in `promptkit.models`, or a fake in tests.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from promptkit.generation import Completion, GenerationSettings
from promptkit.tokenization import TokenSpan


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What the UI and the CLI show about a loaded model."""

    name: str
    family: str
    device: str
    dtype: str
    context_length: int
    load_seconds: float
    note: str = ""


@runtime_checkable
class LanguageModel(Protocol):
    """A causal language model promptkit can generate with and explain."""

    info: ModelInfo

    def tokenize(self, text: str) -> list[int]:
        """Token ids of `text`, without `<bos>`."""

    def token_spans(self, ids: Sequence[int], *, offset: int = 0, source: str | None = None) -> list[TokenSpan]:
        """One character span per token id, counted from `offset`; texts cut from `source` if given."""

    def generate(
        self,
        prompts: Sequence[str],
        *,
        settings: GenerationSettings,
        on_progress: Callable[[float], None] | None = None,
    ) -> list[Completion]:
        """Completes each prompt; one call may batch prompts of any lengths.

        `on_progress`, when given, is called now and then with the fraction
        of the call done (0 to 1), so a caller can show progress inside a batch.
        """
