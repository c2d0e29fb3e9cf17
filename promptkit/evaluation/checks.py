"""Outcome checks of one completion: contains / not-contains / regex / label.

A check looks at a named output line (e.g. `Recommendation:`) or at the whole
completion. The named line may begin in the prompt: a prompt ending with
`Recommendation:` is continued by ` Avoid.`, so the prompt's last line and
the completion are read as one text.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from promptkit.templates import Expectation, TestCase


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """One expectation checked against one completion.

    Attributes:
        name: what was checked, e.g. `not_contains 'Avoid'` (stable: the
            JSON contract and stored results use it).
        passed: whether it held.
        detail: what was found, for people reading a failure: the text
            checked, or around an unwanted match; empty for a missing line.
        description: the check in plain words, for reviewers, e.g.
            `Recommendation: does not say "Avoid"`.
    """

    name: str
    passed: bool
    detail: str = ""
    description: str = ""

    def caption(self, *, found_length: int = 64) -> str:
        """One line for reviewers: ✓ or ✗, the check in words, and for a failure what was found."""
        text = f"{'✓' if self.passed else '✗'} {self.description or self.name}"
        if self.passed or not self.detail:
            return text
        found = self.detail if len(self.detail) <= found_length else self.detail[: found_length - 1] + "…"
        return f"{text} (found: {found})"


def output_text(prompt: str, completion: str) -> str:
    """The text checks read: the prompt's unfinished last line plus the completion."""
    return prompt.rsplit("\n", 1)[-1] + completion


def find_line(text: str, line: str) -> str | None:
    """Returns what follows `line` on the first line that starts with it.

    Args:
        text: the output text.
        line: the line's prefix, e.g. `Recommendation:`; leading spaces on
            the output line are ignored.

    Returns:
        The rest of that line, stripped, or None when no line starts so.
    """
    for candidate in text.splitlines():
        stripped = candidate.strip()
        if stripped.startswith(line):
            return stripped[len(line) :].strip()
    return None


def line_of_interest(cases: Sequence[TestCase]) -> str | None:
    """Returns the output line a family's test cases check (e.g. 'Recommendation:').

    Args:
        cases: the family's test cases.

    Returns:
        The first case's expected line, skipping cases that name none; None
        when no case names one.
    """
    for case in cases:
        if case.expect is not None and case.expect.line:
            return case.expect.line
    return None


def matched_label(subject: str, labels: Sequence[str]) -> str | None:
    """The first of `labels` that `subject` starts with (case-insensitive), if any.

    Markdown emphasis or quotes before the label (`**Avoid**`) are skipped,
    and longer labels are tried first so `Not suitable for you` wins over a
    shorter label it begins with.
    """
    bare = subject.lstrip("*_ \"'").lower()
    for label in sorted(labels, key=len, reverse=True):
        if bare.startswith(label.lower()):
            return label
    return None


def run_checks(expectation: Expectation, *, prompt: str, completion: str) -> list[CheckResult]:
    """Checks a completion against every part of an expectation.

    Args:
        expectation: the test case's expectation.
        prompt: the rendered prompt (its last line may start the named line).
        completion: the generated text.

    Returns:
        One result per expectation part, in a stable order: the line's
        presence (when a line is named), each contains, each not-contains,
        the regex, the labels. Empty when the expectation asks nothing.
    """
    text = output_text(prompt, completion)
    results = []
    subject: str | None = text
    where = f"{expectation.line} " if expectation.line is not None else "The answer "
    if expectation.line is not None:
        subject = find_line(text, expectation.line)
        results.append(CheckResult(f"line {expectation.line!r}", subject is not None, "", f"has a line starting {expectation.line}"))
    # A missing line fails every check that would read it.
    found = subject or ""
    for needle in expectation.contains:
        passed = subject is not None and needle.lower() in found.lower()
        results.append(CheckResult(f"contains {needle!r}", passed, found, f"{where}says “{needle}”"))
    for needle in expectation.not_contains:
        passed = subject is not None and needle.lower() not in found.lower()
        results.append(CheckResult(f"not_contains {needle!r}", passed, _around(found, needle), f"{where}does not say “{needle}”"))
    if expectation.regex is not None:
        passed = subject is not None and re.search(expectation.regex, found) is not None
        results.append(CheckResult(f"regex {expectation.regex!r}", passed, found, f"{where}matches the pattern {expectation.regex}"))
    if expectation.labels:
        label = matched_label(found, expectation.candidates or expectation.labels)
        wanted = " or ".join(f"“{name}”" for name in expectation.labels)
        results.append(CheckResult(f"labels {list(expectation.labels)}", label in expectation.labels, found, f"{where}is {wanted}"))
    return results


def _around(text: str, needle: str, *, width: int = 60) -> str:
    """`text`, or the `width` characters around the first match of `needle` when it is longer."""
    at = text.lower().find(needle.lower())
    if len(text) <= width or at < 0:
        return text
    start = max(0, min(at - (width - len(needle)) // 2, len(text) - width))
    return ("…" if start else "") + text[start : start + width] + ("…" if start + width < len(text) else "")
