"""Plain, immutable records of the template library: families, versions, cases."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class GenerationDefaults:
    """Generation settings a version suggests; a run may override them.

    Attributes:
        max_new_tokens: Most tokens to generate.
        stop_sequences: Texts that end the completion when generated.
        temperature: Sampling temperature; None means the model's default.
    """

    max_new_tokens: int = 128
    stop_sequences: tuple[str, ...] = ()
    temperature: float | None = None

    def to_dict(self) -> dict[str, object]:
        """Returns the settings as JSON-ready data."""
        data: dict[str, object] = {
            "max_new_tokens": self.max_new_tokens,
            "stop_sequences": list(self.stop_sequences),
        }
        if self.temperature is not None:
            data["temperature"] = self.temperature
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GenerationDefaults:
        """Builds settings from `to_dict` output."""
        temperature = data.get("temperature")
        return cls(
            max_new_tokens=int(data.get("max_new_tokens", cls.max_new_tokens)),
            stop_sequences=tuple(str(stop) for stop in data.get("stop_sequences", ())),
            temperature=None if temperature is None else float(temperature),
        )


@dataclass(frozen=True)
class Expectation:
    """What a good completion for a test case looks like.

    Attributes:
        line: Prefix of the output line to check (e.g. "Recommendation:");
            None checks the whole completion.
        contains: Texts that must appear (case-insensitive).
        not_contains: Texts that must not appear (case-insensitive).
        regex: A pattern that must match somewhere (Python `re.search`).
        labels: Acceptable labels; the checked text must start with one.
        candidates: All labels a classifier chooses among (for scoring the
            labels' probabilities as the next tokens).
    """

    line: str | None = None
    contains: tuple[str, ...] = ()
    not_contains: tuple[str, ...] = ()
    regex: str | None = None
    labels: tuple[str, ...] = ()
    candidates: tuple[str, ...] = ()

    def check(self, completion: str) -> list[str]:
        """Checks a completion against every expectation.

        Args:
            completion: The generated text.

        Returns:
            One message per failed expectation; empty when all hold.
        """
        subject = completion
        if self.line is not None:
            found = [text.strip() for text in completion.splitlines() if text.strip().startswith(self.line)]
            if not found:
                return [f"no output line starts with {self.line!r}"]
            subject = found[0][len(self.line) :].strip()
        failures = [f"does not contain {text!r}" for text in self.contains if text.lower() not in subject.lower()]
        failures += [f"contains {text!r}" for text in self.not_contains if text.lower() in subject.lower()]
        if self.regex is not None and not re.search(self.regex, subject):
            failures.append(f"does not match {self.regex!r}")
        # Markdown emphasis around a label ("**Avoid**") still names the label.
        bare = subject.lstrip("*_ \"'").lower()
        if self.labels and not any(bare.startswith(label.lower()) for label in self.labels):
            failures.append(f"does not start with one of {list(self.labels)}")
        return failures

    def to_dict(self, *, family_candidates: tuple[str, ...] = ()) -> dict[str, object]:
        """Returns the set expectations as JSON-ready data, omitting empty ones."""
        data: dict[str, object] = {}
        if self.line is not None:
            data["line"] = self.line
        for key in ("contains", "not_contains", "labels"):
            if getattr(self, key):
                data[key] = list(getattr(self, key))
        if self.regex is not None:
            data["regex"] = self.regex
        if self.candidates and self.candidates != family_candidates:
            data["candidates"] = list(self.candidates)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, family_candidates: tuple[str, ...] = ()) -> Expectation:
        """Builds an expectation from `to_dict` output."""
        labels = tuple(data.get("labels", ()))
        return cls(
            line=data.get("line"),
            contains=tuple(data.get("contains", ())),
            not_contains=tuple(data.get("not_contains", ())),
            regex=data.get("regex"),
            labels=labels,
            candidates=tuple(data.get("candidates", family_candidates)) if labels else (),
        )


@dataclass(frozen=True)
class TestCase:
    """Variable values to render a family's versions with, and what to expect.

    Attributes:
        id: Unique within the family.
        values: One text per template variable.
        expect: Expectations on the completion, if any.
    """

    __test__ = False  # Not a pytest test class, despite its name.

    id: str
    values: Mapping[str, str]
    expect: Expectation | None = None

    def to_dict(self, *, family_candidates: tuple[str, ...] = ()) -> dict[str, object]:
        """Returns the case as JSON-ready data (the library file's layout)."""
        data: dict[str, object] = {"id": self.id, "values": dict(self.values)}
        if self.expect is not None:
            data["expect"] = self.expect.to_dict(family_candidates=family_candidates)
        return data


@dataclass(frozen=True)
class Version:
    """One version of a family's template text.

    Attributes:
        number: 1, 2, 3... within the family.
        text: The Jinja2 template.
        label: Optional short name, unique within the family.
        author: Who wrote it.
        note: What changed and why.
        parent: The version this one was derived from.
        generation: Suggested generation settings.
    """

    number: int
    text: str
    label: str | None = None
    author: str = ""
    note: str = ""
    parent: int | None = None
    generation: GenerationDefaults = field(default_factory=GenerationDefaults)

    def to_dict(self) -> dict[str, object]:
        """Returns the version as JSON-ready data (the library file's layout)."""
        return {
            "number": self.number,
            "label": self.label,
            "author": self.author,
            "note": self.note,
            "parent": self.parent,
            "generation": self.generation.to_dict(),
            "text": self.text,
        }

    def with_max_new_tokens(self, max_new_tokens: int) -> Version:
        """Returns a copy whose generation defaults ask for `max_new_tokens`."""
        return replace(self, generation=replace(self.generation, max_new_tokens=max_new_tokens))


@dataclass(frozen=True)
class ReviewCriterion:
    """Something reviewers score a completion on, 1 (poor) to 5 (very good), in a rubric review.

    Attributes:
        name: Short name, unique within the family (e.g. "tone").
        question: What the reviewer asks themselves, in plain words; may be empty.
    """

    name: str
    question: str = ""

    def to_dict(self) -> dict[str, str]:
        """Returns the criterion as JSON-ready data."""
        return {"name": self.name, "question": self.question}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReviewCriterion:
        """Builds a criterion from `to_dict` output."""
        return cls(name=str(data["name"]), question=str(data.get("question", "")))


@dataclass(frozen=True)
class Family:
    """A template family: the versions of one prompt and its test cases.

    Attributes:
        name: Unique name.
        description: One paragraph for people browsing the library.
        candidate_labels: Labels an output may be classified into.
        versions: Versions in increasing number.
        cases: Test cases.
        source: The file it was loaded from, if any.
        review_criteria: What reviewers score in a rubric review; empty: no rubric reviews.
    """

    name: str
    description: str = ""
    candidate_labels: tuple[str, ...] = ()
    versions: tuple[Version, ...] = ()
    cases: tuple[TestCase, ...] = ()
    source: Path | None = None
    review_criteria: tuple[ReviewCriterion, ...] = ()
