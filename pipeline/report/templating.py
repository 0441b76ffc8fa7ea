"""The Jinja2 environment the report pages are rendered with (templates in ``templates/``). Pure.

Every ``{{ value }}`` is escaped unless it is ``Markup`` (a figure's SVG, a macro's output).
Escaping is ``html.escape``'s (``&quot;``, ``&#x27;``) rather than MarkupSafe's own
(``&#34;``, ``&#39;``): both are correct, and this way a page rebuilt for the same day is the
same bytes as one written before the pages came from templates. ``None`` renders as nothing.
"""

from __future__ import annotations

import html
import re
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template
from markupsafe import Markup

from pipeline.report.text import fmt, plural

TEMPLATES = Path(__file__).with_name("templates")
#: Below this page width (CSS px) the narrow drawing of each plot is shown instead of the wide
#: one: scaled down to a phone, the 10-11 in wide figures' 12 pt text would be 5 px high.
NARROW_MAX_PX = 760


def escape(value: object) -> Markup:
    """``value`` as HTML text: Markup unchanged, None as nothing, anything else escaped."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape("" if value is None else str(value), quote=True))


def code_spans(line: str) -> Markup:
    """```name``` as ``<code>name</code>``, the rest escaped (a file line of the report)."""
    parts = escape(line).split("`")
    return Markup("".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts)))


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        finalize=escape,
        undefined=StrictUndefined,  # a misspelt name fails the render, not the page
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(fmt=fmt, code_spans=code_spans)
    env.globals.update(plural=plural, narrow_max_px=NARROW_MAX_PX)
    return env


def template(name: str) -> Template:
    """A template of ``templates/``, compiled once per process."""
    return _environment().get_template(name)


_TRAILING_BLANKS = re.compile(r"[ \t]+\n")


def finish(page: str) -> str:
    """The page without blanks at line ends (left by empty optional parts and by the data)."""
    return _TRAILING_BLANKS.sub("\n", page)
