"""Hardening of the read API over real HTTP (uvicorn in a subprocess): HEAD, weak ETags, gzip,
access log, metrics, rate limits and keys, bounded headers, and no reflected or unsafe output."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import re
import socket
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest

from pepy_api import caching
from tests.support import api_data
from tests.support.api_data import D1, D4
from tests.support.processes import start_api, stop

FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3"]
EVIL_ROWS = {D1: [{"project": "evil", "version": FORMULAS[0], "downloads": 5, "installer": FORMULAS[1]},
                  {"project": "evil", "version": FORMULAS[2], "downloads": 4, "installer": FORMULAS[3]}]}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    home = tmp_path_factory.mktemp("hardening_home")
    api_data.build(home, with_sample=False, extra=EVIL_ROWS)
    log = home / "api.log"
    process, base = start_api(home, log)
    with httpx.Client(base_url=base, timeout=10) as http:
        yield http, log, base
    stop(process)
    assert "Traceback" not in log.read_text()


@pytest.fixture(scope="module")
def api(served):
    return served[0]


def example_paths(spec: dict) -> list[str]:
    """Every GET route of the OpenAPI document with real values in its path."""
    values = {"project": "pepy", "package": "pepy", "period": "week"}
    return [re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path) for path in spec["paths"]]


def test_head_answers_every_get_route_on_a_miss_and_a_hit(api):
    paths = example_paths(api.get("/openapi.json").json())
    assert len(paths) >= 18
    for path in paths:
        for attempt in ("miss", "hit"):
            head = api.head(path)
            assert head.status_code == 200, (path, attempt, head.status_code)
            assert head.content == b""
        get = api.get(path)
        assert head.headers["content-type"] == get.headers["content-type"]
        assert head.headers.get("etag") == get.headers.get("etag")


def test_if_none_match_compares_weakly(api):
    etag = api.get("/api/v2/projects/pepy").headers["etag"]
    assert api.get("/api/v2/projects/pepy", headers={"If-None-Match": f"W/{etag}"}).status_code == 304
    assert api.get("/api/v2/projects/pepy", headers={"If-None-Match": f'"nope", W/{etag}'}).status_code == 304
    assert api.get("/api/v2/projects/pepy", headers={"If-None-Match": 'W/"nope"'}).status_code == 200


def test_the_etag_changes_with_the_code_that_renders_answers(tmp_path):
    """Found by an upgrade probe: the ETag held the package version, which no release changed, so
    a body a release corrected kept its ETag and a client's stale copy revalidated as a 304."""
    import shutil

    copies = [Path(shutil.copytree(package, tmp_path / package.name)) for package in caching.RENDERING_PACKAGES]
    assert caching.code_fingerprint(copies) == caching.code_fingerprint()
    for changed in (copies[0] / "routers" / "stats.py", copies[1] / "totals.py"):
        original = changed.read_text()
        changed.write_text(original + "\n# a change\n")
        assert caching.code_fingerprint(copies) != caching.code_fingerprint()
        changed.write_text(original)
    # The libraries that write bodies count too (a new pycountry may name a country otherwise).
    assert all(lib in caching.RENDER_VERSION for lib in ("orjson", "pycountry"))


def test_the_etag_changes_with_what_renders_the_body(tmp_path, monkeypatch):
    """Found by a probe: a shorter PEPY_MAX_RANGE_DAYS changes the all-history default's days, but
    the ETag stayed, so a client's body from before the change revalidated as a 304. The code's
    digest and the libraries' versions must reach the served ETag too (found in review: a test of
    the digest function alone passed with the middleware ignoring it)."""
    from fastapi.testclient import TestClient

    from pepy_api.main import create_app
    from pepy_api.settings import ApiSettings
    from pepy_api.store.reader import FrozenGenerationReader

    api_data.build(tmp_path, with_sample=False)

    def etag(render_version: str = caching.RENDER_VERSION, **settings) -> str:
        monkeypatch.setattr(caching, "RENDER_VERSION", render_version)
        reader = FrozenGenerationReader(tmp_path / "warehouse", refresh_seconds=3600)
        try:
            with TestClient(create_app(ApiSettings(home=tmp_path, **settings), reader=reader)) as http:
                answer = http.get("/api/v2/projects/pepy", headers={"Accept-Encoding": "identity"})
                assert answer.status_code == 200
                return answer.headers["etag"]
        finally:
            reader.close()

    same = etag()
    assert etag() == same  # stable for the same code, settings and data
    assert etag(max_range_days=180) != same
    assert etag(gzip_level=3) != same  # the gzip form's bytes change with it
    assert etag(caching.RENDER_VERSION + "another release") != same


