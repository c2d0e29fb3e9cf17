"""What the model layer's own helpers use of a loaded KerasHub Gemma, beyond the model contract.

Gradients, scoring, attention reading and LoRA training run the backbone's
layers themselves, so they need the KerasHub objects that
`promptkit.models.api.LanguageModel` leaves out. Typing them against this
Protocol rather than `GemmaModel` lets `GemmaModel` make them as its
companions without an import cycle.
"""

from __future__ import annotations

from typing import Any, Protocol

from promptkit.models.api import LanguageModel
from promptkit.models.decode_graphs import DecodeGraphs
from promptkit.tokenization import PieceVocabulary


class KerasGemma(LanguageModel, Protocol):
    """A `LanguageModel` backed by a KerasHub Gemma causal LM (`GemmaModel` fits)."""

    @property
    def vocabulary(self) -> PieceVocabulary:
        """The SentencePiece vocabulary, with piece texts and its size."""

    @property
    def causal_lm(self) -> Any:
        """The `keras_hub.models.GemmaCausalLM` or `Gemma3CausalLM`."""

    @property
    def backbone(self) -> Any:
        """The KerasHub backbone (embedding, transformer layers, norm)."""

    @property
    def graphs(self) -> DecodeGraphs:
        """The compiled decode graphs (prefill, extend, greedy chunk)."""
