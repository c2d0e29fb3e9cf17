"""Reads a user's own test-case file, in the template library's case format.

The file is YAML with a `cases:` list exactly as in a family file (id,
values, optional expect), and optionally `family` (must match) and
`candidate_labels` (default: the family's). A whole family file works too;
its versions are ignored. Every error names the file and line.
"""

from __future__ import annotations

from pathlib import Path

from promptkit.errors import TemplateError
from promptkit.templates import TestCase, Version
from promptkit.templates.library import read_case
from promptkit.templates.yaml_reader import YamlReader


def load_cases_file(
    path: Path, *, family: str, candidate_labels: tuple[str, ...], versions: tuple[Version, ...]
) -> tuple[TestCase, ...]:
    """Loads and validates a case file for one family.

    Args:
        path: the YAML file.
        family: the family compared; a `family:` key in the file must match.
        candidate_labels: the family's labels, used unless the file sets its own.
        versions: the versions compared; each case must fill the last one's variables.

    Returns:
        The cases, in file order.

    Raises:
        TemplateError: naming the file and line of the first problem.
    """
    reader = YamlReader(path)
    root = reader.compose()
    fields = reader.mapping(
        root,
        what="a case file",
        required=("cases",),
        optional=("family", "description", "candidate_labels", "versions"),
    )
    if "family" in fields:
        named = reader.string(fields["family"], what="family")
        if named != family:
            raise reader.error(fields["family"], f"this case file is for family {named!r}, not {family!r}.")
    if "candidate_labels" in fields:
        candidate_labels = reader.strings(fields["candidate_labels"], what="candidate_labels")
    nodes = reader.sequence(fields["cases"], what="cases")
    if not nodes:
        raise reader.error(fields["cases"], "the case file has no cases; add at least one.")
    cases: list[TestCase] = []
    for node in nodes:
        case = read_case(reader, node, candidates=candidate_labels, versions=versions)
        if any(earlier.id == case.id for earlier in cases):
            raise reader.error(node, f"duplicate case id {case.id!r}.")
        cases.append(case)
    return tuple(cases)


def select_versions(available: tuple[Version, ...], refs: list[str], *, family: str) -> tuple[Version, ...]:
    """Picks versions by number or label, in the order asked.

    Args:
        available: the family's versions.
        refs: numbers or labels, e.g. `["1", "fewshot-fixed"]`.
        family: the family's name, for messages.

    Returns:
        The chosen versions.

    Raises:
        TemplateError: a reference matches no version, or fewer than one is given.
    """
    if not refs:
        raise TemplateError("Name at least one version with --versions, e.g. --versions 1,2.")
    chosen = []
    for ref in refs:
        match = next((v for v in available if str(v.number) == ref or v.label == ref), None)
        if match is None:
            known = ", ".join(f"{v.number}" + (f" ({v.label})" if v.label else "") for v in available)
            raise TemplateError(f"Family {family!r} has no version {ref!r}; it has {known}.")
        chosen.append(match)
    return tuple(chosen)
