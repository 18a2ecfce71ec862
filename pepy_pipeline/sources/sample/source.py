"""The built-in sample source: realistic, deterministic fake PyPI downloads, fast enough to
benchmark the loader.

Every key column is sampled as a small integer code, the codes are packed into one int64 per row,
and duplicates are merged with ``np.unique`` so each output row is one distinct grain key, sorted
by project, exactly like an aggregated BigQuery extract.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from pepy_pipeline.sources.sample.catalogue import SAMPLE_EPOCH, Catalogue, build_catalogue
from pepy_pipeline.sources.sample.shape import COUNTRIES, SMALL, Shape, shape_named
from pepy_pipeline.sources.schema import INVALID_PYTHON, MIRROR_INSTALLERS, WAREHOUSE_SCHEMA

# (value, weight); None is upstream's NULL. Countries depend on the shape (shape.py).
FILE_TYPES = (("bdist_wheel", 0.86), ("sdist", 0.135), ("bdist_egg", 0.005))
INSTALLERS = (
    ("pip", 0.58), ("uv", 0.14), ("poetry", 0.05), ("requests", 0.04), ("bandersnatch", 0.03),
    ("Browser", 0.02), ("Artifactory", 0.02), ("pdm", 0.01), ("conda", 0.01), ("Nexus", 0.01),
    ("pex", 0.005), ("devpi", 0.005), ("z3c.pypimirror", 0.002), ("setuptools", 0.003),
    (None, 0.025),
)
PYTHON_MINORS = (
    ("3.12", 0.24), ("3.11", 0.2), ("3.10", 0.15), ("3.13", 0.12), ("3.9", 0.1), ("3.8", 0.06),
    ("3.14", 0.03), ("3.7", 0.03), ("3.6", 0.01), ("2.7", 0.015), (INVALID_PYTHON, 0.005),
    (None, 0.04),
)
SYSTEMS = (
    ("Linux", 0.78), ("Windows", 0.09), ("Darwin", 0.08), ("FreeBSD", 0.004), ("AIX", 0.001),
    ("OpenBSD", 0.001), (None, 0.044),
)
CI_SHARE = 0.35
#: Rows generated per chunk (before merging duplicates); bounds the source's memory.
_CHUNK_ROWS = 500_000


def _fields(countries) -> tuple[tuple[str, int], ...]:
    """Bit layout of a packed grain key, low bits first: ci, system, python, installer, country,
    file type, then the global version index (which also determines the project)."""
    def bits(choices) -> int:
        return max(1, (len(choices) - 1).bit_length())
    return (("ci", 1), ("system", bits(SYSTEMS)), ("python", bits(PYTHON_MINORS)),
            ("installer", bits(INSTALLERS)), ("country", bits(countries)), ("file", bits(FILE_TYPES)))


@dataclass(frozen=True)
class DayPlan:
    catalogue: Catalogue
    released: np.ndarray          # versions released by the day, per project
    rows_per_project: np.ndarray  # rows generated per project (before duplicates merge)
    per_row: np.ndarray           # mean downloads per generated row, per project
    chunks: list[tuple[int, int]]  # [first, last) project ranges, one seeded generator each


class SampleSource:
    """Zipf-popular fake projects whose versions, installers and platforms look like PyPI's.

    ``rows_per_day`` is the target number of grain rows per weekday at the shape's reference
    date (weekends are lighter, volume grows over time); ``downloads_per_row`` sets the average
    count per row. ``scale`` picks the shape ("small" or "real", see shape.py), which also gives
    the defaults of every argument left as None.
    """

    name = "sample"

    def __init__(
        self,
        projects: int | None = None,
        rows_per_day: int | None = None,
        downloads_per_row: int | None = None,
        seed: int = 7,
        batch_rows: int = 250_000,
        scale: str | Shape = SMALL,
        late_share: float = 0.0,
        late_hours: float = 30.0,
        clock=None,
    ) -> None:
        shape = shape_named(scale) if isinstance(scale, str) else scale
        self.shape = shape
        self.projects = shape.projects if projects is None else projects
        self.rows_per_day = shape.rows_per_day if rows_per_day is None else rows_per_day
        self.downloads_per_row = shape.downloads_per_row if downloads_per_row is None else downloads_per_row
        if self.rows_per_day < 1 or batch_rows < 1 or self.downloads_per_row < 1:
            raise ValueError("rows_per_day, downloads_per_row and batch_rows must be positive")
        self.seed = seed
        self.batch_rows = batch_rows
        #: Like upstream, a day read before ``late_hours`` after its end lacks ``late_share`` of its
        #: rows (they arrive late); ``clock`` tells the time (tests move it).
        self.late_share = late_share
        self.late_hours = late_hours
        self.clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))

    def describe(self) -> dict[str, str]:
        return {
            "source": self.name,
            "scale": self.shape.name,
            "projects": str(self.projects),
            "rows_per_day": str(self.rows_per_day),
            "seed": str(self.seed),
        }

    def day_fingerprints(self, days: list[dt.date]) -> dict[dt.date, str]:
        """What each day looks like upstream now: changes when late rows arrive (see
        ``late_share``), like BigQuery's partition row counts."""
        now = self.clock()
        return {day: f"{self.rows_per_day}:{self.seed}:{'complete' if self._complete(day, now) else 'partial'}"
                for day in days}

    def _complete(self, day: dt.date, now: dt.datetime) -> bool:
        end_of_day = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
        return self.late_share == 0 or now >= end_of_day + dt.timedelta(hours=self.late_hours)

    def opening_balance(self, stops_before: dt.date) -> Iterator[pa.RecordBatch]:
        """Each project's downloads before ``stops_before``: the sample's equivalent of the
        all-history BigQuery count, deterministic and cheap (popularity x the days each project
        has existed x the day's average volume)."""
        cat = build_catalogue(self.projects, self.seed, self.shape)
        first_release = cat.version_days[cat.version_offsets[:-1]]
        days = np.maximum(0, (stops_before - SAMPLE_EPOCH).days - first_release)
        per_day = self.rows_per_day * self.downloads_per_row * 0.6 * cat.weights
        downloads = np.floor(per_day * days).astype(np.int64)
        keep = downloads > 0
        mirrors = sum(w for name, w in INSTALLERS if name in MIRROR_INSTALLERS) / sum(w for _, w in INSTALLERS)
        yield pa.RecordBatch.from_pydict({
            "project": cat.names.filter(pa.array(keep)),
            "downloads": pa.array(downloads[keep]),
            "downloads_without_mirrors": pa.array(np.floor(downloads[keep] * (1 - mirrors)).astype(np.int64)),
        })

    def read_day(self, day: dt.date) -> Iterator[pa.RecordBatch]:
        """Streams the day chunk by chunk: memory stays bounded however many rows a day has."""
        partial = not self._complete(day, self.clock())
        for index, chunk in enumerate(self._chunks(day)):
            if partial:  # the late rows have not arrived yet: a fixed share of rows is missing
                arrived = np.random.default_rng([self.seed, day.toordinal(), index, 1]).random(chunk.num_rows)
                chunk = chunk.filter(pa.array(arrived >= self.late_share))
            yield from chunk.to_batches(max_chunksize=self.batch_rows)

    def day_table(self, day: dt.date) -> pa.Table:
        """The whole day as one table (tests, and the benchmark's Parquet ceiling)."""
        return pa.concat_tables(list(self._chunks(day)))

    def plan(self, day: dt.date) -> DayPlan:
        """How many rows each project gets on ``day`` and how they are cut into chunks (cheap:
        no row is generated). Real-size estimates and tests read it without generating the day."""
        shape = self.shape
        cat = build_catalogue(self.projects, self.seed, shape)
        rng = np.random.default_rng([self.seed, day.toordinal()])
        day_number = (day - SAMPLE_EPOCH).days

        released = np.add.reduceat(cat.version_days <= day_number, cat.version_offsets[:-1])
        alive = released > 0
        # Weekends are lighter; volume grows over time (shape.volume).
        target_rows = self.rows_per_day * shape.volume(day)
        # Rows spread less steeply than downloads: a big project has many distinct combinations.
        row_share = np.where(alive, cat.row_weights, 0.0)
        row_share /= row_share.sum()
        expected = target_rows * row_share
        if shape.popularity == "capped":  # the tail: some projects have no download that day
            expected = expected * shape.rows_generated_per_row  # duplicates merge away
            rows_per_project = rng.poisson(expected).astype(np.int64)
        else:
            rows_per_project = np.floor(expected + rng.random(len(cat))).astype(np.int64)
        # Downloads per row: the project's share of the day's volume, spread log-normally.
        per_row = target_rows * self.downloads_per_row * cat.weights / np.maximum(expected, 1e-9)

        # Fixed project ranges of about _CHUNK_ROWS rows each, each with its own seeded generator:
        # the rows do not depend on batch_rows, and never more than a chunk is in memory.
        bounds = np.searchsorted(np.cumsum(rows_per_project), np.arange(_CHUNK_ROWS, rows_per_project.sum(), _CHUNK_ROWS))
        edges = [0, *sorted(set((bounds + 1).tolist())), len(cat)]
        return DayPlan(cat, released, rows_per_project, per_row, list(zip(edges[:-1], edges[1:])))

    def _chunks(self, day: dt.date, picked: Collection[int] | None = None) -> Iterator[pa.Table]:
        """The day's chunks; ``picked`` selects some by index (a sample of a real-size day:
        chunks are independent, so a picked chunk is exactly as in the full day)."""
        plan = self.plan(day)
        for index in range(len(plan.chunks)):
            if picked is None or index in picked:
                table = self.chunk_at(plan, day, index)
                if table is not None:
                    yield table

    def chunk_at(self, plan: DayPlan, day: dt.date, index: int) -> pa.Table | None:
        """Chunk ``index`` of the day planned by ``plan`` (None if it has no rows)."""
        first, last = plan.chunks[index]
        if first >= last or plan.rows_per_project[first:last].sum() == 0:
            return None
        chunk_rng = np.random.default_rng([self.seed, day.toordinal(), index])
        project = np.repeat(np.arange(first, last), plan.rows_per_project[first:last])
        return self._chunk(chunk_rng, plan.catalogue, day, project, plan.released, plan.per_row)

    def _chunk(self, rng, cat, day, project, released, per_row) -> pa.Table:
        n = len(project)
        # Newer versions take over: an age rank drawn geometrically from the newest release.
        age = rng.geometric(0.42, n) - 1
        if self.shape.old_version_share:  # old pinned versions (and, in the tail, bots): any version
            shape = self.shape
            rows = np.bincount(project - project[0])[project - project[0]]
            share = shape.old_version_share + (shape.tail_old_version_share - shape.old_version_share) / (1 + rows / 50)
            old = rng.random(n) < share
            age[old] = np.floor(rng.random(int(old.sum())) * released[project[old]]).astype(age.dtype)
        age = np.minimum(age, released[project] - 1)
        version = cat.version_offsets[project] + released[project] - 1 - age

        details_missing = rng.random(n) < 0.02
        installer = _draw(rng, INSTALLERS, n)
        python = _draw(rng, PYTHON_MINORS, n)
        system = _draw(rng, SYSTEMS, n)
        ci = (rng.random(n) < CI_SHARE) & ~details_missing
        installer[details_missing] = len(INSTALLERS) - 1
        python[details_missing] = len(PYTHON_MINORS) - 1
        system[details_missing] = len(SYSTEMS) - 1
        codes = {
            "ci": ci.astype(np.int64),
            "system": system,
            "python": python,
            "installer": installer,
            "country": _draw(rng, self.shape.countries, n),
            "file": _draw(rng, FILE_TYPES, n),
        }
        key = version.astype(np.int64)
        for field, bits in reversed(_fields(self.shape.countries)):
            key = (key << bits) | codes[field]
        downloads = np.maximum(1, (per_row[project] * rng.lognormal(-0.5, 1.0, n))).astype(np.int64)

        keys, inverse = np.unique(key, return_inverse=True)
        summed = np.bincount(inverse, weights=downloads, minlength=len(keys)).astype(np.int64)
        return _decode(keys, summed, day, cat, self.shape.countries)


