"""`python -m promptkit attribute` on a tiny model: the token-by-token JSON contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from promptkit.cli import main

PROMPT = "Taste-likes: Cheese\nAnalysis:"
TARGET = " it has eggs.\nRecommendation: Avoid."


def _prompt_file(tmp_path: Path) -> Path:
    path = tmp_path / "prompt.txt"
    path.write_text(PROMPT, encoding="utf-8")
    return path


def _attribute(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict | None, str]:
    status = main(["attribute", "--prompt-file", str(_prompt_file(tmp_path)), "--model", "tiny:gemma3", "--json", *args])
    out, err = capsys.readouterr()
    return status, json.loads(out) if status == 0 else None, err


def test_the_cli_prints_the_json_contract(tmp_path):
    command = [
        sys.executable, "-m", "promptkit", "attribute", "--prompt-file", str(_prompt_file(tmp_path)), "--target", TARGET,
        "--model", "tiny:gemma3", "--json",
    ]
    done = subprocess.run(command, capture_output=True, text=True, cwd=Path(__file__).parents[2], timeout=300)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(data) >= {"model", "method", "params", "text", "prompt_length", "sources", "targets", "matrix", "timings"}
    assert data["model"] == "tiny:gemma3" and data["method"] == "grad_l2" and data["params"] == {}
    assert data["text"] == PROMPT + TARGET and data["prompt_length"] == len(PROMPT)
    assert "".join(source["text"] for source in data["sources"]) == data["text"]  # one per token, <bos> not listed
    prompt_sources = sum(1 for source in data["sources"] if source["end"] <= len(PROMPT))
    for index, (target, row) in enumerate(zip(data["targets"], data["matrix"], strict=True)):
        assert set(target) >= {"text", "start", "end", "probability", "logprob", "entropy", "rank"}
        assert data["text"][target["start"] : target["end"]] == target["text"] and 0 < target["probability"] <= 1
        assert len(row) == prompt_sources + index  # ragged: the sources before target i
        assert all(score >= 0 for score in row)
    assert set(data["timings"]) >= {"load_s", "attribution_s", "step_scores_s", "total_s"}


def test_attention_with_layers_heads_and_grouping(tmp_path, capsys):
    status, data, _ = _attribute(
        tmp_path, capsys, "--target", TARGET, "--method", "attention", "--layers", "0-1", "--heads", "max",
        "--granularity", "words", "--rows", "lines", "--aggregation", "mean",
    )
    assert status == 0 and data["method"] == "attention" and data["params"] == {"layers": "0-1", "heads": "max"}
    assert [target["text"] for target in data["targets"]] == [" it has eggs.\n", "Recommendation: Avoid."]
    assert data["sources"][0]["text"] == "Taste-likes:" and data["unit"] == "attention weight"
    assert all(0 <= score <= 1 for row in data["matrix"] for score in row)


def test_generate_writes_the_target(tmp_path, capsys):
    status, data, _ = _attribute(tmp_path, capsys, "--generate", "--max-new-tokens", "3", "--method", "grad_dot_input")
    assert status == 0 and 1 <= len(data["targets"]) <= 3 and "generate_s" in data["timings"]
    assert data["text"].startswith(PROMPT) and len(data["text"]) > len(PROMPT)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", TARGET, "--layers", "1"], "use them with --method attention"),
        (["--target", TARGET, "--max-new-tokens", "3"], "add --generate"),
        (["--target", TARGET, "--method", "attention", "--layers", "7"], "not layers 0–1"),
        (["--target", TARGET, "--pattern", "x"], "only with --granularity custom"),
        (["--target", "  "], "target is empty"),
    ],
)
def test_mistakes_are_one_paragraph_on_stderr(tmp_path, capsys, args, message):
    status, _, err = _attribute(tmp_path, capsys, *args)
    assert status == 2 and message in err and "Traceback" not in err


def test_occlusion_is_not_offered(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["attribute", "--prompt-file", str(_prompt_file(tmp_path)), "--target", TARGET, "--method", "occlusion", "--json"])
    assert "invalid choice: 'occlusion'" in capsys.readouterr().err
