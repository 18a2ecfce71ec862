"""Small pieces of the API that need no server: the response cache's bounds, name rules."""

import pytest

from pepy_api.caching import ResponseCache
from pepy_api.names import InvalidProjectName, normalize
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
