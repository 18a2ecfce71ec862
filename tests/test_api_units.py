"""Small pieces of the API that need no server: the response cache's bounds, name rules, date windows."""

import datetime as dt

import pytest

from pepy_api.caching import ResponseCache
from pepy_api.names import InvalidProjectName, normalize
from pepy_api.routers.pepy import months_before
from pepy_api.versions import sort_versions


def test_cache_is_bounded_by_entries_and_bytes_and_emptied_by_a_new_data_version():
    cache = ResponseCache(max_bytes=1000, max_entries=3)
    cache.get("v1", ("/a", b""))
    for index in range(5):
        cache.put("v1", (f"/{index}", b""), (200, [], b"x" * 10, "/r"))
    assert cache.get("v1", ("/0", b"")) is None and cache.get("v1", ("/4", b"")) is not None
    cache.put("v1", ("/big", b""), (200, [], b"x" * 900, "/r"))
    cache.put("v1", ("/big2", b""), (200, [], b"x" * 120, "/r"))
    assert cache.get("v1", ("/big", b"")) is None  # evicted to stay under 1000 bytes
    assert cache.get("v2", ("/4", b"")) is None and cache.get("v2", ("/big2", b"")) is None


@pytest.mark.parametrize("raw, expected", [("Flask_Login", "flask-login"), ("a.b-_c", "a-b-c"), ("X", "x")])
def test_pep503(raw, expected):
    assert normalize(raw) == expected


@pytest.mark.parametrize("raw", ["", "-a", "a-", "a b", "é", "x" * 513])
def test_invalid_names(raw):
    with pytest.raises(InvalidProjectName):
        normalize(raw)


def test_versions_sort_naturally_with_invalid_ones_last():
    assert sort_versions(["2.10", "2.9", "2.1", "1.0rc1", "1.0", "weird-2", "weird-10"]) == [
        "1.0rc1", "1.0", "2.1", "2.9", "2.10", "weird-2", "weird-10"]


def test_pypistats_default_range_is_180_days_even_over_long_history():
    import asyncio
    import datetime as dt

    from pepy_api.deps import pypistats_range
    from pepy_api.settings import ApiSettings
    from pepy_api.store.snapshot import Snapshot

    snap = Snapshot(token="t", database="db", last_complete_day=dt.date(2026, 11, 1),
                    first_complete_day=dt.date(2010, 1, 1))
    dates = asyncio.run(pypistats_range(snap, ApiSettings(max_range_days=400)))
    assert (dates.start, dates.end) == (dt.date(2026, 5, 6), dt.date(2026, 11, 1))
    assert (dates.end - dates.start).days + 1 == 180


def test_all_history_default_is_capped_to_the_longest_range_not_refused():
    import asyncio
    import datetime as dt

    import pytest

    from pepy_api.deps import date_range
    from pepy_api.errors import ApiError
    from pepy_api.settings import ApiSettings
    from pepy_api.store.snapshot import Snapshot

    # PyPI's log starts in 2016: a full backfill is longer than the longest range allowed.
    snap = Snapshot(token="t", database="db", last_complete_day=dt.date(2026, 11, 26),
                    first_complete_day=dt.date(2016, 1, 22))
    settings = ApiSettings(max_range_days=3660)
    dates = asyncio.run(date_range(snap, settings))
    assert dates.end == dt.date(2026, 11, 26) and (dates.end - dates.start).days + 1 == 3660
    # Shorter history: all of it.
    short = Snapshot(token="t", database="db", last_complete_day=dt.date(2026, 11, 26),
                     first_complete_day=dt.date(2025, 1, 1))
    assert asyncio.run(date_range(short, settings)).start == dt.date(2025, 1, 1)
    # Asking for more than the limit explicitly is still a 400.
    with pytest.raises(ApiError) as refused:
        asyncio.run(date_range(snap, settings, start_date=dt.date(2016, 1, 22)))
    assert refused.value.status == 400
    # A limit set far past any history ("no limit") takes all of it, without date overflow.
    assert asyncio.run(date_range(snap, ApiSettings(max_range_days=999_999))).start == dt.date(2016, 1, 22)
    # Below pypistats' 180-day default it is refused at start, not on every request.
    with pytest.raises(ValueError):
        ApiSettings(max_range_days=30)


