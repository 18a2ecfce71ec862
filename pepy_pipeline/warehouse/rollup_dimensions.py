"""The dimensions of ``project_dimension_daily`` and the fixed SQL expression of each value.

Fact-level dimensions are computed from the staged facts; derived ones from a fact-level
dimension already rolled up. '' stands for upstream NULL everywhere, so a dimension whose values
tell an upstream '' from NULL is computed from the facts: pypistats counts a system named ''
as "other" and a NULL one as "null" (folded into '' by the ``system`` rollup).
"""

from __future__ import annotations

#: dimension -> value expression over the fact columns (plus ``is_mirror``).
FACT_DIMENSIONS = {
    "installer": "toString(ifNull(installer, ''))",
    "python_minor": "toString(ifNull(python_minor, ''))",
    "system": "toString(ifNull(system, ''))",
    "country": "toString(ifNull(country_code, ''))",
    "ci": "if(ci, 'true', 'false')",
    "file_type": "toString(ifNull(file_type, ''))",
    "mirror": "if(is_mirror, 'true', 'false')",
    "pypistats_system": "multiIf(system IS NULL, '', system IN ('Darwin', 'Linux', 'Windows'), system, 'other')",
}

#: dimension -> (source dimension, value expression over the source's ``value``).
DERIVED_DIMENSIONS = {
    "python_major": ("python_minor", "if(value IN ('', 'invalid'), value, splitByChar('.', value)[1])"),
}
