"""The catalogue of the real-size sample shape, built with whole-array operations.

850 k projects and ~5 M versions: the small shape's per-project Python loop would take minutes
here, so names, release days and version strings are drawn for all projects at once (a few
seconds, once per process). Popularity is set per *row* rather than per download, because rows
are what size a day: a soft-capped power law of rank gives a head of ~0.5 M rows per day for
the top project over hundreds of versions, and a long tail of projects with a handful of rows
(several of them not downloaded at all on a given day).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pepy_pipeline.sources.sample.catalogue import (
    _PATTERNS, _STEMS, FAMOUS_PROJECTS, SAMPLE_EPOCH, Catalogue,
)
from pepy_pipeline.sources.sample.shape import Shape


def build_real_catalogue(projects: int, seed: int, shape: Shape) -> Catalogue:
    rng = np.random.default_rng([seed, projects, 504])
    rows = row_shares(projects, shape.row_exponent, shape.head_row_share)
    weights = rows ** shape.downloads_exponent
    weights /= weights.sum()
    names = _names(projects, rng)
    # Versions grow with the project's rows on a day of the shape's size, per project (so a
    # reduced catalogue keeps the ratio), from a handful in the tail to hundreds at the head.
    expected_rows = rows * shape.rows_per_day * projects / shape.projects
    median = shape.versions_base * (1 + expected_rows) ** shape.versions_growth
    counts = np.clip(np.ceil(median * rng.lognormal(0, 0.7, projects)), 1, shape.max_versions).astype(np.int64)
    offsets = np.zeros(projects + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    version_project = np.repeat(np.arange(projects, dtype=np.int32), counts)
    days = _release_days(rng, offsets, version_project, projects)
    catalogue = Catalogue(pa.array(names, pa.string()), weights, offsets,
                          _version_names(rng, offsets, version_project), days, version_project, rows)
    # Arrow's allocator keeps the freed temporaries (~0.6 GB here) unless asked to give them back.
    pa.default_memory_pool().release_unused()
    return catalogue


def row_shares(projects: int, exponent: float, head_share: float) -> np.ndarray:
    """Shares of a day's rows by rank: ``A k^-a / (1 + A k^-a / head_share)``, summing to 1.

    The soft cap keeps the top project near ``head_share`` (a project has only so many distinct
    combinations of version, country, installer, ...), pushing rows into the middle ranks.
    """
    base = np.arange(1, projects + 1, dtype=np.float64) ** -exponent
    low, high = -30.0, 30.0  # bisection on log A: the total is increasing in A
    for _ in range(80):
        middle = (low + high) / 2
        x = np.exp(middle) * base
        if (x / (1 + x / head_share)).sum() > 1:
            high = middle
        else:
            low = middle
    x = np.exp(low) * base
    shares = x / (1 + x / head_share)
    return shares / shares.sum()


def _names(count: int, rng: np.random.Generator) -> list[str]:
    famous = list(FAMOUS_PROJECTS[:count])
    extra = count - len(famous)
    pattern = rng.integers(len(_PATTERNS), size=extra)
    stems = rng.integers(len(_STEMS), size=(3, extra))
    seen = set(famous)
    names = list(famous)
    for rank, (p, a, b, c) in enumerate(zip(pattern.tolist(), *(s.tolist() for s in stems)), start=len(famous)):
        name = _PATTERNS[p].format(a=_STEMS[a], b=_STEMS[b], c=_STEMS[c])
        if name in seen:  # '-<rank>' never comes out of a pattern: unique, still PEP 503-normal
            name = f"{name}-{rank}"
        seen.add(name)
        names.append(name)
    return names


def _release_days(rng, offsets, version_project, projects: int) -> np.ndarray:
    """Release day of each version, ascending per project; the first at the project's start."""
    today = (dt.date(2027, 1, 1) - SAMPLE_EPOCH).days
    rank_fraction = np.arange(projects) / projects
    first = (rng.uniform(0, 1, projects) ** 0.7 * rank_fraction ** 0.3 * today * 0.95).astype(np.int64)
    span = today - first
    days = first[version_project] + (rng.random(len(version_project), dtype=np.float32) ** 0.8
                                     * span[version_project]).astype(np.int64)
    days[offsets[:-1]] = first
    # Sort within each project (projects stay in order): one int64 sort, ~2x faster than lexsort.
    key = (version_project.astype(np.int64) << 32) | days
    key.sort()
    return (key & 0xFFFFFFFF).astype(np.int32)


def _segment_cumsum(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Inclusive cumulative sum of 0/1 ``values`` restarting wherever ``starts`` is true (int32:
    these arrays have one entry per version of the catalogue, ~10 M)."""
    total = np.cumsum(values, dtype=np.int32)
    first = np.maximum.accumulate(np.where(starts, np.arange(len(values), dtype=np.int32), np.int32(0)))
    return total - total[first] + values[first]


def _numerals(values: np.ndarray) -> pa.Array:
    """Small non-negative integers as strings, by lookup (Arrow's int->string cast is ~20x slower)."""
    return pa.array([str(i) for i in range(int(values.max()) + 1)], pa.string()).take(pa.array(values))


def _version_names(rng, offsets, version_project) -> pa.Array:
    """major.minor[.patch] per version, each step bumping one part (so names are unique per project)."""
    n = len(version_project)
    first = np.zeros(n, dtype=bool)
    first[offsets[:-1]] = True
    step = rng.random(n, dtype=np.float32)
    major_bump = ~first & (step < 0.08)
    minor_bump = ~first & (step >= 0.08) & (step < 0.4)
    patch_bump = ~first & (step >= 0.4)
    del step
    projects = len(offsets) - 1
    bumps = _segment_cumsum(major_bump.view(np.int8), first)
    major = rng.integers(0, 3, projects, dtype=np.int32)[version_project] + bumps
    minor = (np.where(bumps == 0, rng.integers(0, 10, projects, dtype=np.int32)[version_project], np.int32(0))
             + _segment_cumsum(minor_bump.view(np.int8), first | major_bump))
    del bumps
    patch = _segment_cumsum(patch_bump.view(np.int8), first | major_bump | minor_bump)
    del major_bump, minor_bump, patch_bump
    text = [_numerals(x) for x in (major, minor, patch)]
    short = (patch == 0) & (rng.random(n) < 0.3)
    names = pc.if_else(pa.array(short), pc.binary_join_element_wise(text[0], text[1], "."),
                       pc.binary_join_element_wise(*text, "."))
    last = np.zeros(n, dtype=bool)
    last[offsets[1:] - 1] = np.diff(offsets) > 3
    release_candidate = last & (rng.random(n) < 0.1)
    candidate = pc.binary_join_element_wise(text[0], _numerals(minor + 1), "0rc1", ".")
    return pc.if_else(pa.array(release_candidate), candidate, names)