_TABLE_SIZE = 4096


def _draw(rng: np.random.Generator, choices, n: int) -> np.ndarray:
    """n codes drawn with the choices' weights, via a 4096-entry lookup table (resolution
    1/4096; several times faster than searchsorted on the cumulative weights)."""
    return _lookup_table(tuple(w for _, w in choices))[rng.integers(0, _TABLE_SIZE, n)]


@functools.lru_cache(maxsize=32)
def _lookup_table(weights: tuple[float, ...]) -> np.ndarray:
    cumulative = np.cumsum(np.array(weights) / sum(weights))
    slots = (np.arange(_TABLE_SIZE) + 0.5) / _TABLE_SIZE
    return np.minimum(np.searchsorted(cumulative, slots, side="right"), len(weights) - 1).astype(np.int64)


def _decode(keys: np.ndarray, downloads: np.ndarray, day: dt.date, cat, countries=COUNTRIES) -> pa.Table:
    fields = {}
    rest = keys
    for field, bits in _fields(countries):
        fields[field] = rest & ((1 << bits) - 1)
        rest = rest >> bits
    version = rest
    project = cat.version_project[version]

    def labels(choices, codes) -> pa.Array:
        # Dictionary-encoded straight from the codes; None (upstream NULL) becomes a null index.
        values = pa.array([value or "" for value, _ in choices], pa.string())
        nulls = [i for i, (value, _) in enumerate(choices) if value is None]
        indices = pa.array(codes.astype(np.int32), mask=np.isin(codes, nulls) if nulls else None)
        return pa.DictionaryArray.from_arrays(indices, values)

    columns = {
        "date": pa.array(np.full(len(keys), (day - dt.date(1970, 1, 1)).days, np.int32), pa.date32()),
        "project": cat.names.take(pa.array(project)),
        "version": cat.version_names.take(pa.array(version)),
        "file_type": labels(FILE_TYPES, fields["file"]),
        "country_code": labels(countries, fields["country"]),
        "installer": labels(INSTALLERS, fields["installer"]),
        "python_minor": labels(PYTHON_MINORS, fields["python"]),
        "system": labels(SYSTEMS, fields["system"]),
        "ci": pa.array(fields["ci"].astype(bool)),
        "downloads": pa.array(downloads, pa.int64()),
    }
    return pa.Table.from_pydict(columns, schema=WAREHOUSE_SCHEMA)
