"""Token and segment scores, and token-by-token matrices, as CSV and JSON (the CLI's `--json` schemas)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from promptkit.salience.aggregation import SegmentScores
from promptkit.salience.methods import get_method
from promptkit.salience.results import SalienceResult
from promptkit.salience.token_matrix import SegmentMatrix, TokenMatrix


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


_MATRIX_COLUMNS = [
    "target_index", "target_text", "target_start", "target_end", "probability",
    "source_index", "source_text", "source_start", "source_end", "score",
]


def matrix_to_dict(matrix: TokenMatrix, grouped: SegmentMatrix) -> dict[str, Any]:
    """The `attribute` command's JSON object (README: "Token by token").

    Keys: model, method, params, text, prompt_length, sources (`text`,
    `start`, `end` per column piece), targets (`text`, `start`, `end`,
    `probability`, `logprob`, `entropy`, `rank`, `alternatives` per row
    piece), matrix (row i lists the scores of the sources before target i,
    so rows are ragged), timings; offsets are characters into `text`. Extra
    keys: unit, signed, and per target `tokens` (how many it groups).
    """
    return {
        "model": matrix.model,
        "method": matrix.method,
        "params": dict(matrix.params),
        "text": matrix.text,
        "prompt_length": len(matrix.prompt),
        "sources": [{"text": c.text, "start": c.start, "end": c.end} for c in grouped.columns],
        "targets": [
            {
                "text": row.text,
                "start": row.start,
                "end": row.end,
                "probability": score.probability,
                "logprob": score.logprob,
                "entropy": score.entropy,
                "rank": score.rank,
                "alternatives": [{"text": a.text, "logprob": a.logprob} for a in score.alternatives],
                "tokens": score.tokens,
            }
            for row, score in zip(grouped.rows, grouped.row_scores)
        ],
        "matrix": [[float(v) for v in grouped.values[i, : grouped.present(i)]] for i in range(len(grouped.rows))],
        "timings": dict(matrix.timings),
        "unit": get_method(matrix.method).unit,
        "signed": matrix.signed,
    }


def matrix_json(matrix: TokenMatrix, grouped: SegmentMatrix) -> str:
    """`matrix_to_dict` as JSON text (UTF-8 characters kept as they are)."""
    return json.dumps(matrix_to_dict(matrix, grouped), ensure_ascii=False)


def matrix_csv(grouped: SegmentMatrix) -> str:
    """The present cells of a grouped matrix as CSV, one line per (target, source) pair.

    Header: target_index, target_text, target_start, target_end,
    probability, source_index, source_text, source_start, source_end, score;
    offsets are characters into prompt + target.
    """
    rows = [
        {
            "target_index": i, "target_text": row.text, "target_start": row.start, "target_end": row.end,
            "probability": score.probability, "source_index": j, "source_text": column.text,
            "source_start": column.start, "source_end": column.end, "score": float(grouped.values[i, j]),
        }
        for i, (row, score) in enumerate(zip(grouped.rows, grouped.row_scores))
        for j, column in enumerate(grouped.columns[: grouped.present(i)])
    ]
    return _csv(rows, _MATRIX_COLUMNS)
