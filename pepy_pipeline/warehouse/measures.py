"""The one definition of what each rollup counts, as SQL fragments over the fact columns.

pypistats.org's rules (its ``pypistats/tasks/pypi.py``) are kept beside ours so
``/api/packages/*`` reproduces its figures while ``/v1`` keeps the saner rule:
* a non-NULL Python that does not match ``^[0-9]\\.[0-9]+`` drops the row from every pypistats
  series; at our grain that is a ``python_minor`` other than NULL and ``<digit>.<digits>``
  ('invalid' and two-digit majors included);
* its ``installer NOT IN (mirrors)`` is NULL, so false, for a NULL installer.
"""

from __future__ import annotations

from pepy_pipeline.sources.schema import MIRROR_INSTALLERS

_MIRRORS = ", ".join(f"'{name}'" for name in MIRROR_INSTALLERS)

#: Per-row flags computed once over the facts (a subquery's extra columns).
FLAGS = (
    f"ifNull(installer IN ({_MIRRORS}), 0) AS is_mirror, "
    "(python_minor IS NULL OR match(assumeNotNull(python_minor), '^[0-9]\\\\.[0-9]+$')) AS pypistats_python, "
    f"(installer IS NOT NULL AND installer NOT IN ({_MIRRORS})) AS pypistats_not_mirror"
)

#: Measure columns, in table order, and how each sums the facts.
MEASURES = {
    "downloads": "sum(downloads)",
    "downloads_without_mirrors": "sumIf(downloads, NOT is_mirror)",
    "ci_downloads": "sumIf(downloads, ci)",
    "pypistats_downloads": "sumIf(downloads, pypistats_python)",
    "pypistats_without_mirrors": "sumIf(downloads, pypistats_python AND pypistats_not_mirror)",
}

#: ``sum(...)`` of every measure over facts carrying the flags above.
FROM_FACTS = ", ".join(MEASURES.values())
#: ``sum(...)`` of every measure over an existing rollup (re-aggregation, deltas).
RESUM = ", ".join(f"sum({name})" for name in MEASURES)
#: The negated sums: the rows a replaced day takes away.
NEGATED = ", ".join(f"-sum({name})" for name in MEASURES)
