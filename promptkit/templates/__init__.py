"""Prompt templates: sandboxed Jinja2 rendering with part spans, and the library.

Public API:
    render_template(text, values) -> RenderedPrompt (text + parts tiling it)
    detect_variables(text) -> list[TemplateVariable]
    load_library(templates_dir) / load_family_file(path) -> Family records
    dump_family(family) -> YAML text; default_templates_dir() -> Path
"""

from promptkit.templates.environment import TemplateLocationError
from promptkit.templates.library import (
    default_templates_dir,
    dump_family,
    load_family_file,
    load_library,
)
from promptkit.templates.models import (
    Expectation,
    Family,
    GenerationDefaults,
    ReviewCriterion,
    TestCase,
    Version,
)
from promptkit.templates.parts import RenderedPrompt, TemplatePart
from promptkit.templates.rendering import (
    MAX_VALUE_BYTES,
    TemplateVariable,
    detect_variables,
    render_template,
)

__all__ = [
    "MAX_VALUE_BYTES",
    "Expectation",
    "Family",
    "GenerationDefaults",
    "RenderedPrompt",
    "ReviewCriterion",
    "TemplateLocationError",
    "TemplatePart",
    "TemplateVariable",
    "TestCase",
    "Version",
    "default_templates_dir",
    "detect_variables",
    "dump_family",
    "load_family_file",
    "load_library",
    "render_template",
]
