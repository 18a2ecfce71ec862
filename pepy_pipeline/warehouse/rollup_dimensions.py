"""The dimensions of ``project_dimension_daily`` and the fixed SQL expression of each value.

Fact-level dimensions are computed from the staged facts; derived ones from a fact-level
dimension already rolled up. '' stands for upstream NULL everywhere.
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
}

#: dimension -> (source dimension, value expression over the source's ``value``).
DERIVED_DIMENSIONS = {
    "python_major": ("python_minor", "if(value IN ('', 'invalid'), value, splitByChar('.', value)[1])"),
    "pypistats_system": ("system", "multiIf(value = '', '', value IN ('Darwin', 'Linux', 'Windows'), value, 'other')"),
}

ALL_DIMENSIONS = (*FACT_DIMENSIONS, *DERIVED_DIMENSIONS)
