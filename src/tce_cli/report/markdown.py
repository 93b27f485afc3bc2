"""Render the pack as GitHub-flavoured Markdown from Jinja2 templates.

Templates: ``report_templates/`` at the top of the repository is the canonical, user-facing copy
(``pack.md.j2`` and the ``_*.md.j2`` partials it includes). The same files ship inside the
package as ``tce_cli/templates/`` so an installed ``tce`` has them; a test fails when the two
folders differ (copy ``report_templates/*`` to ``src/tce_cli/templates/`` after an edit).

``--templates DIR`` puts a folder in front of the built-in one: any file it holds replaces the
built-in file of the same name. Each folder is read through its own ``FileSystemLoader``, which
refuses names that leave the folder (``../``), and templates run in Jinja's immutable sandbox.
Autoescaping is off (this is Markdown, not HTML); every value in the context is already escaped
for Markdown tables and contains only published (suppressed) aggregates.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from tce_cli.errors import ConfigError
from tce_cli.report.charts import mermaid, points
from tce_cli.report.notes import iso_utc
from tce_cli.report.pack import Pack
from tce_cli.report.publish import PublishedSection, PublishedTable

TEMPLATE = "pack.md.j2"
TITLE = "Child exploitation quarterly pack: Greater Manchester"
_ESCAPES = str.maketrans(
    {
        "\\": "\\\\",
        "|": "\\|",
        "*": "\\*",
        "_": "\\_",
        "`": "\\`",
        "[": "\\[",
        "]": "\\]",
        "<": "&lt;",
        ">": "&gt;",
        "\n": " ",
        "\r": " ",
    }
)


def builtin_templates() -> Path:
    """The templates folder shipped inside the package."""
    return Path(str(resources.files("tce_cli").joinpath("templates")))


def check_templates(folder: Path | None) -> None:
    """Fail early when ``--templates`` is not a folder.

    Raises:
        ConfigError: the folder does not exist.
    """
    if folder is not None and not folder.is_dir():
        raise ConfigError(
            f"Templates folder '{folder}' does not exist.",
            hint="Copy report_templates/ somewhere, edit it, and pass that folder.",
        )


class _FolderLoader(jinja2.FileSystemLoader):
    """A FileSystemLoader that also refuses a file reached through a link leaving its folder
    (Jinja refuses ``../`` in names, but follows symlinks)."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.root = folder.resolve()

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Any]:
        pieces = jinja2.loaders.split_template_path(template)
        target = self.root.joinpath(*pieces).resolve()
        if self.root not in target.parents or not target.is_file():
            raise jinja2.TemplateNotFound(template)
        return super().get_source(environment, template)


def environment(folder: Path | None = None) -> jinja2.Environment:
    """A sandboxed Jinja2 environment over ``folder`` (if given), then the built-in templates."""
    check_templates(folder)
    loaders: list[jinja2.BaseLoader] = []
    if folder is not None:
        loaders.append(_FolderLoader(folder))
    loaders.append(_FolderLoader(builtin_templates()))
    return ImmutableSandboxedEnvironment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def md(text: str) -> str:
    """Escape text for a Markdown table cell or heading."""
    return text.translate(_ESCAPES)


def render_markdown(pack: Pack, folder: Path | None = None) -> str:
    """Render ``pack`` with ``pack.md.j2``.

    Raises:
        ConfigError: a template is missing, malformed, or uses something it may not.
    """
    env = environment(folder)
    try:
        return env.get_template(TEMPLATE).render(context(pack))
    except jinja2.TemplateSyntaxError as exc:
        where = f"{exc.name or exc.filename or TEMPLATE} line {exc.lineno}"
        raise ConfigError(f"Template error in {where}: {exc.message}", hint=_HINT) from None
    except jinja2.TemplateNotFound as exc:
        raise ConfigError(f"Template '{exc.name}' not found.", hint=_HINT) from None
    except jinja2.TemplateError as exc:
        raise ConfigError(f"Template error: {exc.message}", hint=_HINT) from None


_HINT = "Fix the template, or leave out --templates to use the built-in ones."


def context(pack: Pack) -> dict[str, Any]:
    """The template context: plain strings, lists and dicts, already escaped."""
    p = pack.period
    return {
        "title": TITLE,
        "period": {
            "label": p.label,
            "start": p.start.isoformat(),
            "end": p.end.isoformat(),
            "time_period": p.time_period,
            "time_identifier": p.time_identifier,
        },
        "generated_at": iso_utc(pack.generated_at),
        "stamps": [md(s) for s in pack.stamps],
        "sections": [_section(s) for s in pack.sections],
    }


def anchor(title: str) -> str:
    """The anchor GitHub gives a heading (lower case, punctuation dropped, spaces to '-')."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def _section(section: PublishedSection) -> dict[str, Any]:
    return {
        "id": section.id,
        "anchor": anchor(section.title),
        "title": md(section.title),
        "intro": md(section.intro),
        "tables": [_table(t) for t in section.tables],
    }


def _table(table: PublishedTable) -> dict[str, Any]:
    numeric = [
        any(r.cells[j].kind != "text" for r in table.rows) for j in range(len(table.columns))
    ]
    charts = []
    for chart in table.charts:
        p = points(table, chart)
        charts.append(
            {"title": md(p.title), "mermaid": mermaid(p), "omitted": [md(o) for o in p.omitted]}
        )
    return {
        "id": table.id,
        "title": md(table.title),
        "note": md(table.note),
        "header": [md(table.stub), *(md(c) for c in table.columns)],
        "align": ["---", *("---:" if n else "---" for n in numeric)],
        "rows": [
            [md(r.label), *(md(c.text) for c in r.cells)]
            if not r.total
            else [f"**{md(r.label)}**", *(f"**{md(c.text)}**" for c in r.cells)]
            for r in table.rows
        ],
        "empty": not table.rows,
        "charts": charts,
    }
