"""Disclosure control for public tables: small counts suppressed, secondary suppression audited as one linear
system (no hidden count can be solved back from the cells, margins and statistics a report publishes), and no
statistic computed from a suppressed cell published.

Modules: :mod:`.system` (the linear system, its audit, secondary suppression driven by it), :mod:`.tables`
(count tables with margins, several tables together), :mod:`.render` (what a public report may show).
"""

from .render import assert_protected, is_protected, mark_safe, show
from .system import AuditResult, Derived, System, audit, intervals, protect_system, visible
from .tables import (
    MASK,
    TOTAL,
    hidden_keys,
    primary,
    protect,
    protect_counts,
    protect_many,
    secondary,
    with_totals,
)

__all__ = ["MASK", "TOTAL", "AuditResult", "Derived", "System", "assert_protected", "audit", "hidden_keys", "intervals",
           "is_protected", "mark_safe", "primary", "protect", "protect_counts", "protect_many", "protect_system",
           "secondary", "show", "visible", "with_totals"]
