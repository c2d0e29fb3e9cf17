"""`python -m promptkit salience`: token and segment salience of a target, as JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from promptkit.errors import SalienceError
from promptkit.salience.methods import contrast_method_names, get_method, method_names
from promptkit.text_files import read_text_file

_DEFAULT_METHOD = "grad_l2"
_GRANULARITIES = ("tokens", "words", "sentences", "lines", "paragraphs", "custom")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers the `salience` command."""
    parser = subparsers.add_parser("salience", help="Which parts of the prompt drove the target (gradients or occlusion).")
    parser.add_argument("--prompt-file", required=True, type=Path, help="UTF-8 file holding the prompt.")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--target", help="The target text that follows the prompt.")
    target.add_argument("--target-file", type=Path, help="UTF-8 file holding the target text.")
    target.add_argument("--generate", action="store_true", help="Use the model's greedy completion as the target.")
    parser.add_argument("--target-line", metavar="PREFIX", help="Explain only the target line starting with PREFIX (prefix excluded).")
    parser.add_argument(
        "--contrast", metavar="TEXT",
        help="Explain why the target (or its --target-line) rather than TEXT: contrastive salience "
        f"({', '.join(contrast_method_names())}).",
    )
    methods = [get_method(name) for name in method_names()]
    parser.add_argument(
        "--method", choices=method_names(), default=_DEFAULT_METHOD,
        help=" ".join(f"{method.name}: {method.description}" for method in methods)
        + " The pieces left out are those of --granularity, one pass of the model each.",
    )
    defaults: dict[str, list[str]] = {}
    for method in methods:
        defaults.setdefault(method.default_granularity, []).append(method.name)
    parser.add_argument(
        "--granularity", choices=_GRANULARITIES, default=None,
        help="How tokens are grouped, or the pieces left out; default: "
        + "; ".join(f"{granularity} for {', '.join(names)}" for granularity, names in defaults.items()) + ".",
    )
    parser.add_argument(
        "--pattern", metavar="REGEX", help="With --granularity custom: a new piece starts after each match (default \\n+)."
    )
    parser.add_argument("--model", default=None, help="Model name (default: the embedded Gemma 3 270M).")
    parser.add_argument("--json", action="store_true", required=True, help="Print the result as one JSON object.")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Computes salience and prints the JSON contract; returns 0."""
    from promptkit.generation import GenerationSettings
    from promptkit.models.loader import load_model
    from promptkit.salience.engine import SalienceEngine
    from promptkit.salience.export import to_dict
    from promptkit.salience.targets import LinePrefix, WholeTarget
    from promptkit.workflows.explain import SpanRequest, explain_text

    prompt = read_text_file(args.prompt_file, what="prompt")
    if not prompt.strip():
        raise SalienceError(f"The prompt file {args.prompt_file} is empty.")
    model = load_model(args.model)
    if args.generate:
        target = model.generate([prompt], settings=GenerationSettings(max_new_tokens=128))[0].text
    else:
        target = args.target if args.target is not None else read_text_file(args.target_file, what="target")
    if not target.strip():
        raise SalienceError("The target is empty; give a non-empty --target or --target-file, or use --generate.")
    selection = LinePrefix(args.target_line) if args.target_line else WholeTarget()
    engine = SalienceEngine(model)
    method = get_method(args.method)
    granularity = args.granularity or method.default_granularity
    if args.pattern is not None and granularity != "custom":
        raise SalienceError("--pattern cuts pieces only with --granularity custom; add it, or drop --pattern.")
    request = SpanRequest(
        method=method.name, selection=selection, contrast=args.contrast, granularity=granularity, pattern=args.pattern
    )
    result = explain_text(engine, prompt, target, request)
    print(json.dumps(to_dict(result, result.segments(granularity, pattern=args.pattern)), ensure_ascii=False))
    return 0
