"""A comparison's column: a prompt version, alone or with a LoRA adapter on the comparison's model.

A column is written `2` (version 2 on the comparison's model) or
`1+adapter:NAME` (version 1 on that model with adapter NAME merged in); the
written form keys a column in `compare --json` and on the command line.
"""

from __future__ import annotations

import dataclasses

ADAPTER_MARK = "+adapter:"


@dataclasses.dataclass(frozen=True, order=True)
class Column:
    """One column of a comparison.

    Attributes:
        version: the prompt version's number.
        adapter: the adapter's name; None for the model alone.
    """

    version: int
    adapter: str | None = None

    def __str__(self) -> str:
        """`2`, or `1+adapter:NAME`."""
        return str(self.version) if self.adapter is None else f"{self.version}{ADAPTER_MARK}{self.adapter}"


def split_column_ref(ref: str) -> tuple[str, str | None]:
    """`(version reference, adapter name or None)` of a written column such as `fixed+adapter:dishes` or `2`."""
    version, mark, adapter = ref.partition(ADAPTER_MARK)
    return (version, adapter) if mark else (ref, None)


def plain_columns(versions: tuple[int, ...]) -> tuple[Column, ...]:
    """One column per version number, without adapters: what every comparison had before adapter columns."""
    return tuple(Column(number) for number in versions)
