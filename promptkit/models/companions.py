"""A loaded Gemma's companions: its gradients, continuation scorer and attention reader, each made once.

Each companion compiles its own TensorFlow graphs on first use (seconds on a
CPU), so every caller of one model — every dashboard session, the salience
engine, step scores, outcome likelihoods — shares the same ones through
`GemmaModel.companions`.
"""

from __future__ import annotations

import threading

from promptkit.models.attention_weights import AttentionReader
from promptkit.models.gradients import GradientComputer
from promptkit.models.keras_gemma import KerasGemma
from promptkit.models.scoring import ContinuationScorer


class ModelCompanions:
    """Makes one model's companions on first use and hands out the same ones afterwards.

    Args:
        model: the model they serve.
    """

    def __init__(self, model: KerasGemma) -> None:
        self._model = model
        self._lock = threading.Lock()
        self._gradients: GradientComputer | None = None
        self._scorer: ContinuationScorer | None = None
        self._attention: AttentionReader | None = None

    @property
    def gradients(self) -> GradientComputer:
        """Gradients of target losses (salience)."""
        with self._lock:
            if self._gradients is None:
                self._gradients = GradientComputer(self._model)
            return self._gradients

    @property
    def scorer(self) -> ContinuationScorer:
        """Continuation scores: outcome likelihoods, step scores, occlusion."""
        with self._lock:
            if self._scorer is None:
                self._scorer = ContinuationScorer(self._model)
            return self._scorer

    @property
    def attention(self) -> AttentionReader:
        """Attention weights with the step scores of the same pass."""
        with self._lock:
            if self._attention is None:
                self._attention = AttentionReader(self._model)
            return self._attention