def test_the_all_history_default_with_a_gap_and_with_only_an_end_date():
    """From the first loaded day (days before a gap included), whatever end_date is given; a
    review found end_date one day later dropping the days before the gap."""
    import asyncio

    from pepy_api.deps import date_range
    from pepy_api.settings import ApiSettings
    from pepy_api.store.snapshot import Snapshot

    settings = ApiSettings(max_range_days=180)
    day = dt.date(2026, 1, 10)
    gap = Snapshot(token="t", database="db", last_complete_day=day + dt.timedelta(days=5),
                   first_complete_day=day, first_loaded_day=day - dt.timedelta(days=5))

    def start(snap, end=None):
        return asyncio.run(date_range(snap, settings, end_date=end)).start

    assert start(gap) == start(gap, day) == start(gap, day - dt.timedelta(days=2)) == day - dt.timedelta(days=5)
    assert start(gap, day - dt.timedelta(days=9)) == day - dt.timedelta(days=9)  # nothing loaded up to it
    # The first loaded day not known (a publish from before it was recorded): as far back as allowed.
    unknown = Snapshot(token="t", database="db", last_complete_day=day + dt.timedelta(days=5), first_complete_day=day)
    assert start(unknown) == day and start(unknown, day - dt.timedelta(days=2)) == day - dt.timedelta(days=181)


def test_pepy_v2_window_at_month_edges():
    import datetime as dt

    from pepy_api.routers.pepy import v2_window

    # pepy: (last_day + 1 day - 90 days) rounded down to the first of its month.
    for last, first in [(dt.date(2026, 3, 31), dt.date(2026, 1, 1)),   # 04-01 - 90 d = 01-01
                        (dt.date(2026, 3, 30), dt.date(2025, 12, 1)),  # 03-31 - 90 d = 12-31
                        (dt.date(2026, 5, 30), dt.date(2026, 3, 1)),   # 05-31 - 90 d = 03-02
                        (dt.date(2026, 1, 1), dt.date(2025, 10, 1))]:  # 01-02 - 90 d = 10-04
        assert v2_window(last) == (first, last), last


def test_prefix_search_uses_bisection_and_ranks():
    import datetime as dt

    from pepy_api.store.snapshot import build_snapshot

    names = ["requests", "requests-oauthlib", "req", "numpy", "requests-mock", "__all__"]
    totals = [100, 30, 5, 500, 40, 675]
    columns = {"project": names, **{f"c{i}": (totals if i < 2 else [0] * 6) for i in range(9)}}
    snap = build_snapshot("t", "db", columns, None, dt.date(2026, 1, 1))
    assert snap.prefix_matches("requests", 0, 10) == (["requests", "requests-mock", "requests-oauthlib"], 3)
    assert snap.prefix_matches("req", 1, 2) == (["requests-mock", "requests-oauthlib"], 4)
    assert snap.prefix_matches("zzz", 0, 10) == ([], 0)
    assert snap.ranked[0] == "numpy" and "__all__" not in snap.ranked


def test_columnar_totals_read_like_a_dict_and_keep_every_project_apart():
    import datetime as dt

    import numpy as np

    from pepy_api.store.snapshot import Totals, build_snapshot

    names = ["zope", "__all__", "aiohttp", "numpy"]  # unsorted: build_snapshot sorts
    columns = {"project": names, **{f"c{i}": np.array([10 + i, 100 + i, 30 + i, 30 + i]) for i in range(9)}}
    snap = build_snapshot("t", "db", columns, None, dt.date(2026, 1, 1))
    assert snap.totals["numpy"] == Totals(*(30 + i for i in range(9)))
    assert snap.totals.get("__all__").total == 100 and "__all__" in snap.totals
    assert snap.totals.get("nope") is None and "nope" not in snap.totals and "numpz" not in snap.totals
    assert len(snap.totals) == 4 and len(snap.ranked) == 3
    assert list(snap.ranked) == ["aiohttp", "numpy", "zope"]  # ties by name
    assert snap.ranked[1:] == ["numpy", "zope"] and snap.ranked[-1] == "zope"
    assert snap.prefix_matches("", 0, 2) == (["aiohttp", "numpy"], 3)
    empty = build_snapshot("t", "db", {"project": [], **{f"c{i}": [] for i in range(9)}}, None, None)
    assert len(empty.totals) == 0 and list(empty.ranked) == [] and empty.prefix_matches("a", 0, 5) == ([], 0)


@pytest.mark.parametrize("name_type", ["string", "binary", "large_binary"])
def test_totals_names_arrive_as_text_even_when_the_server_sends_binary(name_type):
    import datetime as dt

    import pyarrow as pa

    from pepy_api.store.reader import totals_columns
    from pepy_api.store.snapshot import build_snapshot

    names = ["numpy", "requests"]
    raw = [n.encode() for n in names] if name_type != "string" else names
    table = pa.table({"project": pa.array(raw, type=getattr(pa, name_type)()),
                      **{f"c{i}": pa.array([5 + i, 7 + i], type=pa.int64()) for i in range(1, 10)}})
    snap = build_snapshot("t", "db", totals_columns(table), None, dt.date(2026, 1, 1))
    assert snap.totals["requests"].total == 8 and snap.prefix_matches("num", 0, 5) == (["numpy"], 1)


