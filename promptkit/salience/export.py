"""Token and segment scores as CSV and JSON (the CLI's `--json` schema)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from promptkit.salience.aggregation import SegmentScores
from promptkit.salience.results import SalienceResult


def _csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def token_rows(result: SalienceResult) -> list[dict[str, Any]]:
    """One dict per token: text, start, end, score, in_target."""
    first, last = result.target_tokens
    return [
        {"text": t.text, "start": t.start, "end": t.end, "score": t.score, "in_target": first <= i < last}
        for i, t in enumerate(result.tokens)
    ]


def segment_rows(segments: SegmentScores) -> list[dict[str, Any]]:
    """One dict per segment: text, start, end, score, label, in_target."""
    return [
        {"text": s.text, "start": s.start, "end": s.end, "score": float(score), "label": s.label, "in_target": bool(inside)}
        for s, score, inside in zip(segments.segments, segments.scores, segments.in_target)
    ]


def tokens_csv(result: SalienceResult) -> str:
    """Token scores as CSV text (header: text,start,end,score,in_target)."""
    return _csv(token_rows(result), ["text", "start", "end", "score", "in_target"])


def segments_csv(segments: SegmentScores) -> str:
    """Segment scores as CSV text (header: text,start,end,score,label,in_target)."""
    return _csv(segment_rows(segments), ["text", "start", "end", "score", "label", "in_target"])


def to_dict(result: SalienceResult, segments: SegmentScores) -> dict[str, Any]:
    """The CLI's JSON object: model, text, prompt_length, target_span, method, tokens, segments.

    Extra keys beyond the contract: loss, details, granularity-independent
    `params`. Offsets are character offsets into `text`; `<bos>` is not listed.
    """
    return {
        "model": result.model,
        "text": result.text,
        "prompt_length": len(result.prompt),
        "target_span": list(result.target_span),
        "method": result.method,
        "tokens": [{k: row[k] for k in ("text", "start", "end", "score")} for row in token_rows(result)],
        "segments": [{k: row[k] for k in ("text", "start", "end", "score")} for row in segment_rows(segments)],
        "loss": result.loss,
        "params": dict(result.params),
        "details": dict(result.details),
    }


def to_json(result: SalienceResult, segments: SegmentScores) -> str:
    """`to_dict` as JSON text (UTF-8 characters kept as they are)."""
    return json.dumps(to_dict(result, segments), ensure_ascii=False)
