"""`python -m promptkit generate`: the JSON contract and its errors, through a subprocess."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from promptkit.generation import GenerationSettings

ROOT = Path(__file__).parents[2]
PROMPT = "Taste-likes: Cheese\nTaste-dislikes: Can't eat eggs\nRecommendation:"


def _generate(tmp_path: Path, *args: str, prompt: str | bytes = PROMPT, model: str | None = "tiny:gemma3") -> subprocess.CompletedProcess[str]:
    prompt_file = tmp_path / "prompt.txt"
    if isinstance(prompt, bytes):
        prompt_file.write_bytes(prompt)
    else:
        prompt_file.write_text(prompt, encoding="utf-8")
    command = [sys.executable, "-m", "promptkit", "generate", "--prompt-file", str(prompt_file), "--json", *args]
    if model is not None:
        command += ["--model", model]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=600)


def test_generate_prints_the_json_contract(tmp_path):
    done = _generate(tmp_path, "--max-new-tokens", "6", "--stop", "")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(data) >= {"model", "completion", "stop_reason", "tokens", "timings"}
    assert data["model"] == "tiny:gemma3" and data["stop_reason"] == "max_new_tokens"
    assert len(data["tokens"]) == 6 and "".join(t["text"] for t in data["tokens"]) == data["completion"]
    for token in data["tokens"]:
        assert set(token) == {"text", "start", "end", "logprob"}
        assert data["completion"][token["start"] : token["end"]] == token["text"] and token["logprob"] <= 0
    timings = data["timings"]
    assert set(timings) >= {"prefill_s", "decode_s", "total_s", "new_tokens", "new_tokens_per_s", "load_s", "warm_up_s", "trace_s"}
    # Tracing happened in the warm-up, before the generation timed.
    assert 0 < timings["trace_s"] <= timings["warm_up_s"]
    again = json.loads(_generate(tmp_path, "--max-new-tokens", "6", "--stop", "").stdout)
    assert again["completion"] == data["completion"]  # Greedy by default: the same text every run.


def test_step_scores_add_entropy_rank_and_alternatives(tmp_path):
    done = _generate(tmp_path, "--max-new-tokens", "5", "--stop", "", "--step-scores")
    assert done.returncode == 0, done.stderr
    tokens = json.loads(done.stdout)["tokens"]
    assert len(tokens) == 5
    for token in tokens:
        assert set(token) == {"text", "start", "end", "logprob", "entropy", "rank", "alternatives"}
        assert token["rank"] == 1 and token["entropy"] >= 0  # Greedy: each token was the likeliest.
        assert len(token["alternatives"]) == 5  # Likeliest first: the token itself (a byte piece shows as <0xNN>).
        assert [a["logprob"] for a in token["alternatives"]] == sorted((a["logprob"] for a in token["alternatives"]), reverse=True)
        assert math.isclose(token["alternatives"][0]["logprob"], token["logprob"], abs_tol=1e-4)


@pytest.mark.parametrize(
    ("args", "prompt", "message"),
    [
        ((), "   \n", "empty"),
        (("--max-new-tokens", "600"), PROMPT, "context"),
        (("--temperature", "-1"), PROMPT, "Invalid generation settings"),
        ((), b"\xff\xfe not utf-8", "not UTF-8"),
    ],
)
def test_bad_input_is_one_clear_message_with_status_2(tmp_path, args, prompt, message):
    done = _generate(tmp_path, *args, prompt=prompt)
    assert done.returncode == 2 and done.stdout == ""
    assert message in done.stderr and "Traceback" not in done.stderr


def test_missing_prompt_file_and_unknown_model_say_what_to_do(tmp_path):
    command = [sys.executable, "-m", "promptkit", "generate", "--prompt-file", str(tmp_path / "nope.txt"), "--json"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 2 and "does not exist" in done.stderr and "Traceback" not in done.stderr
    done = _generate(tmp_path, model="tiny:gemma9")
    assert done.returncode == 2 and "tiny:gemma3" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.real_model
def test_default_model_needs_no_flag(tmp_path, embedded_model):
    done = _generate(tmp_path, "--max-new-tokens", "8", model=None)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["model"] == embedded_model.info.name and data["completion"].strip()


def test_a_crlf_prompt_is_generated_from_exactly_its_bytes(tmp_path, tiny_gemma3):
    prompt = "Taste-likes: 寿司\r\nTaste-dislikes: eggs\rRecommendation:"
    done = _generate(tmp_path, "--max-new-tokens", "3", "--stop", "", prompt=prompt.encode("utf-8"))
    assert done.returncode == 0, done.stderr
    expected = tiny_gemma3.generate([prompt], settings=GenerationSettings(max_new_tokens=3, stop_sequences=()))[0]
    assert json.loads(done.stdout)["completion"] == expected.text


def test_stderr_holds_only_promptkits_own_lines(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in ("TF_CPP_MIN_LOG_LEVEL", "PROMPTKIT_VERBOSE")}
    command = [sys.executable, "-m", "promptkit", "generate", "--prompt-file", str(tmp_path / "p.txt"), "--json",
               "--model", "tiny:gemma3", "--max-new-tokens", "2"]
    (tmp_path / "p.txt").write_text(PROMPT, encoding="utf-8")
    quiet = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=600, env=env)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""  # a tiny model is built without a progress message: nothing of promptkit's to say
    verbose = subprocess.run([*command, "--verbose"], capture_output=True, text=True, cwd=ROOT, timeout=600, env=env)
    assert verbose.returncode == 0 and json.loads(verbose.stdout)["completion"] == json.loads(quiet.stdout)["completion"]
    native = [line for line in verbose.stderr.splitlines() if re.match(r"[IWE]\d{4} ", line)]
    assert native, verbose.stderr  # TensorFlow does log; the quiet run kept it off the terminal.
