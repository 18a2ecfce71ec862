"""Hardening pieces that need no server: ETag comparison, CSV and SVG neutralisation, bounded
rate-limit memory, engine-directory leftovers, the data version's age."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import xml.etree.ElementTree as ET

import pytest

from pepy_api.access import FixedWindow, is_public
from pepy_api.badges import colour_or_default, render_badge
from pepy_api.caching import etag_matches, gzip_etag
from pepy_api.engine_dirs import OWNER_FILE, new_engine_dir, remove_leftovers
from pepy_api.names import InvalidProjectName, normalize
from pepy_api.observe import built_at
from pepy_api.responses import csv_response
from tests.support.processes import unused_pid


@pytest.mark.parametrize("header, matches", [
    ('"abc"', True), ('W/"abc"', True), ('"x", W/"abc"', True), ("*", True), ('"abd"', False), ("", False),
])
def test_if_none_match_uses_weak_comparison(header, matches):
    assert etag_matches(header, '"abc"') is matches


def test_the_gzip_form_of_an_etag_is_its_own_strong_tag():
    assert gzip_etag('"abc"') == '"abc-gzip"' and gzip_etag('"abc-gzip"') == '"abc-gzip"'
    assert not etag_matches('"abc-gzip"', '"abc"') and not etag_matches('"abc"', '"abc-gzip"')


def test_csv_cells_cannot_become_formulas():
    body = csv_response(["version", "downloads"], [
        ("=HYPERLINK(\"http://evil\")", 1), ("+cmd|' /C calc'!A0", 2), ("-2+3", 3), ("@SUM(A1)", 4),
        ("\tx", 5), ("\rx", 6), ("1.0", 7)], "x.csv").body.decode()
    cells = [row[0] for row in csv.reader(io.StringIO(body, newline=""))][1:]
    assert cells == ["'=HYPERLINK(\"http://evil\")", "'+cmd|' /C calc'!A0", "'-2+3", "'@SUM(A1)", "'\tx", "'\rx",
                     "1.0"]


@pytest.mark.parametrize("text", ["a\x00b", "\x1b[31mred", "tab\there", "line\nbreak", "\x7f\x85", "\ufffe"])
def test_badges_stay_valid_xml_whatever_the_text(text):
    ET.fromstring(render_badge(text, "12k"))


def test_bad_colours_fall_back_to_the_default():
    assert colour_or_default('red"><script>', "green") == "#97ca00"
    assert colour_or_default("RED", "green") == "#e05d44"


@pytest.mark.parametrize("name", ["\u017fetuptools", "flas\u212a", "caf\u00e9", "x\u0000y"])
def test_non_ascii_names_are_invalid_and_not_repeated(name):
    with pytest.raises(InvalidProjectName) as error:
        normalize(name)
    assert name not in str(error.value)


def test_rate_limit_memory_is_bounded_and_forgets_past_windows():
    window = FixedWindow(limit=2, max_clients=100)
    for index in range(10_000):
        window.take(f"ip:10.0.{index // 256}.{index % 256}", now=60.0)
    assert len(window) <= 101  # 100 clients and one shared overflow bucket
    assert window.take("ip:new", now=60.0) == (False, 0)  # the overflow bucket is used up
    assert window.take("ip:new", now=120.0) == (True, 1) and len(window) == 1


def test_shields_endpoint_and_badges_are_public():
    assert is_public("/v1/projects/requests/shields") and is_public("/badge/requests")
    assert not is_public("/v1/projects/requests") and not is_public("/api/v2/projects/requests")
    # Only the shields route itself: not the summary of a project called "shields", nor deeper paths.
    assert is_public("/v1/projects/shields/shields")
    for path in ("/v1/projects/shields", "/v1/projects//shields", "/v1/projects/a/b/shields",
                 "/v1/projects/a/shields/x", "/v2/projects/a/shields"):
        assert not is_public(path), path


def test_data_version_age_is_read_from_generation_names_and_server_tokens():
    assert built_at("g20261125T043512_ab12cd") == dt.datetime(2026, 11, 25, 4, 35, 12, tzinfo=dt.timezone.utc)
    assert built_at("2026-11-25 04:35:12-300-12345") == dt.datetime(2026, 11, 25, 4, 35, 12, tzinfo=dt.timezone.utc)
    assert built_at("empty") is None


def test_leftover_engine_directories_of_dead_processes_are_removed(tmp_path):
    leftover = tmp_path / "pepy-api-engine-crashed"
    leftover.mkdir()
    (leftover / OWNER_FILE).write_text(str(unused_pid()))
    (leftover / "data").mkdir()
    alive = tmp_path / "pepy-api-engine-running"
    alive.mkdir()
    (alive / OWNER_FILE).write_text(str(os.getppid()))
    unowned = tmp_path / "pepy-api-engine-new"
    unowned.mkdir()
    mine = new_engine_dir(tmp_path)
    assert not leftover.exists() and alive.exists() and unowned.exists()
    assert (mine / OWNER_FILE).read_text() == str(os.getpid())
    assert remove_leftovers(tmp_path) == []  # its own directory is never a leftover
