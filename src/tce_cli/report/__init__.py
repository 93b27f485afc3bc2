"""The quarterly pack: measures from the harmonised store, disclosure control, Markdown, Excel
and a tidy CSV.

Stages: :func:`build_pack` (read the store, compute the measures, suppress) returns a
:class:`Pack` of published values only; :func:`write_pack` renders and writes it.
"""

from __future__ import annotations

from tce_cli.report.markdown import check_templates, render_markdown
from tce_cli.report.measures import Measure, all_measures
from tce_cli.report.output import render_files, tidy_csv, write_pack
from tce_cli.report.pack import Pack, build_pack, parse_formats, parse_timestamp
from tce_cli.report.suppression import Constraint, Suppressed, recoverable, suppress

__all__ = [
    "Constraint",
    "Measure",
    "Pack",
    "Suppressed",
    "all_measures",
    "build_pack",
    "check_templates",
    "parse_formats",
    "parse_timestamp",
    "recoverable",
    "render_files",
    "render_markdown",
    "suppress",
    "tidy_csv",
    "write_pack",
]
