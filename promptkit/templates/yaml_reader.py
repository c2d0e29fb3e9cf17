"""Reads YAML node trees with checks whose errors name the file and line.

PyYAML's composed nodes keep their position in the file, so validating the
node tree (rather than the plain data `yaml.safe_load` returns) lets every
error point at the line to fix.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from promptkit.errors import InputFileError, TemplateError
from promptkit.text_files import read_text_file

_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_NULL_TAG = "tag:yaml.org,2002:null"
# libyaml's loader, where PyYAML was built with it, composes a file of
# hundreds of cases ~5× faster; its nodes carry the same marks and styles.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlReader:
    """Checks the shape of one YAML file's nodes.

    Args:
        path: The file, named in every error.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def compose(self) -> Node:
        """Parses the file into a node tree.

        Returns:
            The root node.

        Raises:
            TemplateError: If the file cannot be read, is not YAML, or is empty.
        """
        try:
            text = read_text_file(self.path, what="YAML")
        except InputFileError as error:
            raise TemplateError(str(error)) from None
        try:
            root = yaml.compose(text, Loader=_LOADER)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            line = mark.line + 1 if mark else 1
            raise TemplateError(
                f"{self.path}:{line}: invalid YAML: {error.problem or error}. "
                "Fix the indentation or quoting there."
            ) from None
        if root is None:
            raise TemplateError(f"{self.path}:1: the file is empty.")
        return root

    def error(self, node: Node, message: str) -> TemplateError:
        """Builds an error for `node`: "FILE:LINE: message"."""
        return TemplateError(f"{self.path}:{node.start_mark.line + 1}: {message}")

    def mapping(
        self, node: Node, *, what: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
    ) -> dict[str, Node]:
        """Reads a mapping with known keys.

        Args:
            node: The node to read.
            what: What the mapping is, for messages ("a version").
            required: Keys that must be present.
            optional: Keys that may be present.

        Returns:
            The value node of each key present.

        Raises:
            TemplateError: On a non-mapping, a duplicate, unknown or missing key.
        """
        if not isinstance(node, MappingNode):
            raise self.error(node, f"{what} must be a mapping of keys to values.")
        found: dict[str, Node] = {}
        allowed = (*required, *optional)
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else None
            if key not in allowed:
                raise self.error(
                    key_node, f"unknown key {key!r} in {what}; expected one of {', '.join(allowed)}."
                )
            if key in found:
                raise self.error(key_node, f"duplicate key {key!r} in {what}.")
            found[key] = value_node
        missing = [key for key in required if key not in found]
        if missing:
            raise self.error(node, f"{what} lacks {', '.join(repr(key) for key in missing)}.")
        return found

    def string(self, node: Node, *, what: str, allow_empty: bool = True) -> str:
        """Reads a scalar as text, exactly as written (`no` stays "no")."""
        if not isinstance(node, ScalarNode):
            raise self.error(node, f"{what} must be text.")
        if not allow_empty and not node.value.strip():
            raise self.error(node, f"{what} must not be empty.")
        text: str = node.value  # PyYAML's stubs type a node's value as Any; a scalar's is its text.
        return text

    def optional_string(self, node: Node | None, *, what: str) -> str | None:
        """Reads text that may be absent or null."""
        if node is None or (isinstance(node, ScalarNode) and node.tag == _NULL_TAG):
            return None
        return self.string(node, what=what)

    def integer(self, node: Node, *, what: str, minimum: int) -> int:
        """Reads an integer no smaller than `minimum`."""
        if not isinstance(node, ScalarNode) or node.tag != _INT_TAG:
            raise self.error(node, f"{what} must be a whole number.")
        value = int(yaml.safe_load(node.value))
        if value < minimum:
            raise self.error(node, f"{what} must be at least {minimum}.")
        return value

    def optional_integer(self, node: Node, *, what: str, minimum: int) -> int | None:
        """Reads an integer no smaller than `minimum`, or null."""
        if isinstance(node, ScalarNode) and node.tag == _NULL_TAG:
            return None
        return self.integer(node, what=what, minimum=minimum)

    def number(self, node: Node, *, what: str) -> float:
        """Reads an integer or decimal number."""
        if not isinstance(node, ScalarNode) or node.tag not in (_INT_TAG, _FLOAT_TAG):
            raise self.error(node, f"{what} must be a number.")
        return float(yaml.safe_load(node.value))

    def sequence(self, node: Node, *, what: str) -> list[Node]:
        """Reads a list, returning its item nodes."""
        if not isinstance(node, SequenceNode):
            raise self.error(node, f"{what} must be a list.")
        return list(node.value)

    def strings(self, node: Node, *, what: str) -> tuple[str, ...]:
        """Reads a list of texts."""
        return tuple(self.string(item, what=f"each item of {what}") for item in self.sequence(node, what=what))

    def string_map(self, node: Node, *, what: str) -> dict[str, str]:
        """Reads a mapping from names to texts, rejecting duplicate names."""
        if not isinstance(node, MappingNode):
            raise self.error(node, f"{what} must be a mapping of names to texts.")
        result: dict[str, str] = {}
        for key_node, value_node in node.value:
            key = self.string(key_node, what=f"a name in {what}", allow_empty=False)
            if key in result:
                raise self.error(key_node, f"duplicate name {key!r} in {what}.")
            result[key] = self.string(value_node, what=f"the value of {key!r}")
        return result

    def text_line(self, node: Node, line_in_text: int) -> int:
        """Maps a 1-based line inside a scalar's text to the file's line."""
        is_block = isinstance(node, ScalarNode) and node.style in ("|", ">")
        # Marks count from 0. A block scalar's text starts on the line after
        # its "|" indicator; a quoted or plain scalar's on the mark's line.
        return node.start_mark.line + line_in_text + (1 if is_block else 0)
