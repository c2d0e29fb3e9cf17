"""Templates cannot reach Python internals, mutate values, or blow up memory."""

from __future__ import annotations

import pytest

from promptkit.errors import TemplateError
from promptkit.templates import TemplateLocationError, render_template

ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ value.__class__.__base__.__subclasses__() }}",
    "{{ value | attr('__class__') }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ '{0.__class__.__mro__}'.format(value) }}",
    "{{ range.__self__ }}",
    "{{ self.__init__.__globals__ }}",
    "{{ items.append('x') }}",
    "{{ mapping.update({'a': 1}) }}",
    "{{ mapping.pop('k') }}",
]


@pytest.mark.parametrize("text", ESCAPES)
def test_escape_attempts_are_refused(text: str) -> None:
    values = {"value": "text", "items": [1], "mapping": {"k": "v"}}
    with pytest.raises(TemplateLocationError) as caught:
        render_template(text, values)
    message = str(caught.value)
    assert "refused" in message or "undefined" in message
    assert "<class" not in message and "module" not in message
    # The values the template saw are unchanged.
    assert values == {"value": "text", "items": [1], "mapping": {"k": "v"}}


def test_refusal_names_the_unsafe_attribute_and_place() -> None:
    with pytest.raises(TemplateLocationError) as caught:
        render_template("Line one\nx {{ cycler.__init__.__globals__ }}", {})
    assert caught.value.line == 2
    assert caught.value.column == 13
    assert "__init__" in str(caught.value)


def test_huge_range_is_refused() -> None:
    with pytest.raises(TemplateLocationError, match="Range too big"):
        render_template("{% for i in range(10**9) %}x{% endfor %}", {})


def test_expanding_a_value_without_bound_is_stopped() -> None:
    with pytest.raises(TemplateError, match="exceeds"):
        render_template("{% for i in range(100000) %}{{ big }}{% endfor %}", {"big": "x" * 1000})
