"""tce: turn agencies' child-exploitation exports into one Intelligence Framework dataset."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
