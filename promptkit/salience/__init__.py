"""Sequence salience: which parts of a prompt drove a chosen span of the output.

Pure numpy, Plotly and HTML; the gradients come from `promptkit.models.gradients`,
imported only when an engine first needs them, so importing this package
does not import TensorFlow.

Typical use::

    engine = SalienceEngine(model)
    result = engine.explain(prompt, completion, selection=LinePrefix("Recommendation:"))
    segments = result.segments("lines")          # no recomputation
    page_html = text_heatmap_html(segments, gain=0.4)  # the text, coloured, as the browser draws it
    why_not = engine.explain(prompt, completion, selection=LinePrefix("Recommendation:"), contrast=" Avoid.")
    without = engine.explain_occlusion(prompt, completion, granularity="lines")  # leave each line out
    matrix = engine.token_matrix(prompt, completion, method="attention", layers="all", heads="mean")
    grouped = matrix.segments("words", rows="tokens")  # every token's attribution to each earlier word
    figure = token_matrix_figure(grouped)
"""

from promptkit.salience.aggregation import AGGREGATIONS, SegmentScores, aggregate
from promptkit.salience.engine import SalienceEngine
from promptkit.salience.export import (
    matrix_csv,
    matrix_json,
    matrix_to_dict,
    segments_csv,
    to_dict,
    to_json,
    tokens_csv,
)
from promptkit.salience.figures import (
    part_shift_table,
    score_title,
    segment_names,
    token_matrix_figure,
    top_segments_figure,
)
from promptkit.salience.methods import (
    ATTENTION,
    OCCLUSION,
    MethodOutput,
    SalienceMethod,
    contrast_method_names,
    get_method,
    matrix_method_names,
    method_names,
    register_method,
)
from promptkit.salience.results import SalienceResult, TokenScore
from promptkit.salience.segmentation import GRANULARITIES, Segment, assign_tokens, segment_text
from promptkit.salience.targets import (
    WHOLE_COMPLETION,
    CharRange,
    LinePrefix,
    Selection,
    TokenRange,
    WholeTarget,
    completion_lines,
    default_line,
    line_selection,
    target_words,
    words_selection,
)
from promptkit.salience.text_html import ab_heatmap_html, text_heatmap_html
from promptkit.salience.token_matrix import (
    HEAD_AGGREGATIONS,
    ROWS_PER_PASS,
    RowScore,
    SegmentMatrix,
    TokenMatrix,
    attention_layers,
)

__all__ = [
    "AGGREGATIONS",
    "ATTENTION",
    "GRANULARITIES",
    "HEAD_AGGREGATIONS",
    "OCCLUSION",
    "ROWS_PER_PASS",
    "WHOLE_COMPLETION",
    "CharRange",
    "LinePrefix",
    "MethodOutput",
    "RowScore",
    "SalienceEngine",
    "SalienceMethod",
    "SalienceResult",
    "Segment",
    "SegmentMatrix",
    "SegmentScores",
    "Selection",
    "TokenMatrix",
    "TokenRange",
    "TokenScore",
    "WholeTarget",
    "ab_heatmap_html",
    "aggregate",
    "assign_tokens",
    "attention_layers",
    "completion_lines",
    "contrast_method_names",
    "default_line",
    "get_method",
    "line_selection",
    "matrix_csv",
    "matrix_json",
    "matrix_method_names",
    "matrix_to_dict",
    "method_names",
    "part_shift_table",
    "register_method",
    "score_title",
    "segment_names",
    "segment_text",
    "segments_csv",
    "target_words",
    "text_heatmap_html",
    "to_dict",
    "to_json",
    "token_matrix_figure",
    "tokens_csv",
    "top_segments_figure",
    "words_selection",
]
