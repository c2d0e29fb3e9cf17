"""`python -m promptkit attribute`: token-by-token attribution of a target (Inseq's view), as JSON."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from promptkit.errors import SalienceError
from promptkit.salience.aggregation import AGGREGATIONS
from promptkit.salience.methods import get_method, matrix_method_names
from promptkit.salience.token_matrix import HEAD_AGGREGATIONS
from promptkit.text_files import read_text_file

_DEFAULT_METHOD = "grad_l2"
# Template parts need a template; the CLI reads a rendered prompt.
_GRANULARITIES = ("tokens", "words", "sentences", "lines", "paragraphs", "custom")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers the `attribute` command."""
    parser = subparsers.add_parser(
        "attribute",
        help="How much each earlier token drove each token of the target, token by token (gradients or attention).",
    )
    parser.add_argument("--prompt-file", required=True, type=Path, metavar="FILE", help="UTF-8 file holding the prompt.")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--target", help="The target text that follows the prompt.")
    target.add_argument("--target-file", type=Path, metavar="FILE", help="UTF-8 file holding the target text.")
    target.add_argument("--generate", action="store_true", help="Use the model's greedy completion as the target.")
    parser.add_argument(
        "--max-new-tokens", type=int, default=None, metavar="N", help="With --generate: most tokens generated (default 64)."
    )
    methods = [get_method(name) for name in matrix_method_names()]
    parser.add_argument(
        "--method", choices=matrix_method_names(), default=_DEFAULT_METHOD,
        help=" ".join(f"{method.name}: {method.description}" for method in methods),
    )
    parser.add_argument(
        "--layers", default=None, metavar="all|N|A-B",
        help="With --method attention: the layers averaged, counted from 0, A-B inclusive (default all).",
    )
    parser.add_argument(
        "--heads", choices=HEAD_AGGREGATIONS, default=None,
        help="With --method attention: how each layer's heads combine (default mean).",
    )
    parser.add_argument(
        "--granularity", choices=_GRANULARITIES, default="tokens", help="How the sources (columns) group; default tokens."
    )
    parser.add_argument(
        "--rows", choices=_GRANULARITIES, default="tokens", help="How the targets (rows) group; default tokens."
    )
    parser.add_argument(
        "--aggregation", choices=AGGREGATIONS, default="sum",
        help="How the scores of a piece's tokens combine, for sources and targets alike (default sum).",
    )
    parser.add_argument(
        "--pattern", metavar="REGEX", help="With custom pieces: a new piece starts after each match (default \\n+)."
    )
    parser.add_argument("--model", default=None, help="Model name (default: the embedded Gemma 3 270M).")
    parser.add_argument("--json", action="store_true", required=True, help="Print the result as one JSON object.")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Computes the matrix and prints the JSON contract (README: "Token by token"); returns 0."""
    from promptkit.generation import GenerationSettings
    from promptkit.models.loader import load_model
    from promptkit.salience.engine import SalienceEngine
    from promptkit.salience.export import matrix_to_dict
    from promptkit.workflows.explain import explain_tokens, matrix_params

    method = get_method(args.method)
    if not method.reads_attention and (args.layers is not None or args.heads is not None):
        raise SalienceError("--layers and --heads pick attention weights; use them with --method attention.")
    if args.max_new_tokens is not None and not args.generate:
        raise SalienceError("--max-new-tokens sets how much --generate writes; add --generate, or drop it.")
    if args.pattern is not None and "custom" not in (args.granularity, args.rows):
        raise SalienceError("--pattern cuts pieces only with --granularity custom or --rows custom; add one, or drop it.")
    prompt = read_text_file(args.prompt_file, what="prompt")
    if not prompt.strip():
        raise SalienceError(f"The prompt file {args.prompt_file} is empty.")
    model = load_model(args.model)
    timings = {"load_s": model.info.load_seconds}
    if args.generate:
        started = time.perf_counter()
        settings = GenerationSettings(max_new_tokens=args.max_new_tokens or 64)
        target = model.generate([prompt], settings=settings)[0].text
        timings["generate_s"] = time.perf_counter() - started
    else:
        target = args.target if args.target is not None else read_text_file(args.target_file, what="target")
    if not target.strip():
        raise SalienceError("The target is empty; give a non-empty --target or --target-file, or use --generate.")
    params = matrix_params(method.name, layers=args.layers, heads=args.heads)
    matrix = explain_tokens(SalienceEngine(model), prompt, target, method=method.name, params=params)
    grouped = matrix.segments(
        args.granularity, aggregation=args.aggregation, rows=args.rows, row_aggregation=args.aggregation,
        pattern=args.pattern,
    )
    payload = matrix_to_dict(matrix, grouped)
    payload["timings"] = {**timings, **payload["timings"]}
    print(json.dumps(payload, ensure_ascii=False))
    return 0
