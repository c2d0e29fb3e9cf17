"""The template library: human-editable YAML files, one template family each.

The format is documented at the top of `templates/menu-analysis.yaml`. Files
are validated on load; every error names the file and line to fix.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

import yaml
from yaml.nodes import Node

from promptkit.errors import TemplateError
from promptkit.templates.environment import TemplateLocationError
from promptkit.templates.models import Expectation, Family, GenerationDefaults, ReviewCriterion, TestCase, Version
from promptkit.templates.rendering import detect_variables
from promptkit.templates.yaml_reader import YamlReader

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_EXPORT_HEADER = (
    "# Exported by promptkit from its store. Edit freely: on the next start an\n"
    "# edited version text is imported as a new version.\n"
)


def default_templates_dir() -> Path:
    """Returns the library folder: `PROMPTKIT_TEMPLATES_DIR`, else the repo's `templates/`."""
    configured = os.environ.get("PROMPTKIT_TEMPLATES_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "templates"


def load_library(templates_dir: Path) -> list[Family]:
    """Loads and validates every `*.yaml` / `*.yml` file of a folder.

    Args:
        templates_dir: The folder.

    Returns:
        The families, sorted by name.

    Raises:
        TemplateError: If the folder is missing, a file is invalid, or two
            files define the same family.
    """
    if not templates_dir.is_dir():
        raise TemplateError(f"{templates_dir}: the templates folder does not exist.")
    families: dict[str, Family] = {}
    for path in sorted([*templates_dir.glob("*.yaml"), *templates_dir.glob("*.yml")]):
        family = load_family_file(path)
        if family.name in families:
            raise TemplateError(
                f"{path}:1: family {family.name!r} is already defined in "
                f"{families[family.name].source}; rename one of them."
            )
        families[family.name] = family
    return [families[name] for name in sorted(families)]


def load_family_file(path: Path) -> Family:
    """Loads one family file, checking every field.

    Args:
        path: The YAML file.

    Returns:
        The family.

    Raises:
        TemplateError: Naming the file and line of the first problem.
    """
    reader = YamlReader(path)
    root = reader.compose()
    fields = reader.mapping(
        root,
        what="a template family",
        required=("family", "versions"),
        optional=("description", "candidate_labels", "review_criteria", "cases"),
    )
    name = reader.string(fields["family"], what="family", allow_empty=False)
    if not _NAME.match(name):
        raise reader.error(fields["family"], "family must be lower-case letters, digits, '.', '_' or '-'.")
    labels = reader.strings(fields["candidate_labels"], what="candidate_labels") if "candidate_labels" in fields else ()
    versions = _read_versions(reader, fields["versions"])
    cases = tuple(
        read_case(reader, node, candidates=labels, versions=versions)
        for node in (reader.sequence(fields["cases"], what="cases") if "cases" in fields else [])
    )
    seen: set[str] = set()
    for node, case in zip(reader.sequence(fields["cases"], what="cases") if cases else [], cases, strict=True):
        if case.id in seen:
            raise reader.error(node, f"duplicate case id {case.id!r}.")
        seen.add(case.id)
    description = reader.string(fields["description"], what="description") if "description" in fields else ""
    criteria = (
        reader.string_map(fields["review_criteria"], what="review_criteria") if "review_criteria" in fields else {}
    )
    return Family(
        name=name,
        description=description.strip(),
        candidate_labels=labels,
        versions=versions,
        cases=cases,
        source=path,
        review_criteria=tuple(ReviewCriterion(name.strip(), question.strip()) for name, question in criteria.items()),
    )


def _read_versions(reader: YamlReader, node: Node) -> tuple[Version, ...]:
    """Reads the versions list: increasing numbers, unique labels, valid text."""
    versions: list[Version] = []
    for item in reader.sequence(node, what="versions"):
        fields = reader.mapping(
            item,
            what="a version",
            required=("number", "text"),
            optional=("label", "author", "note", "parent", "generation"),
        )
        number = reader.integer(fields["number"], what="number", minimum=1)
        if versions and number <= versions[-1].number:
            raise reader.error(fields["number"], f"version numbers must increase; {number} follows {versions[-1].number}.")
        label = reader.optional_string(fields.get("label"), what="label")
        if label is not None and any(version.label == label for version in versions):
            raise reader.error(fields["label"], f"label {label!r} is used by an earlier version.")
        parent = versions[-1].number if versions else None
        if "parent" in fields:
            parent = reader.optional_integer(fields["parent"], what="parent", minimum=1)
            if parent is not None and all(version.number != parent for version in versions):
                raise reader.error(fields["parent"], f"parent {parent} is not an earlier version of this family.")
        text = reader.string(fields["text"], what="text", allow_empty=False)
        try:
            detect_variables(text)
        except TemplateLocationError as error:
            line = reader.text_line(fields["text"], error.line)
            raise TemplateError(f"{reader.path}:{line}: in the text of version {number}, {error}") from None
        versions.append(
            Version(
                number=number,
                text=text,
                label=label,
                author=reader.string(fields["author"], what="author") if "author" in fields else "",
                note=(reader.string(fields["note"], what="note") if "note" in fields else "").strip(),
                parent=parent,
                generation=_read_generation(reader, fields.get("generation")),
            )
        )
    if not versions:
        raise reader.error(node, "a family needs at least one version.")
    return tuple(versions)


def _read_generation(reader: YamlReader, node: Node | None) -> GenerationDefaults:
    """Reads a version's generation defaults (all optional)."""
    if node is None:
        return GenerationDefaults()
    fields = reader.mapping(
        node, what="generation", required=(), optional=("max_new_tokens", "stop_sequences", "temperature")
    )
    defaults = GenerationDefaults()
    return GenerationDefaults(
        max_new_tokens=reader.integer(fields["max_new_tokens"], what="max_new_tokens", minimum=1)
        if "max_new_tokens" in fields
        else defaults.max_new_tokens,
        stop_sequences=reader.strings(fields["stop_sequences"], what="stop_sequences")
        if "stop_sequences" in fields
        else defaults.stop_sequences,
        temperature=reader.number(fields["temperature"], what="temperature") if "temperature" in fields else None,
    )


def read_case(
    reader: YamlReader, node: Node, *, candidates: tuple[str, ...], versions: tuple[Version, ...]
) -> TestCase:
    """Reads one test case, checking it fills every variable of the latest version."""
    fields = reader.mapping(node, what="a case", required=("id", "values"), optional=("expect",))
    case_id = reader.string(fields["id"], what="id", allow_empty=False)
    values = reader.string_map(fields["values"], what="values")
    missing = [name for name in _variable_names(versions[-1].text) if name not in values]
    if missing:
        raise reader.error(
            fields["values"],
            f"case {case_id!r} has no value for {', '.join(missing)} (used by version {versions[-1].number}).",
        )
    expect = None
    if "expect" in fields:
        expect = _read_expectation(reader, fields["expect"], candidates=candidates)
    return TestCase(id=case_id, values=values, expect=expect)


@functools.lru_cache(maxsize=64)
def _variable_names(text: str) -> tuple[str, ...]:
    """The variables of a template text, parsed once however many cases a file has."""
    return tuple(variable.name for variable in detect_variables(text))


def _read_expectation(reader: YamlReader, node: Node, *, candidates: tuple[str, ...]) -> Expectation:
    """Reads a case's expectations; labels must be among the candidates."""
    fields = reader.mapping(
        node,
        what="expect",
        required=(),
        optional=("line", "contains", "not_contains", "regex", "labels", "candidates"),
    )
    if "candidates" in fields:
        candidates = reader.strings(fields["candidates"], what="candidates")
    labels = reader.strings(fields["labels"], what="labels") if "labels" in fields else ()
    for label in labels:
        if label not in candidates:
            raise reader.error(fields["labels"], f"label {label!r} is not one of the candidate labels {list(candidates)}.")
    regex = reader.optional_string(fields.get("regex"), what="regex")
    if regex is not None:
        try:
            re.compile(regex)
        except re.error as error:
            raise reader.error(fields["regex"], f"regex {regex!r} is invalid: {error}.") from None
    return Expectation(
        line=reader.optional_string(fields.get("line"), what="line"),
        contains=reader.strings(fields["contains"], what="contains") if "contains" in fields else (),
        not_contains=reader.strings(fields["not_contains"], what="not_contains") if "not_contains" in fields else (),
        regex=regex,
        labels=labels,
        candidates=candidates if labels else (),
    )


def dump_family(family: Family) -> str:
    """Writes a family in the library's YAML format.

    Args:
        family: The family to write.

    Returns:
        YAML text that `load_family_file` reads back to an equal family.
    """
    data: dict[str, object] = {"family": family.name, "description": family.description}
    data["candidate_labels"] = list(family.candidate_labels)
    if family.review_criteria:
        data["review_criteria"] = {criterion.name: criterion.question for criterion in family.review_criteria}
    data["versions"] = [version.to_dict() for version in family.versions]
    data["cases"] = [case.to_dict(family_candidates=family.candidate_labels) for case in family.cases]
    return _EXPORT_HEADER + yaml.dump(data, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=88)


class _BlockDumper(yaml.SafeDumper):
    """A dumper that writes multi-line texts as `|` blocks, readable in diffs."""


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    """Chooses block style for multi-line text; PyYAML falls back when it cannot."""
    style = None
    if "\n" in text.strip("\n"):
        style = "|"
    elif text and not text.strip():
        style = '"'  # Only whitespace, e.g. a "\n\n" stop sequence: show escapes.
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_BlockDumper.add_representer(str, _represent_text)