def test_large_bodies_are_gzipped_and_the_cache_keeps_them_plain(api):
    plain = api.get("/openapi.json", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and len(plain.content) > 1400
    for attempt in ("first", "cached"):
        zipped = api.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
        assert zipped.headers["content-encoding"] == "gzip", attempt
        assert int(zipped.headers["content-length"]) < len(plain.content) / 2
        assert zipped.content == plain.content  # httpx decompresses
    assert api.get("/openapi.json", headers={"Accept-Encoding": "identity"}).content == plain.content
    small = api.get("/health-check", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers
    # Compressed by ISA-L at its level 1 (the default): its header's XFL is 0 there, where zlib's
    # level 1 writes 4 ("fastest").
    with api.stream("GET", "/openapi.json", headers={"Accept-Encoding": "gzip"}) as raw:
        header = b"".join(raw.iter_raw())[:10]
    assert header[:2] == b"\x1f\x8b" and header[8] == 0


def test_the_gzip_level_follows_its_setting(served):
    home = served[1].parent
    process, base = start_api(home, home / "api_gzip0.log", {"PEPY_GZIP_LEVEL": "0"})
    try:
        with httpx.Client(base_url=base, timeout=10) as http, \
                http.stream("GET", "/openapi.json", headers={"Accept-Encoding": "gzip"}) as raw:
            header = b"".join(raw.iter_raw())[:10]
    finally:
        stop(process)
    assert header[:2] == b"\x1f\x8b" and header[8] == 4  # XFL 4, "fastest": ISA-L's level 0 only


def test_every_request_is_one_access_log_line(served):
    api, log, _ = served
    marker = f"/api/projects/pepy?probe={uuid.uuid4().hex}"
    api.get(marker)
    api.get(marker)
    api.get("/api/v2/projects/nosuch-project-" + uuid.uuid4().hex[:6])
    time.sleep(0.3)
    lines = [line for line in log.read_text().splitlines() if marker in line]
    assert len(lines) == 2, lines
    assert re.search(r"GET /api/projects/pepy\?probe=\w+ 200 \d+\.\dms miss$", lines[0]), lines[0]
    assert re.search(r" 200 \d+\.\dms hit$", lines[1]), lines[1]
    assert re.search(r"GET /api/v2/projects/nosuch-project-\w+ 404 \d+\.\dms miss", log.read_text())


def test_prometheus_metrics(api):
    api.get("/badge/pepy")
    api.get("/badge/pepy")
    api.get("/api/packages/pepy/recent")
    response = api.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert re.search(r'pepy_http_requests_total\{method="GET",route="/badge/\{project\}",status="200"\} [1-9]', text)
    # Any bucket: the test's first request may take longer than the smallest (no timing here).
    assert re.search(r'pepy_http_request_duration_seconds_bucket\{le="\+Inf",method="GET",'
                     r'route="/api/packages/\{package\}/recent",status="200"\} [1-9]', text)
    assert re.search(r'pepy_http_request_duration_seconds_bucket\{le="0.005",method="GET",'
                     r'route="/api/packages/\{package\}/recent",status="200"\} \d', text)
    assert re.search(r'pepy_response_cache_total\{result="hit"\} [1-9]', text)
    assert re.search(r'pepy_response_cache_total\{result="miss"\} [1-9]', text)
    midnight = dt.datetime.combine(D4, dt.time(), dt.timezone.utc).timestamp()
    assert f"pepy_data_last_complete_day_timestamp_seconds {midnight:.1f}" in text or \
        f"pepy_data_last_complete_day_timestamp_seconds {midnight:e}" in text
    assert re.search(r'pepy_data_version_info\{version="g\d{8}T\d{6}_\w+"\} 1', text)
    age = float(re.search(r"^pepy_data_generation_age_seconds (\S+)$", text, re.MULTILINE).group(1))
    assert 0 <= age < 3600
    assert api.head("/metrics").status_code == 200


def test_the_shipped_alert_rules_read_metrics_the_api_serves_at_the_freshness_deadline(api):
    """An alert outside Dagster (found by an operations probe: a daemon that is down alerts no one)."""
    import yaml

    from pepy_pipeline.freshness import DEADLINE

    rules = yaml.safe_load((Path(__file__).parents[1] / "deploy/prometheus-alerts.yml").read_text())
    (stale,) = [r for g in rules["groups"] for r in g["rules"] if r["alert"] == "PepyServesStaleData"]
    metric = re.search(r"(pepy_\w+)", stale["expr"]).group(1)
    assert re.search(rf"^{metric} \S+$", api.get("/metrics").text, re.MULTILINE)
    hours = int(re.search(r"> (\d+) \* 3600", stale["expr"]).group(1))
    # Fresh data (yesterday from the deadline on, the day before until then) never fires it, at
    # any minute of a day; a day missed fires it from the deadline on (found in review: 33 h
    # fired on fresh data almost all the time).
    from pepy_pipeline.freshness import expected_last_day

    def fires(now, served):
        midnight = dt.datetime.combine(served, dt.time(), dt.timezone.utc)
        return (now - midnight).total_seconds() > hours * 3600

    start = dt.datetime(2026, 11, 2, tzinfo=dt.timezone.utc)
    for minute in range(0, 2 * 24 * 60, 5):
        now = start + dt.timedelta(minutes=minute)
        assert not fires(now, expected_last_day(now)), now
        if now.time() > DEADLINE:  # (at the deadline itself the day missed is exactly 57 h old)
            assert fires(now, expected_last_day(now) - dt.timedelta(days=1)), now
    assert "absent(" in stale["expr"]  # nothing served at all fires it too


def test_unknown_routes_are_one_metric_label_not_one_per_path(api):
    for index in range(5):
        api.get(f"/nothing/here/{index}")
    text = api.get("/metrics").text
    assert "/nothing/here" not in text
    assert re.search(r'pepy_http_requests_total\{method="GET",route="unmatched",status="404"\} [5-9]', text)


def test_timerange_with_a_folding_letter_is_400_not_500(api):
    for path in ("/api/v3/pro/projects/pepy/downloads", "/api/v3/pro/projects/pepy/country-downloads"):
        response = api.get(path, params={"timeRange": "FOUR_MONTH\u017f"})
        assert response.status_code == 400, (path, response.text)
        assert "\u017f" not in response.text
    for path, params in (("/personalized-badge/pepy", {"period": "wee\u212a"}),
                         ("/badge/pepy/wee\u212a", {}), ("/api/packages/pepy/recent", {"period": "wee\u212a"})):
        assert api.get(path, params=params).status_code == 400, path


def test_control_characters_in_left_text_still_make_valid_xml(api):
    for text in ("a\x00b", "\x1b[31m", "x\x0by", "\x7f", "tab\tand\nline"):
        response = api.get("/personalized-badge/pepy", params={"left_text": text})
        assert response.status_code == 200
        ET.fromstring(response.content)


def test_csv_neutralises_formulas_from_upstream_values(api):
    for path in ("/v1/projects/evil/versions?format=csv", "/v1/projects/evil/downloads?by=version&format=csv",
                 "/v1/projects/evil/downloads?by=installer&format=csv"):
        cells = [cell for row in csv.reader(io.StringIO(api.get(path).text)) for cell in row]
        assert not [cell for cell in cells if cell.startswith(("=", "+", "-", "@", "\t", "\r"))], (path, cells)
        assert any(cell.startswith("'") for cell in cells), cells
    assert FORMULAS[0] in [v["version"] for v in api.get("/v1/projects/evil/versions").json()["versions"]]


def test_a_64_mb_header_is_refused_quickly_and_the_server_lives_on(served):
    _, _, base = served
    host, port = base.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /health-check HTTP/1.1\r\nHost: x\r\nX-Big: ")
        chunk = b"a" * (1 << 20)
        try:
            for _ in range(64):
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        try:
            while data := sock.recv(65536):
                answer += data
        except (ConnectionResetError, TimeoutError):
            pass
    assert time.monotonic() - started < 5
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
    assert httpx.get(f"{base}/health-check").status_code == 200


@contextlib.contextmanager
def limited_api(tmp_path_factory, name: str, env: dict[str, str]):
    """An API over the hand-made rows with ``env`` (limits, keys, proxies), as an HTTP client."""
    home = tmp_path_factory.mktemp(name)
    api_data.build(home, with_sample=False)
    process, base = start_api(home, home / "api.log", env)
    try:
        with httpx.Client(base_url=base, timeout=10) as http:
            yield http
    finally:
        stop(process)


def test_made_up_keys_share_the_address_bucket(tmp_path_factory):
    with limited_api(tmp_path_factory, "limits_home", {"PEPY_RATE_LIMIT_PER_MINUTE": "3"}) as http:
        codes = [http.get("/api/v2/projects/pepy", headers={"X-API-Key": uuid.uuid4().hex}).status_code
                 for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        assert http.get("/badge/pepy").status_code == 200  # badges are never limited
        assert http.get("/v1/projects/pepy/shields").status_code == 200
        # 127.0.0.1 is a trusted proxy by default: the forwarded address is the client.
        other = http.get("/api/v2/projects/pepy", headers={"X-Forwarded-For": "203.0.113.7"})
        assert other.status_code == 200 and other.headers["x-rate-limit-remaining"] == "2"
        # Refused before routing, still counted under the route's template.
        metrics = http.get("/metrics").text
        assert re.search(r'pepy_http_requests_total\{method="GET",route="/api/v2/projects/\{project\}",'
                         r'status="429"\} 2', metrics), metrics


def test_forwarded_addresses_only_count_from_configured_proxies(tmp_path_factory):
    with limited_api(tmp_path_factory, "proxy_home", {
        "PEPY_RATE_LIMIT_PER_MINUTE": "2", "PEPY_FORWARDED_ALLOW_IPS": "10.255.255.1"}) as http:
        codes = [http.get("/api/v2/projects/pepy", headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code
                 for i in range(3)]
        assert codes == [200, 200, 429]  # forged X-Forwarded-For from an untrusted peer is ignored


def test_wrong_keys_are_throttled_and_shields_stays_public(tmp_path_factory):
    with limited_api(tmp_path_factory, "guess_home", {
        "PEPY_API_KEYS": "right-key", "PEPY_AUTH_FAILURES_PER_MINUTE": "5"}) as http:
        shields = http.get("/v1/projects/pepy/shields")
        assert shields.status_code == 200 and shields.json()["schemaVersion"] == 1
        # The summary of a project named "shields" is not the shields endpoint: it needs a key
        # (and, like any request without one, counts as a failure).
        named_shields = http.get("/v1/projects/shields")
        assert named_shields.status_code == 401 and named_shields.json()["message"]
        guesses = [http.get("/api/v2/projects/pepy", headers={"X-API-Key": f"guess-{i}"}).status_code
                   for i in range(8)]
        assert guesses == [401] * 4 + [429] * 4
        limited = http.get("/api/v2/projects/pepy", headers={"X-API-Key": "guess-x"})
        assert limited.status_code == 429 and int(limited.headers["x-rate-limit-retry-after-seconds"]) > 0
        assert http.get("/api/v2/projects/pepy", headers={"X-API-Key": "right-key"}).status_code == 200
