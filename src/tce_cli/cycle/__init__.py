"""The quarterly cycle around validate and harmonise.

- ``acks``: acknowledgements files (``mappings/acks/<agency>.yaml``): queries an agency has
  explained, which then stop counting against it; stale entries are reported.
- ``compare``: period-over-period queries against the agency's previous quarter in the store,
  and :func:`~tce_cli.cycle.compare.period_changes` for the pack.
- ``consistency``: cross-agency conflicts (DQ20, DQ21), aggregate counts only.
- ``status``: who has submitted, resubmitted, is late or missing for a period.
- ``review``: the step validate and harmonise run after the checks (acks + comparison).

Nothing here prints; every output is aggregate except the acknowledged findings themselves,
which carry the agency's own record ids exactly as the other findings do.
"""

from __future__ import annotations

__all__ = ["acks", "compare", "consistency", "review", "status"]
