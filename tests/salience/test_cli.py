"""`python -m promptkit salience` on a tiny model, through a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROMPT = "Taste-likes: Cheese\nAnalysis:"
TARGET = " it has eggs.\nRecommendation: Avoid."


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    prompt_file = tmp_path / "prompt.txt"
    prompt_file.write_text(PROMPT, encoding="utf-8")
    command = [sys.executable, "-m", "promptkit", "salience", "--prompt-file", str(prompt_file), "--model", "tiny:gemma3", "--json", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=Path(__file__).parents[2], timeout=300)


def test_cli_prints_the_json_contract(tmp_path):
    done = _run(tmp_path, "--target", TARGET, "--target-line", "Recommendation:", "--granularity", "lines")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(data) >= {"model", "text", "prompt_length", "target_span", "method", "tokens", "segments"}
    assert data["text"] == PROMPT + TARGET and data["prompt_length"] == len(PROMPT)
    start, end = data["target_span"]
    assert data["text"][start:end].strip() == "Avoid."
    assert "".join(t["text"] for t in data["tokens"]) == data["text"]  # <bos> not listed.
    assert next(s["text"] for s in data["segments"]) == "Taste-likes: Cheese\n"
    assert data["method"] == "grad_l2" and all(t["score"] >= 0 for t in data["tokens"])


def test_cli_reports_a_missing_line_as_an_error(tmp_path):
    done = _run(tmp_path, "--target", TARGET, "--target-line", "Verdict:")
    assert done.returncode != 0 and done.stdout == ""
    assert "Verdict:" in done.stderr and "Traceback" not in done.stderr


def test_cli_rejects_an_empty_target(tmp_path):
    done = _run(tmp_path, "--target", "  ")
    assert done.returncode != 0 and "empty" in done.stderr


def test_cli_contrast_adds_the_foil_and_both_losses(tmp_path):
    done = _run(tmp_path, "--target", TARGET, "--target-line", "Recommendation:", "--contrast", "You have to try it.", "--method", "grad_dot_input")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["params"] == {"contrast": "You have to try it."} and data["method"] == "grad_dot_input"
    assert data["details"]["log_odds"] == pytest.approx(data["details"]["foil_loss"] - data["loss"], rel=1e-4)
    start, _ = data["target_span"]
    assert all(t["score"] == 0 for t in data["tokens"] if t["start"] >= start)
    assert any(t["score"] < 0 for t in data["tokens"]) and any(t["score"] > 0 for t in data["tokens"])


def test_cli_contrast_refuses_integrated_gradients(tmp_path):
    done = _run(tmp_path, "--target", TARGET, "--contrast", " Maybe.", "--method", "integrated_gradients")
    assert done.returncode == 2 and done.stdout == "" and "grad_l2 and grad_dot_input" in done.stderr


def test_cli_contrast_refuses_the_span_itself(tmp_path):
    done = _run(tmp_path, "--target", TARGET, "--target-line", "Recommendation:", "--contrast", TARGET.split("Recommendation:")[-1])
    assert done.returncode == 2 and done.stdout == "" and "is the explained text itself" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_occlusion_scores_each_line_left_out(tmp_path):
    done = _run(tmp_path, "--target", TARGET, "--target-line", "Recommendation:", "--method", "occlusion")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["method"] == "occlusion" and data["params"] == {"granularity": "lines"}
    start, _ = data["target_span"]
    before = [s for s in data["segments"] if s["end"] <= start]
    # Lines by default, cut where the prompt ends and where the span starts: each left out once.
    assert [s["text"] for s in before] == ["Taste-likes: Cheese\n", "Analysis:", " it has eggs.\n", "Recommendation: "]
    assert data["details"]["pieces"] == len(before) and all(s["score"] != 0 for s in before)
    assert all(t["score"] == 0 for t in data["tokens"] if t["start"] >= start)
    assert sum(s["score"] for s in data["segments"]) == pytest.approx(sum(t["score"] for t in data["tokens"]), abs=1e-5)


def test_cli_occlusion_refuses_a_contrast(tmp_path):
    done = _run(tmp_path, "--target", TARGET, "--contrast", " Maybe.", "--method", "occlusion")
    assert done.returncode == 2 and done.stdout == "" and "grad_l2 and grad_dot_input" in done.stderr


def test_cli_custom_pattern_cuts_segments_and_needs_custom(tmp_path):
    done = _run(tmp_path, "--target", TARGET, "--granularity", "custom", "--pattern", ": ")
    assert done.returncode == 0, done.stderr
    texts = [s["text"] for s in json.loads(done.stdout)["segments"]]
    assert texts[0] == "Taste-likes: " and "".join(texts) == PROMPT + TARGET
    done = _run(tmp_path, "--target", TARGET, "--pattern", ": ")
    assert done.returncode == 2 and "--granularity custom" in done.stderr and "Traceback" not in done.stderr
    done = _run(tmp_path, "--target", TARGET, "--granularity", "custom", "--pattern", "(")
    assert done.returncode == 2 and "not a valid regular expression" in done.stderr


def test_cli_explains_the_files_exact_bytes(tmp_path):
    prompt = "\ufeffTaste-likes: 寿司\tand tea\r\nTaste-dislikes: eggs\rAnalysis:"
    (tmp_path / "target.txt").write_bytes(TARGET.replace("\n", "\r\n").encode("utf-8"))
    prompt_file = tmp_path / "crlf.txt"
    prompt_file.write_bytes(prompt.encode("utf-8"))
    command = [sys.executable, "-m", "promptkit", "salience", "--prompt-file", str(prompt_file), "--model", "tiny:gemma3",
               "--json", "--target-file", str(tmp_path / "target.txt"), "--granularity", "lines"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=Path(__file__).parents[2], timeout=300)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["text"] == prompt.removeprefix("\ufeff") + TARGET.replace("\n", "\r\n")  # the BOM is an encoding marker
    assert "".join(t["text"] for t in data["tokens"]) == data["text"]
