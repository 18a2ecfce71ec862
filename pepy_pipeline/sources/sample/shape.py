"""How a sample day is shaped: the two scales of the sample source, as data.

``SMALL`` is the historical shape (demo, tests, the 300 k-project benchmarks): its numbers are
kept exactly so existing data and figures stay reproducible. ``REAL`` sizes a day like PyPI in
late 2026 (``/work/shared/spec/real-scale.md``): ~650 k active projects out of ~850 k, a long
tail of ~400 k projects with a handful of rows, ~4.5 M (project, version) pairs and ~33 M rows
on a weekday. Both go through the same generator; only these knobs differ.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

# (value, weight); None is upstream's NULL.
COUNTRIES = (
    ("US", 0.36), ("CN", 0.08), ("DE", 0.06), ("IE", 0.05), ("GB", 0.04), ("IN", 0.04),
    ("FR", 0.03), ("JP", 0.03), ("NL", 0.03), ("SG", 0.025), ("KR", 0.02), ("CA", 0.02),
    ("BR", 0.02), ("AU", 0.015), ("SE", 0.01), ("RU", 0.01), ("PL", 0.01), ("ES", 0.01),
    ("IT", 0.01), ("CH", 0.01), ("FI", 0.008), ("HK", 0.008), ("TW", 0.008), ("IL", 0.006),
    ("ZA", 0.005), ("MX", 0.005), ("VN", 0.005), ("UA", 0.005), ("NG", 0.003), ("KE", 0.002),
    (None, 0.02),
)
#: ~120 more countries for the real shape (PyPI sees ~150 a day for its top projects), sharing
#: ~3% of downloads with a decaying weight.
_MORE_COUNTRIES = (
    "AR AT BE BD BG BY CL CO CZ DK EG EE GR HR HU ID IR IS KZ LT LU LV MA MY NO NZ PE PH PK PT "
    "RO RS SA SI SK TH TN TR AE UY VE AM AZ BA BH BO BN CR CY DO DZ EC GE GH GT HN IQ JM JO KG KH "
    "KW LA LB LK MD ME MK MM MN MO MT MU MZ NA NI NP OM PA PS PY QA RW SN SV SY TJ TM TT TZ UG UZ "
    "YE ZM ZW AF AL AO BF BJ BW CD CI CM CU ET GA GN HT LY MG ML MR MW NE PG SD SL SO SS TD TG "
    "BS BZ FJ GY LI MC SM"
).split()
REAL_COUNTRIES = COUNTRIES[:-1] + tuple(
    (code, 0.03 * 0.97 ** i / sum(0.97 ** j for j in range(len(_MORE_COUNTRIES))))
    for i, code in enumerate(_MORE_COUNTRIES)
) + (COUNTRIES[-1],)


@dataclass(frozen=True)
class Shape:
    """Knobs of the sample source. Defaults of the constructor come from here."""

    name: str
    projects: int
    rows_per_day: int
    downloads_per_row: int
    countries: tuple = COUNTRIES
    #: "zipf": row share = popularity ** 0.55 (the small shape); "capped": row shares follow a
    #: power law of rank with a soft cap on the head, downloads follow rows ** downloads_exponent.
    popularity: str = "zipf"
    row_exponent: float = 1.25
    head_row_share: float = 0.015
    downloads_exponent: float = 1.15
    #: Versions per project ~ lognormal around versions_base * (1 + expected rows) ** versions_growth.
    versions_base: float = 3.0
    versions_growth: float = 0.33
    max_versions: int = 2000
    #: Share of rows on a uniformly chosen released version (old pins) rather than a recent one,
    #: for big projects; small ones tend to tail_old_version_share (mirrors and scanners fetch
    #: any version): this is what makes ~7 (project, version) pairs per active project a day.
    old_version_share: float = 0.0
    tail_old_version_share: float = 0.0
    #: Rows generated per wanted row: generated rows that repeat a grain key merge into one.
    rows_generated_per_row: float = 1.0
    weekend_factor: float = 0.62
    #: Volume doubles every growth_doubling_days (730: +41%/year; 752: +40%/year), and is 1.0
    #: on a weekday at growth_reference.
    growth_doubling_days: float = 730
    growth_reference: dt.date = dt.date(2026, 1, 1)

    def volume(self, day: dt.date) -> float:
        """Weekday/weekend shape times the growth trend (same arithmetic as the original source)."""
        growth = 2.0 ** ((day - self.growth_reference).days / self.growth_doubling_days)
        return (self.weekend_factor if day.weekday() >= 5 else 1.0) * growth


SMALL = Shape(name="small", projects=300, rows_per_day=20_000, downloads_per_row=40)
REAL = Shape(
    name="real", projects=720_000, rows_per_day=33_000_000, downloads_per_row=130,
    countries=REAL_COUNTRIES, popularity="capped", old_version_share=0.3, tail_old_version_share=0.9,
    row_exponent=1.2, head_row_share=0.005, versions_base=5.0, versions_growth=0.45, rows_generated_per_row=1.3,
    weekend_factor=0.6, growth_doubling_days=752, growth_reference=dt.date(2026, 11, 1),
)
SHAPES = {shape.name: shape for shape in (SMALL, REAL)}


def shape_named(name: str) -> Shape:
    try:
        return SHAPES[name]
    except KeyError:
        raise ValueError(f"unknown sample scale {name!r}: choose one of {', '.join(SHAPES)}") from None
