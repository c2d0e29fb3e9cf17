"""Generation settings and results as stored data, and the user's stop sequences."""

from __future__ import annotations

import json

from promptkit.generation import (
    BLANK_LINE,
    Completion,
    GeneratedToken,
    GenerationSettings,
    StopReason,
    chosen_stop_sequences,
)


def test_settings_to_dict_is_json_ready() -> None:
    data = GenerationSettings(max_new_tokens=8, temperature=0.5, seed=3, stop_sequences=("\n\n", "END")).to_dict()
    assert data == {
        "max_new_tokens": 8,
        "temperature": 0.5,
        "top_k": 0,
        "top_p": 1.0,
        "seed": 3,
        "stop_sequences": ["\n\n", "END"],
    }
    assert json.loads(json.dumps(data)) == data


def test_token_to_dict_keeps_every_field() -> None:
    completion = Completion(
        prompt="p",
        text=" ok",
        tokens=(GeneratedToken(id=7, text=" ok", start=0, end=3, logprob=-0.1),),
        stop_reason=StopReason.STOP_SEQUENCE,
        timings={},
    )
    assert [token.to_dict() for token in completion.tokens] == [
        {"id": 7, "text": " ok", "start": 0, "end": 3, "logprob": -0.1}
    ]


def test_chosen_stop_sequences() -> None:
    assert chosen_stop_sequences((BLANK_LINE, "END"), blank_line=True) == (BLANK_LINE, "END")
    assert chosen_stop_sequences((BLANK_LINE, "END"), blank_line=False) == ("END",)
    assert chosen_stop_sequences(("END",), blank_line=True, extra="STOP") == (BLANK_LINE, "END", "STOP")
    assert chosen_stop_sequences((), blank_line=False, extra="") == ()
