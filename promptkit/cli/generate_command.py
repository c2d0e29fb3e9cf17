"""`python -m promptkit generate`: one completion as a JSON object."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from promptkit.generation import DEFAULT_STOP_SEQUENCES, GenerationSettings
from promptkit.text_files import read_text_file

_log = logging.getLogger(__name__)

def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers the `generate` command."""
    parser = subparsers.add_parser(
        "generate",
        help="complete a prompt with a Gemma model",
        description="Completes the prompt in FILE. Without --model, uses the embedded Gemma 3 270M.",
    )
    parser.add_argument("--prompt-file", required=True, type=Path, metavar="FILE")
    parser.add_argument("--model", default=None, metavar="NAME")
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default=None)
    parser.add_argument("--max-new-tokens", type=int, default=64, metavar="N")
    parser.add_argument("--temperature", type=float, default=0.0, metavar="T", help="0 = greedy (default)")
    parser.add_argument("--top-k", type=int, default=0, metavar="K")
    parser.add_argument("--top-p", type=float, default=1.0, metavar="P")
    parser.add_argument("--seed", type=int, default=0, metavar="S")
    parser.add_argument(
        "--stop",
        action="append",
        default=None,
        metavar="TEXT",
        help=r"stop sequence, repeatable; default a blank line ('\n\n'); '' disables",
    )
    parser.add_argument(
        "--step-scores",
        action="store_true",
        help="add each token's entropy, rank and the 5 likeliest alternatives (one more forward pass)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object (the only output format)")
    parser.set_defaults(handler=run)


def _unescape(text: str) -> str:
    # Shells make a literal newline awkward to type, so accept "\n" and "\t".
    return text.replace("\\n", "\n").replace("\\t", "\t")


def run(args: argparse.Namespace) -> int:
    """Generates and prints the JSON contract documented in README.md."""
    from promptkit.models.loader import load_model
    from promptkit.models.warm_up import warm_up_generation

    prompt = read_text_file(args.prompt_file, what="prompt")
    stops = DEFAULT_STOP_SEQUENCES if args.stop is None else tuple(_unescape(s) for s in args.stop if s)
    settings = GenerationSettings(
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
        stop_sequences=stops,
    )
    model = load_model(args.model, dtype=args.dtype, progress=_log.info)
    model.prompt_ids([prompt], new_tokens=settings.max_new_tokens)  # Fail fast, before decoding.
    # Tracing is paid once per process; apart, the decode figures are the steady rate.
    warm_up = warm_up_generation(model, greedy=settings.greedy)
    completion = model.generate([prompt], settings=settings)[0]
    tokens = [{"text": t.text, "start": t.start, "end": t.end, "logprob": t.logprob} for t in completion.tokens]
    if args.step_scores and completion.tokens:
        from promptkit.workflows.playground import completion_steps

        steps = completion_steps(model, prompt=prompt, token_ids=[t.id for t in completion.tokens], completion=completion.text)
        tokens = [dict(token, **step.to_dict()) for token, step in zip(tokens, steps)]
    payload = {
        "model": model.info.name,
        "completion": completion.text,
        "stop_reason": completion.stop_reason.value,
        "tokens": tokens,
        "timings": dict(
            completion.timings,
            load_s=model.info.load_seconds,
            warm_up_s=warm_up["trace_s"] + warm_up["first_run_s"],
            trace_s=warm_up["trace_s"],
        ),
    }
    json.dump(payload, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0
