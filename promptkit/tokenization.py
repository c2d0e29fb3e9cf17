"""Maps SentencePiece token ids to text spans with character offsets.

Gemma tokenizers use no normalization and no dummy prefix, so a text's
pieces joined (with `▁` read as a space and `<0xNN>` byte pieces read as
UTF-8 bytes) give back the text exactly. That lets every token carry exact
character offsets without a second pass over the text.

A character spelled by several byte pieces belongs to the piece that
completes it; the pieces before it get an empty span at that position.
Control pieces (`<bos>`, `<eos>`, `<pad>`) also get empty spans.

SentencePiece reads a literal `▁` (U+2581) in its input as a space, so the
model sees a space there and decoding gives one back. Offsets stay exact
(one character either way); pass the encoded text as `source` to have each
span's text cut from it instead.
"""

from __future__ import annotations

import codecs
import dataclasses
from collections.abc import Sequence


@dataclasses.dataclass(frozen=True)
class TokenSpan:
    """One token's text and its [start, end) character offsets."""

    id: int
    text: str
    start: int
    end: int


class PieceVocabulary:
    """Turns token ids into text and character spans, in pure Python.

    Args:
        proto: a serialized SentencePiece `ModelProto` (Gemma's tokenizer).
        bos_id: id of `<bos>`; `eos_id`, `pad_id` likewise. Taken from the
            Keras tokenizer, which finds them by piece name, because a
            proto's own `bos_id` may name a piece that is not there.
    """

    def __init__(self, proto: bytes, *, bos_id: int, eos_id: int, pad_id: int) -> None:
        import sentencepiece

        self._processor = sentencepiece.SentencePieceProcessor(model_proto=proto)
        size = self._processor.get_piece_size()
        self._pieces: list[str] = []
        self._bytes: dict[int, int] = {}
        for index in range(size):
            piece = self._processor.id_to_piece(index)
            if self._processor.is_byte(index):
                self._bytes[index] = int(piece[3:5], 16)
                self._pieces.append("")
            elif self._processor.is_control(index):
                self._pieces.append("")
            else:
                self._pieces.append(piece.replace("\u2581", " "))
        self.bos_id = bos_id
        self.eos_id = eos_id
        self.pad_id = pad_id

    @property
    def size(self) -> int:
        """Number of pieces in the vocabulary."""
        return len(self._pieces)

    def encode(self, text: str) -> list[int]:
        """Tokenizes `text` without adding `<bos>`."""
        return list(self._processor.encode(text))

    def spans(self, ids: Sequence[int], *, offset: int = 0, source: str | None = None) -> list[TokenSpan]:
        """Decodes `ids` into one span per id, offsets counted from `offset`.

        Args:
            ids: token ids, shape `(num_tokens,)`.
            offset: character offset of the first token's start.
            source: the text `ids` were encoded from; when given, span texts
                are cut from it, so a literal `▁` stays `▁`.

        Returns:
            One `TokenSpan` per id, in order, tiling the decoded text (or
            `source`).

        Raises:
            ValueError: `source` is not the text `ids` decode to.
        """
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        position = offset
        spans = []
        for token_id in ids:
            token_id = int(token_id)
            if token_id in self._bytes:
                text = decoder.decode(bytes([self._bytes[token_id]]))
            else:
                text = decoder.decode(b"", final=True) + self._pieces[token_id]
            spans.append(TokenSpan(token_id, text, position, position + len(text)))
            position += len(text)
        tail = decoder.decode(b"", final=True)
        if tail:  # Trailing bytes that never completed a character.
            last = spans[-1]
            spans[-1] = dataclasses.replace(last, text=last.text + tail, end=last.end + len(tail))
        if source is None:
            return spans
        decoded = "".join(span.text for span in spans)
        if decoded != source.replace("\u2581", " "):
            raise ValueError(
                f"the token ids decode to {len(decoded)} characters that are not the "
                f"{len(source)}-character source text"
            )
        return [dataclasses.replace(span, text=source[span.start - offset : span.end - offset]) for span in spans]

    def piece_text(self, token_id: int) -> str:
        """One token's text on its own: a byte piece as `<0xNN>`, a control piece by its name."""
        text = self._pieces[token_id]
        return text if text else self._processor.id_to_piece(token_id)

    def decode(self, ids: Sequence[int]) -> str:
        """Decodes `ids` into text (control tokens dropped)."""
        return "".join(span.text for span in self.spans(ids))
