"""Converts a Gemma 3 GGUF checkpoint into a KerasHub `Gemma3CausalLM`.

The mapping (and why each transform is needed) is documented in
`docs/embedded-model.md`; in short, GGUF stores Hugging Face oriented
matrices and Gemma norm scales with 1 already added.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from promptkit.models.backend import keras_modules

# SentencePiece's piece types share GGUF's numbering (1 normal, 2 unknown,
# 3 control, 4 user-defined, 5 unused, 6 byte).
_UNKNOWN_PIECE_TYPE = 2


def _field(reader: Any, key: str) -> Any:
    return reader.fields[key].contents()


def build_tokenizer_proto(reader: Any) -> bytes:
    """Builds a serialized SentencePiece `ModelProto` from GGUF metadata.

    Args:
        reader: a `gguf.GGUFReader` over a Gemma GGUF file.

    Returns:
        The serialized proto, usable as `Gemma3Tokenizer(proto=...)`.
    """
    from sentencepiece import sentencepiece_model_pb2

    tokens = _field(reader, "tokenizer.ggml.tokens")
    scores = _field(reader, "tokenizer.ggml.scores")
    types = _field(reader, "tokenizer.ggml.token_type")
    unk_id = int(_field(reader, "tokenizer.ggml.unknown_token_id"))
    # The generated protobuf module defines its classes at import time; sentencepiece ships no stubs for it.
    model = sentencepiece_model_pb2.ModelProto()  # type: ignore[attr-defined]
    for index, (piece, score, piece_type) in enumerate(zip(tokens, scores, types)):
        entry = model.pieces.add()
        entry.piece = piece
        entry.score = float(score)
        # GGUF marks <unk> as control; SentencePiece rejects a model whose
        # unk piece is not of type UNKNOWN ("unk is not defined").
        entry.type = _UNKNOWN_PIECE_TYPE if index == unk_id else int(piece_type)
    trainer = model.trainer_spec
    trainer.model_type = sentencepiece_model_pb2.TrainerSpec.BPE  # type: ignore[attr-defined]
    trainer.vocab_size = len(tokens)
    trainer.byte_fallback = True
    trainer.unk_id = unk_id
    trainer.bos_id = int(_field(reader, "tokenizer.ggml.bos_token_id"))
    trainer.eos_id = int(_field(reader, "tokenizer.ggml.eos_token_id"))
    trainer.pad_id = int(_field(reader, "tokenizer.ggml.padding_token_id"))
    # SentencePiece finds special ids by piece name ("<s>" by default).
    trainer.unk_piece = tokens[trainer.unk_id]
    trainer.bos_piece = tokens[trainer.bos_id]
    trainer.eos_piece = tokens[trainer.eos_id]
    trainer.pad_piece = tokens[trainer.pad_id]
    normalizer = model.normalizer_spec
    normalizer.name = "identity"
    normalizer.add_dummy_prefix = False
    normalizer.remove_extra_whitespaces = False
    normalizer.escape_whitespaces = True
    serialized: bytes = model.SerializeToString()
    return serialized


def backbone_config(reader: Any) -> dict[str, Any]:
    """Reads the `Gemma3Backbone` constructor arguments from GGUF metadata."""
    arch = _field(reader, "general.architecture")
    if arch != "gemma3":
        raise ValueError(f"expected a gemma3 GGUF, got architecture {arch!r}")
    heads = int(_field(reader, "gemma3.attention.head_count"))
    return {
        "vocabulary_size": len(reader.fields["tokenizer.ggml.tokens"].data),
        "image_size": None,
        "num_layers": int(_field(reader, "gemma3.block_count")),
        "num_query_heads": heads,
        "num_key_value_heads": int(_field(reader, "gemma3.attention.head_count_kv")),
        "hidden_dim": int(_field(reader, "gemma3.embedding_length")),
        "intermediate_dim": int(_field(reader, "gemma3.feed_forward_length")),
        "head_dim": int(_field(reader, "gemma3.attention.key_length")),
        "query_head_dim_normalize": True,
        "use_query_key_norm": True,
        "use_post_ffw_norm": True,
        "use_post_attention_norm": True,
        "attention_logit_soft_cap": None,
        "final_logit_soft_cap": None,
        "use_sliding_window_attention": True,
        "sliding_window_size": int(_field(reader, "gemma3.attention.sliding_window")),
        "local_rope_scaling_factor": 1.0,
        "global_rope_scaling_factor": 1.0,
        "layer_norm_epsilon": float(_field(reader, "gemma3.attention.layer_norm_rms_epsilon")),
        "vision_encoder": None,
    }


def dequantized_tensors(reader: Any) -> dict[str, np.ndarray]:
    """Dequantizes every GGUF tensor to float32, shaped (out, in) like HF."""
    from gguf.quants import dequantize

    tensors = {}
    for tensor in reader.tensors:
        values = dequantize(tensor.data, tensor.tensor_type)
        shape = tuple(int(d) for d in reversed(tensor.shape))
        tensors[tensor.name] = np.asarray(values, dtype=np.float32).reshape(shape)
    return tensors


def _assign_weights(backbone: Any, tensors: dict[str, np.ndarray], config: dict[str, Any]) -> None:
    heads = config["num_query_heads"]
    kv_heads = config["num_key_value_heads"]
    hidden = config["hidden_dim"]
    head_dim = config["head_dim"]

    def projection(weight: np.ndarray, num_heads: int) -> np.ndarray:
        # (heads*head_dim, hidden) -> (heads, hidden, head_dim)
        return weight.reshape(num_heads, head_dim, hidden).transpose(0, 2, 1)

    def norm(name: str) -> np.ndarray:
        return tensors[name] - 1.0

    backbone.token_embedding.embeddings.assign(tensors["token_embd.weight"])
    backbone.layer_norm.scale.assign(norm("output_norm.weight"))
    for index, block in enumerate(backbone.transformer_layers):
        prefix = f"blk.{index}."
        attention = block.attention
        attention.query_dense.kernel.assign(projection(tensors[prefix + "attn_q.weight"], heads))
        attention.key_dense.kernel.assign(projection(tensors[prefix + "attn_k.weight"], kv_heads))
        attention.value_dense.kernel.assign(projection(tensors[prefix + "attn_v.weight"], kv_heads))
        output = tensors[prefix + "attn_output.weight"]  # (hidden, heads*head_dim)
        attention.output_dense.kernel.assign(
            output.reshape(hidden, heads, head_dim).transpose(1, 2, 0)
        )
        attention.query_norm.scale.assign(norm(prefix + "attn_q_norm.weight"))
        attention.key_norm.scale.assign(norm(prefix + "attn_k_norm.weight"))
        block.pre_attention_norm.scale.assign(norm(prefix + "attn_norm.weight"))
        block.post_attention_norm.scale.assign(norm(prefix + "post_attention_norm.weight"))
        block.pre_ffw_norm.scale.assign(norm(prefix + "ffn_norm.weight"))
        block.post_ffw_norm.scale.assign(norm(prefix + "post_ffw_norm.weight"))
        block.gating_ffw.kernel.assign(tensors[prefix + "ffn_gate.weight"].T)
        block.gating_ffw_2.kernel.assign(tensors[prefix + "ffn_up.weight"].T)
        block.ffw_linear.kernel.assign(tensors[prefix + "ffn_down.weight"].T)


def convert_gguf(gguf_path: Path) -> Any:
    """Builds a float32 `keras_hub.models.Gemma3CausalLM` from a GGUF file.

    Args:
        gguf_path: path of a Gemma 3 GGUF checkpoint.

    Returns:
        The causal LM, with its tokenizer built from the GGUF vocabulary.
    """
    import gguf

    _, keras_hub, _ = keras_modules()
    reader = gguf.GGUFReader(str(gguf_path))
    config = backbone_config(reader)
    tokenizer = keras_hub.models.Gemma3Tokenizer(
        proto=build_tokenizer_proto(reader), has_vision_tokens=False
    )
    backbone = keras_hub.models.Gemma3Backbone(**config, dtype="float32")
    _assign_weights(backbone, dequantized_tensors(reader), config)
    preprocessor = keras_hub.models.Gemma3CausalLMPreprocessor(tokenizer=tokenizer)
    return keras_hub.models.Gemma3CausalLM(backbone=backbone, preprocessor=preprocessor)
