"""Token spans: exact character offsets over any Unicode text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptkit.models.tiny import tiny_tokenizer_proto
from promptkit.tokenization import PieceVocabulary

VOCABULARY = PieceVocabulary(tiny_tokenizer_proto(), bos_id=2, eos_id=1, pad_id=0)
SAMPLES = ["Cheese", "a\u2581b \u2581", "سلام دنیا", "안녕하세요", "你好，世界", "שלום עולם", "🙂👍🏽 ok", "tab\there\r\nnext", ""]


def _assert_tiles(text: str) -> None:
    ids = VOCABULARY.encode(text)
    sourced = VOCABULARY.spans(ids, offset=5, source=text)
    assert "".join(span.text for span in sourced) == text
    decoded = VOCABULARY.spans(ids, offset=5)
    assert [(s.start, s.end) for s in decoded] == [(s.start, s.end) for s in sourced]
    position = 5
    for span in sourced:
        assert span.start == position and span.end == position + len(span.text)
        position = span.end
    # SentencePiece reads a literal ▁ as a space; every other character comes back.
    assert VOCABULARY.decode(ids) == text.replace("\u2581", " ")


def test_samples_round_trip_exactly():
    for text in SAMPLES:
        _assert_tiles(text)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_text_round_trips_with_exact_offsets(text):
    _assert_tiles(text)


def test_a_literal_meta_space_is_a_space_to_the_model_but_kept_in_span_texts():
    assert VOCABULARY.encode("a\u2581b") == VOCABULARY.encode("a b")
    spans = VOCABULARY.spans(VOCABULARY.encode("a\u2581b"), source="a\u2581b")
    assert [s.text for s in spans] == ["a", "\u2581", "b"]


def test_source_that_the_ids_do_not_spell_is_refused():
    with pytest.raises(ValueError, match="source text"):
        VOCABULARY.spans(VOCABULARY.encode("Cheese"), source="Chess!")


def test_control_tokens_have_empty_spans():
    spans = VOCABULARY.spans([2, *VOCABULARY.encode("Hi"), 1])
    assert spans[0].text == "" and spans[-1].text == ""
    assert "".join(s.text for s in spans) == "Hi"


def test_multibyte_character_belongs_to_its_last_byte_piece():
    spans = VOCABULARY.spans(VOCABULARY.encode("🙂"))
    assert [s.text for s in spans][-1] == "🙂"
    assert all(s.text == "" for s in spans[:-1])