def test_totals_names_across_arrow_chunks_come_back_whole_and_in_order():
    """The totals arrive in several Arrow chunks; the names are joined without losing or repeating one."""
    import pyarrow as pa

    from pepy_api.store.reader import totals_columns

    names = [f"p{i:07d}" for i in range(50_007)]
    cut = 20_003
    table = pa.table({"project": pa.chunked_array([pa.array(names[:cut]), pa.array(names[cut:])]),
                      "c1": pa.array(range(len(names)), type=pa.int64())})
    columns = totals_columns(table)
    assert columns["project"].to_pylist() == names and columns["c1"].tolist() == list(range(len(names)))


def test_a_snapshot_is_built_without_a_python_pass_over_the_names():
    """A swap must not loop over 720 k projects in Python: turning every name into a str and
    checking the order in Python held the GIL for every request thread to wait on. The names stay
    one Arrow array; building a snapshot of 50 k projects with 2 kB names (100 MB as Python str,
    the Arrow buffer itself not traced) allocates a few MB of Python memory at its peak: the
    bisection's sample (one str per 64 names) and the counts."""
    import datetime as dt
    import tracemalloc

    import pyarrow as pa

    from pepy_api.store.reader import totals_columns
    from pepy_api.store.snapshot import build_snapshot

    count = 50_000
    table = pa.table({"project": pa.array([f"p{i:07d}" + "x" * 2000 for i in range(count)] + ["__all__"]),
                      **{f"c{i}": pa.array(list(range(count)) + [count], type=pa.int64()) for i in range(1, 10)}})
    tracemalloc.start()
    try:
        snap = build_snapshot("t", "db", totals_columns(table), None, dt.date(2026, 1, 1))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20, peak
    assert len(snap.totals) == count + 1 and snap.totals["p0000042" + "x" * 2000].total == 42
    assert snap.totals["__all__"].total == count


def test_names_sort_and_bisect_in_the_same_order_beyond_ascii():
    """Arrow sorts strings by UTF-8 bytes; bisection compares Python str: the two orders agree."""
    import datetime as dt

    from pepy_api.store.snapshot import build_snapshot

    names = ["zope", "éclair", "a\u00ffb", "a\U0001f600", "aé", "ab", "__all__", "Z"]
    columns = {"project": names, **{f"c{i}": list(range(1, 9)) for i in range(9)}}
    snap = build_snapshot("t", "db", columns, None, dt.date(2026, 1, 1))
    real = sorted(n for n in names if n != "__all__")
    assert list(snap.totals.names) == real
    assert all(snap.totals[n].total == names.index(n) + 1 for n in real)
    assert snap.prefix_matches("a", 0, 10)[1] == 4 and "a\U0001f600" in snap.prefix_matches("a", 0, 10)[0]


@pytest.mark.parametrize("size", [0, 1, 63, 64, 65, 128, 1000])
def test_sorted_names_bisect_like_a_list(size):
    import bisect
    import random

    import pyarrow as pa

    from pepy_api.store.snapshot import SortedNames

    rng = random.Random(size)
    names = sorted({"".join(rng.choices("abc-", k=rng.randint(1, 6))) for _ in range(size * 3)})[:size]
    sorted_names = SortedNames(pa.array(names, pa.string()))
    probes = names + ["", "0", "zzzz", "a", "b-", "c\U0010ffff"] + [n + "a" for n in names[::7]]
    for name in probes:
        for lo in {0, 1, size // 2, max(size - 1, 0), size} - ({1} if size < 1 else set()):
            assert sorted_names.bisect_left(name, lo) == bisect.bisect_left(names, name, lo), (name, lo)


def test_a_pro_time_range_starts_on_the_same_day_of_an_earlier_month_or_its_last():
    assert months_before(dt.date(2026, 1, 31), 4) == dt.date(2025, 9, 30)
    assert months_before(dt.date(2026, 3, 31), 1) == dt.date(2026, 2, 28)
    assert months_before(dt.date(2024, 3, 30), 1) == dt.date(2024, 2, 29)
    assert months_before(dt.date(2026, 5, 15), 4) == dt.date(2026, 1, 15)
    assert months_before(dt.date(2026, 2, 28), 12) == dt.date(2025, 2, 28)
