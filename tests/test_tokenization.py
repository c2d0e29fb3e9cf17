"""Token spans: exact character offsets over any Unicode text."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from promptkit.models.tiny import tiny_tokenizer_proto
from promptkit.tokenization import PieceVocabulary

VOCABULARY = PieceVocabulary(tiny_tokenizer_proto(), bos_id=2, eos_id=1, pad_id=0)
SAMPLES = ["Cheese", "سلام دنیا", "안녕하세요", "你好，世界", "שלום עולם", "🙂👍🏽 ok", "tab\there\r\nnext", ""]


def _assert_tiles(text: str) -> None:
    ids = VOCABULARY.encode(text)
    spans = VOCABULARY.spans(ids, offset=5)
    assert "".join(span.text for span in spans) == text
    position = 5
    for span in spans:
        assert span.start == position and span.end == position + len(span.text)
        position = span.end
    assert VOCABULARY.decode(ids) == text


def test_samples_round_trip_exactly():
    for text in SAMPLES:
        _assert_tiles(text)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_text_round_trips_with_exact_offsets(text):
    _assert_tiles(text)


def test_control_tokens_have_empty_spans():
    spans = VOCABULARY.spans([2, *VOCABULARY.encode("Hi"), 1])
    assert spans[0].text == "" and spans[-1].text == ""
    assert "".join(s.text for s in spans) == "Hi"


def test_multibyte_character_belongs_to_its_last_byte_piece():
    spans = VOCABULARY.spans(VOCABULARY.encode("🙂"))
    assert [s.text for s in spans][-1] == "🙂"
    assert all(s.text == "" for s in spans[:-1])
