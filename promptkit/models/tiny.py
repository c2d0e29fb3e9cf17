"""Tiny random-weight Gemma 1, 2 and 3 models for fast tests and demos.

Each is built from a small config and a SentencePiece vocabulary trained
on the spot (no downloads), with Gemma's tokenizer settings: byte fallback,
identity normalization, no dummy prefix.
"""

from __future__ import annotations

import functools
import io
from typing import Any

from promptkit.models.backend import keras_modules

TINY_FAMILIES = ("gemma1", "gemma2", "gemma3")
_CORPUS = (
    "Analyze a menu item in a restaurant.\n\nTaste-likes: Cheese\n"
    "Taste-dislikes: Can't eat eggs\nSuggestion: Quiche Lorraine\nAnalysis: it has eggs.\n"
    "Recommendation: Avoid.\nRecommendation: You have to try it.\n"
    "The quick brown fox jumps over the lazy dog. Likely good. Sweet with many flavours.\n"
)


@functools.cache
def tiny_tokenizer_proto(vocabulary_size: int = 400) -> bytes:
    """Trains a small Gemma-style SentencePiece model.

    Args:
        vocabulary_size: pieces in the vocabulary (at least 300: the 256
            byte pieces and the special tokens come first).

    Returns:
        The serialized `ModelProto`.
    """
    import sentencepiece

    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(_CORPUS.splitlines() * 20),
        model_writer=model,
        vocab_size=vocabulary_size,
        model_type="BPE",
        byte_fallback=True,
        normalization_rule_name="identity",
        add_dummy_prefix=False,
        remove_extra_whitespaces=False,
        split_by_whitespace=True,
        pad_id=0,
        eos_id=1,
        bos_id=2,
        unk_id=3,
        pad_piece="<pad>",
        eos_piece="<eos>",
        bos_piece="<bos>",
        unk_piece="<unk>",
        user_defined_symbols=["<start_of_turn>", "<end_of_turn>", "\n", "\n\n"],
        minloglevel=2,
    )
    return model.getvalue()


def tiny_causal_lm(family: str, *, seed: int = 0, dtype: str = "float32") -> Any:
    """Builds a random-weight causal LM of one Gemma family.

    Args:
        family: `"gemma1"`, `"gemma2"` or `"gemma3"`.
        seed: seeds the weight initialisation.
        dtype: the weights' dtype.

    Returns:
        A `GemmaCausalLM` (1, 2) or `Gemma3CausalLM` (3) with 2 layers,
        hidden size 16 and a 400-piece vocabulary.
    """
    keras, keras_hub, _ = keras_modules()
    keras.utils.set_random_seed(seed)
    proto = tiny_tokenizer_proto()
    common = {
        "vocabulary_size": 400,
        "num_layers": 2,
        "num_query_heads": 2,
        "num_key_value_heads": 1,
        "hidden_dim": 16,
        "intermediate_dim": 32,
        "head_dim": 8,
        "dtype": dtype,
    }
    if family == "gemma3":
        backbone = keras_hub.models.Gemma3Backbone(
            **common,
            image_size=None,
            use_post_ffw_norm=True,
            use_post_attention_norm=True,
            use_sliding_window_attention=True,
            sliding_window_size=8,
        )
        tokenizer = keras_hub.models.Gemma3Tokenizer(proto=proto, has_vision_tokens=False)
        preprocessor = keras_hub.models.Gemma3CausalLMPreprocessor(tokenizer=tokenizer)
        return keras_hub.models.Gemma3CausalLM(backbone=backbone, preprocessor=preprocessor)
    if family == "gemma2":
        extra = {
            "query_head_dim_normalize": True,
            "use_post_ffw_norm": True,
            "use_post_attention_norm": True,
            "final_logit_soft_cap": 30.0,
            "attention_logit_soft_cap": 50.0,
            "use_sliding_window_attention": True,
            "sliding_window_size": 8,
        }
    elif family == "gemma1":
        extra = {}
    else:
        raise ValueError(f"unknown tiny family {family!r}; choose from {TINY_FAMILIES}")
    backbone = keras_hub.models.GemmaBackbone(**common, **extra)
    tokenizer = keras_hub.models.GemmaTokenizer(proto=proto)
    preprocessor = keras_hub.models.GemmaCausalLMPreprocessor(tokenizer=tokenizer)
    return keras_hub.models.GemmaCausalLM(backbone=backbone, preprocessor=preprocessor)
