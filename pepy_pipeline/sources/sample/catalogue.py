"""A deterministic catalogue of fake PyPI projects: names, popularity and release histories.

Seeded only by ``(projects, seed, shape)``, so every day of the sample source sees the same
projects. The small shape is built here (unchanged, so its data stays reproducible); the real
shape's vectorised builder is in ``real_catalogue.py``.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from pepy_pipeline.sources.sample.shape import SMALL, Shape

#: Real names for the head of the distribution, so the demo answers `/badge/requests`.
FAMOUS_PROJECTS = (
    "boto3", "urllib3", "botocore", "requests", "setuptools", "certifi", "charset-normalizer",
    "idna", "typing-extensions", "python-dateutil", "packaging", "s3transfer", "aiobotocore",
    "six", "numpy", "grpcio-status", "pyyaml", "s3fs", "fsspec", "pip", "cryptography",
    "pydantic", "google-api-core", "attrs", "cffi", "pycparser", "pandas", "importlib-metadata",
    "jmespath", "protobuf", "wheel", "rsa", "zipp", "click", "pyasn1", "platformdirs",
    "markupsafe", "jinja2", "pytz", "colorama", "pluggy", "pytest", "filelock", "tomli",
    "virtualenv", "awscli", "pydantic-core", "wrapt", "jsonschema", "pyjwt", "flask",
    "django", "fastapi", "sqlalchemy", "httpx", "rich", "dagster", "clickhouse-connect",
)

_STEMS = (
    "data", "json", "yaml", "http", "async", "cloud", "graph", "tensor", "flow", "cache", "auth",
    "log", "test", "mock", "config", "shell", "path", "time", "geo", "image", "text", "net",
    "sql", "stream", "queue", "task", "web", "api", "crypto", "hash", "parse", "schema", "plot",
    "stat", "math", "vector", "token", "model", "audio", "video", "file", "zip", "mail", "chat",
    "bot", "lint", "format", "doc", "sphinx", "notebook", "kernel", "pipe", "retry", "rate",
)
_PATTERNS = (
    "py{a}", "{a}{b}", "{a}-{b}", "{a}lib", "{a}-utils", "django-{a}", "flask-{a}", "types-{a}",
    "{a}-{b}-client", "pytest-{a}", "{a}kit", "{a}py", "azure-{a}-{b}", "google-cloud-{a}",
    "{a}-sdk", "{a}{b}2", "mkdocs-{a}", "{a}-tools", "sphinx-{a}", "{a}-{b}-{c}",
)

SAMPLE_EPOCH = dt.date(2012, 1, 1)


@dataclass(frozen=True)
class Catalogue:
    names: pa.Array              # project names, by popularity rank
    weights: np.ndarray          # popularity share, sums to 1 (Zipf-like)
    version_offsets: np.ndarray  # project p's versions are [offsets[p], offsets[p+1])
    version_names: pa.Array      # flattened per project, oldest first
    version_days: np.ndarray     # release day (days since SAMPLE_EPOCH), ascending per project
    version_project: np.ndarray  # the project of each flattened version
    row_weights: np.ndarray      # share of a day's rows per project (before released-ness)

    def __len__(self) -> int:
        return len(self.names)


@functools.lru_cache(maxsize=8)
def build_catalogue(projects: int, seed: int, shape: Shape = SMALL) -> Catalogue:
    """Build the catalogue of ``projects`` fake projects; cached because days share it."""
    if projects < 1:
        raise ValueError("the sample source needs at least one project")
    if shape.popularity == "capped":
        from pepy_pipeline.sources.sample.real_catalogue import build_real_catalogue

        return build_real_catalogue(projects, seed, shape)
    rng = np.random.default_rng([seed, projects, 503])
    names = _project_names(projects, rng)
    ranks = np.arange(1, projects + 1, dtype=np.float64)
    weights = ranks ** -1.1
    weights /= weights.sum()
    offsets, version_names, version_days = _release_histories(projects, rng)
    # Arrow arrays, not Python strings: compact (a few bytes per version), and `take` is cheap.
    version_project = np.repeat(np.arange(projects, dtype=np.int32), np.diff(offsets))
    return Catalogue(pa.array(names, pa.string()), weights, offsets,
                     pa.array(version_names, pa.string()), version_days, version_project, weights ** 0.55)


def _project_names(count: int, rng: np.random.Generator) -> np.ndarray:
    names: list[str] = list(FAMOUS_PROJECTS[:count])
    seen = set(names)
    while len(names) < count:
        pattern = _PATTERNS[rng.integers(len(_PATTERNS))]
        a, b, c = (_STEMS[i] for i in rng.integers(len(_STEMS), size=3))
        name = pattern.format(a=a, b=b, c=c)
        if name in seen:
            name = f"{name}-{rng.integers(2, 10_000)}"
        if name not in seen:
            seen.add(name)
            names.append(name)
    return np.array(names, dtype=object)


def _release_histories(count: int, rng: np.random.Generator):
    """Versions per project, more for popular ones, released over time, oldest first."""
    today = (dt.date(2027, 1, 1) - SAMPLE_EPOCH).days
    rank_fraction = np.arange(count) / max(count, 1)
    counts = np.clip((60 * (1 - rank_fraction) ** 8 + rng.exponential(4, count)).astype(int), 1, 80)
    # Popular projects exist from the start; the tail appears over the years.
    first_release = (rng.uniform(0, 1, count) ** 0.7 * rank_fraction ** 0.3 * today * 0.95).astype(int)
    offsets = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    version_names = np.empty(offsets[-1], dtype=object)
    version_days = np.empty(offsets[-1], dtype=np.int32)
    for p in range(count):
        n = counts[p]
        span = today - first_release[p]
        days = np.sort(first_release[p] + (rng.uniform(0, 1, n) ** 0.8 * span).astype(int))
        days[0] = first_release[p]
        version_days[offsets[p]:offsets[p + 1]] = days
        version_names[offsets[p]:offsets[p + 1]] = _version_strings(n, rng)
    return offsets, version_names, version_days


def _version_strings(n: int, rng: np.random.Generator) -> list[str]:
    major, minor, patch = int(rng.integers(0, 3)), int(rng.integers(0, 10)), 0
    out = []
    for i in range(n):
        if i:
            step = rng.random()
            if step < 0.08:
                major, minor, patch = major + 1, 0, 0
            elif step < 0.4:
                minor, patch = minor + 1, 0
            else:
                patch += 1
        if i == n - 1 and n > 3 and rng.random() < 0.1:
            out.append(f"{major}.{minor + 1}.0rc1")
        elif patch == 0 and rng.random() < 0.3:
            out.append(f"{major}.{minor}")
        else:
            out.append(f"{major}.{minor}.{patch}")
    return out
