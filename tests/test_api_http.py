"""The read API over real HTTP (uvicorn in a subprocess) against a warehouse with known rows."""

import httpx
import pytest

from pepy_api.badges import format_downloads
from tests.support import api_data, pypistats_reference
from tests.support.api_data import D4, rows_of
from tests.support.processes import start_api, stop

MIRRORS = {"bandersnatch", "z3c.pypimirror", "Artifactory", "devpi"}


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    home = tmp_path_factory.mktemp("api_home")
    api_data.build(home)
    process, base = start_api(home, home / "api.log")
    with httpx.Client(base_url=base, timeout=10) as http:
        yield http
    stop(process)


def test_v2_matches_the_worked_example_exactly(api):
    response = api.get("/api/v2/projects/pepy")
    assert response.status_code == 200
    assert response.json() == {
        "id": "pepy", "total_downloads": 120, "versions": ["1.0", "2.0"],
        "downloads": {"2018-05-01": {"1.0": 10}, "2018-05-02": {"2.0": 15},
                      "2018-05-03": {"1.0": 20, "2.0": 25}, "2018-05-04": {"2.0": 50}},
    }
    assert list(response.json()["downloads"]) == sorted(response.json()["downloads"])


def test_versions_are_in_pep440_order(api):
    assert api.get("/api/v2/projects/flask-login").json()["versions"] == ["0.6.3", "0.6.9", "0.6.10"]


@pytest.mark.parametrize("spelling", ["flask-login", "Flask_Login", "flask.login", "FLASK--login", "flask-login/"])
def test_any_pep503_spelling_and_trailing_slash_work(api, spelling):
    body = api.get(f"/api/v2/projects/{spelling}").json()
    assert body["id"] == "flask-login"
    assert body["total_downloads"] == sum(r["downloads"] for r in rows_of("flask-login"))


def test_v1_sums_versions_per_day(api):
    body = api.get("/api/projects/pepy").json()
    assert body == {"id": "pepy", "total_downloads": 120,
                    "downloads": {"2018-05-01": 10, "2018-05-02": 15, "2018-05-03": 45, "2018-05-04": 50}}


@pytest.mark.parametrize("path", ["/api/v2/projects/nope", "/api/projects/nope", "/badge/nope",
                                  "/personalized-badge/nope", "/api/packages/nope/recent", "/v1/projects/nope",
                                  "/api/v3/pro/projects/nope/downloads"])
def test_unknown_projects_are_404_json_everywhere(api, path):
    response = api.get(path)
    assert response.status_code == 404
    assert response.json() == {"message": "project 'nope' not found"}


@pytest.mark.parametrize("name", ["-bad", "bad-", "a b", "x" * 513, "caf\u00e9", "x'; DROP TABLE pepy.downloads_daily; --",
                                  "%27%20OR%201=1", "..", "a;b"])
def test_malformed_names_are_400_json(api, name):
    response = api.get(f"/api/v2/projects/{name}")
    assert response.status_code in (400, 404)  # '..' is resolved by the URL layer
    if response.status_code == 400:
        assert "not a valid project name" in response.json()["message"] or "1 to 512" in response.json()["message"]
    assert api.get("/api/v2/projects/pepy").json()["total_downloads"] == 120


def test_format_downloads_is_byte_for_byte_legacy():
    cases = {0: "0", 121: "121", 12132: "12k", 412132492: "412M", 9132919492: "9G", 11132919492000: "11T",
             11132919492432000: "11P"}
    for value, text in cases.items():
        assert format_downloads(value) == text
    assert format_downloads(9132919492, "abbreviation") == "9B"
    assert format_downloads(11132919492432000, "abbreviation") == "11Q"
    assert format_downloads(9132919492, "none") == "9132919492"


def test_badges_are_svg_with_the_right_numbers(api):
    total = api.get("/badge/pepy")
    assert total.headers["content-type"].startswith("image/svg+xml")
    assert "max-age=86400" in total.headers["cache-control"]
    assert ">downloads<" in total.text and ">120<" in total.text
    week = api.get("/badge/pepy/week/")
    assert ">downloads/week<" in week.text and ">120<" in week.text
    assert api.get("/badge/pepy/MONTH").status_code == 200
    assert api.get("/badge/pepy/year").status_code == 400


def test_personalized_badge_is_case_insensitive_and_escapes_text(api):
    response = api.get("/personalized-badge/pepy", params={
        "units": "INTERNATIONAL_SYSTEM", "left_color": "BLACK", "right_color": "#ff0000", "period": "Week",
        "left_text": "<b>dl</b>"})
    assert response.status_code == 200
    assert 'fill="black"' in response.text and 'fill="#ff0000"' in response.text
    assert "<b>" not in response.text and "&lt;b&gt;dl&lt;/b&gt;" in response.text
    default = api.get("/personalized-badge/pepy").text
    assert ">downloads/month<" in default and 'fill="#97ca00"' in default
    bad = api.get("/personalized-badge/pepy", params={"left_color": "red;stroke:url(javascript:1)",
                                                      "right_color": 'red"><script>alert(1)</script>'})
    # A bad colour falls back to the default, as on shields.io, and is never echoed.
    assert bad.status_code == 200 and bad.text.count('fill="#97ca00"') == 2
    assert "javascript" not in bad.text and "script" not in bad.text
    assert api.get("/personalized-badge/pepy", params={"units": "furlongs"}).status_code == 400


def test_pypistats_recent_follows_pypistats_arithmetic(api):
    body = api.get("/api/packages/flask-login/recent").json()
    assert body["type"] == "recent_downloads" and body["package"] == "flask-login"
    assert body["data"] == pypistats_reference.recent(rows_of("flask-login"), D4)
    # D4's only non-mirror row has a Python with no minor: pypistats drops it.
    assert api.get("/api/packages/flask-login/recent?&period=day").json()["data"] == {"last_day": 0}


def test_pypistats_overall_follows_pypistats_arithmetic(api):
    body = api.get("/api/packages/flask-login/overall").json()
    assert body["type"] == "overall_downloads"
    got = {"with_mirrors": {}, "without_mirrors": {}}
    for row in body["data"]:
        got[row["category"]][row["date"]] = row["downloads"]
    expected = pypistats_reference.overall(rows_of("flask-login"))
    assert got["with_mirrors"] == expected["with_mirrors"]
    # Exactly: pypistats.org has no without-mirrors row for a day without such downloads (D4), and
    # served one with 0 until a numbers audit found it.
    assert got["without_mirrors"] == expected["without_mirrors"] and "2018-05-04" not in got["without_mirrors"]
    # Worked by hand: D1 keeps 7 (bandersnatch, NULL python) + 5 (2.7) of 16, drops 'garbage' (4).
    assert got["with_mirrors"]["2018-05-01"] == 12 and got["without_mirrors"]["2018-05-01"] == 5
    # D2: the NULL-installer row (6) counts with mirrors only; the NULL-Python row (2) counts in both.
    assert got["with_mirrors"]["2018-05-02"] == 17 and got["without_mirrors"]["2018-05-02"] == 11
    # D3: Python 10.1 is dropped everywhere; the sdist (3) and the empty-system row (4) count.
    assert got["with_mirrors"]["2018-05-03"] == 7
    only = api.get("/api/packages/flask-login/overall?mirrors=false").json()["data"]
    assert {r["category"] for r in only} == {"without_mirrors"}


def test_pypistats_python_and_system_series(api):
    rows = rows_of("flask-login")
    body = api.get("/api/packages/flask-login/python_minor").json()
    assert body["type"] == "python_minor_downloads"
    assert body["data"] == pypistats_reference.series(rows, "python_minor")
    major = api.get("/api/packages/Flask_Login/python_major").json()["data"]
    assert major == pypistats_reference.series(rows, "python_major")
    assert {r["category"] for r in major} == {"2", "3", "null"}
    assert api.get("/api/packages/flask-login/system").json()["data"] == pypistats_reference.series(rows, "system")
    # A category asked for in any case gives that category's rows, 'null' included; upstream's
    # empty system name is "other" (pypistats' CASE), not "null".
    other = [r for r in pypistats_reference.series(rows, "system") if r["category"] == "other"]
    assert other and api.get("/api/packages/flask-login/system?os=OTHER").json()["data"] == other
    linux = [r for r in pypistats_reference.series(rows, "system") if r["category"] == "Linux"]
    assert linux and api.get("/api/packages/flask-login/system?os=linux").json()["data"] == linux
    assert any(r["category"] == "null" for r in api.get("/api/packages/flask-login/system").json()["data"])
    nulls = [r for r in pypistats_reference.series(rows, "python_minor") if r["category"] == "null"]
    assert nulls and api.get("/api/packages/flask-login/python_minor?version=NULL").json()["data"] == nulls
    ranged = api.get("/api/packages/flask-login/system", params={"start_date": "2018-05-02", "end_date": "2018-05-02"})
    assert ranged.json()["data"] == [r for r in pypistats_reference.series(rows, "system") if r["date"] == "2018-05-02"]


def test_pypistats_default_is_the_last_180_days(api):
    body = api.get("/api/packages/pepy/overall").json()
    assert body["data"] and all(r["date"] >= "2018-05-01" for r in body["data"])
    both = api.get("/api/packages/pepy/overall", params={"start_date": "2017-11-01"})
    assert both.status_code == 200


def test_all_packages_pseudo_package(api):
    body = api.get("/api/packages/__all__/overall?mirrors=true").json()
    assert body["package"] == "__all__"
    per_day = {r["date"]: r["downloads"] for r in body["data"]}
    assert per_day["2018-05-01"] > 10 + 16
    assert api.get("/api/packages/__ALL__/overall?mirrors=true").json() == body  # case-insensitive like names


@pytest.mark.parametrize("query", ["start_date=2018-05-04&end_date=2018-05-01", "start_date=2018-02-30",
                                   "start_date=1900-01-01", "end_date=yesterday", "end_date=0001-01-05",
                                   "start_date=9999-12-01&end_date=9999-12-31"])
def test_bad_ranges_are_400(api, query):
    response = api.get(f"/api/packages/pepy/overall?{query}")
    assert response.status_code == 400
    assert response.json()["message"]


@pytest.mark.parametrize("path", ["/api/packages/pepy/python_minor?end_date=0001-01-05",
                                  "/v1/projects/pepy/downloads?granularity=month&by=version"
                                  "&start_date=9999-12-01&end_date=9999-12-31",
                                  "/v1/projects/pepy/downloads?granularity=month&start_date=2149-06-01",
                                  "/v1/projects/pepy/versions?end_date=0001-01-01"])
def test_dates_at_the_ends_of_the_calendar_are_400(api, path):
    """Days the engine cannot hold are a 400, never a 500 (Python's date arithmetic overflowed
    near year 1 and 9999)."""
    response = api.get(path)
    assert response.status_code == 400, response.text
    assert "outside the days" in response.json()["message"]


def test_pro_downloads_and_country_downloads(api):
    with_ci = api.get("/api/v3/pro/projects/pepy/downloads?timeRange=four_months").json()["downloads"]
    without_ci = api.get("/api/v3/pro/projects/pepy/downloads?timeRange=ONE_YEAR&includeCIDownloads=false").json()["downloads"]
    assert with_ci["2018-05-03"] == {"1.0": 20, "2.0": 25}
    assert without_ci["2018-05-03"] == {"1.0": 20}
    countries = api.get("/api/v3/pro/projects/flask-login/country-downloads").json()["downloads"]
    assert {"country": "DEU", "downloads": 5} in countries["2018-05-01"]
    assert all(len(entry["country"]) == 3 for day in countries.values() for entry in day)
    # One entry per country a day: upstream's "FR" (3) and "fr" (4) are both France.
    assert all(len({e["country"] for e in day}) == len(day) for day in countries.values())
    assert {"country": "FRA", "downloads": 7} in countries["2018-05-03"]
    assert api.get("/api/v3/pro/projects/pepy/downloads?timeRange=FOREVER").status_code == 400


def test_breakdowns_filters_granularity_and_csv(api):
    body = api.get("/v1/projects/flask-login/downloads?by=installer").json()
    assert body["last_complete_day"] == D4.isoformat()
    assert {"date": "2018-05-01", "value": "bandersnatch", "downloads": 7} in body["data"]
    ci_only = api.get("/v1/projects/flask-login/downloads?by=ci&ci=only").json()["data"]
    assert ci_only == [{"date": "2018-05-01", "value": "true", "downloads": 5}]
    monthly = api.get("/v1/projects/pepy/downloads?granularity=month").json()["data"]
    assert monthly == [{"date": "2018-05-01", "downloads": 120}]
    weekly = api.get("/v1/projects/pepy/downloads?granularity=week&ci=exclude").json()["data"]
    assert sum(r["downloads"] for r in weekly) == 95 and weekly[0]["date"] == "2018-04-30"
    csv = api.get("/v1/projects/flask-login/downloads?by=country&format=csv")
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().splitlines()
    assert lines[0] == "date,country,downloads" and "2018-05-01,null,4" in lines
    by_version = api.get("/v1/projects/pepy/downloads?by=version").json()["data"]
    assert {"date": "2018-05-03", "value": "2.0", "downloads": 25} in by_version
    assert api.get("/v1/projects/pepy/downloads?by=colour").status_code == 400
    assert api.get("/v1/projects/pepy/downloads?ci=only&mirrors=false").status_code == 400


def test_summary_versions_top_and_search(api):
    summary = api.get("/v1/projects/pepy").json()
    assert summary["total_downloads"] == 120 and summary["last_day"] == 50
    assert summary["top_versions_last_month"][0] == {"version": "2.0", "downloads": 90}
    versions = api.get("/v1/projects/pepy/versions?limit=1&format=csv").text.strip().splitlines()
    assert versions == ["version,downloads", "2.0,90"]
    top = api.get("/v1/projects?limit=5").json()
    totals = [p["total_downloads"] for p in top["projects"]]
    assert totals == sorted(totals, reverse=True) and "__all__" not in [p["project"] for p in top["projects"]]
    search = api.get("/v1/projects?prefix=Flask_L").json()
    assert [p["project"] for p in search["projects"]] == ["flask-login"]
    # A prefix is the start of a name being typed: it may end with a separator.
    for partial in ("flask-", "Flask_", "FLASK."):
        assert [p["project"] for p in api.get(f"/v1/projects?prefix={partial}").json()["projects"]] == ["flask-login"]
    for bad in ("-flask", "flask/", "fl ask"):
        refused = api.get("/v1/projects", params={"prefix": bad})
        assert refused.status_code == 400 and "start of a project name" in refused.json()["message"]
    shield = api.get("/v1/projects/pepy/shields?period=week").json()
    assert shield == {"schemaVersion": 1, "label": "downloads/week", "message": "120", "color": "brightgreen"}


def test_etag_304_cors_and_freshness(api):
    first = api.get("/api/v2/projects/pepy", headers={"Origin": "https://example.org"})
    etag = first.headers["etag"]
    assert etag.startswith('"') and not etag.startswith('W/')
    assert first.headers["access-control-allow-origin"] == "*"
    assert first.headers["x-data-last-complete-day"] == D4.isoformat()
    assert "max-age" in first.headers["cache-control"]
    again = api.get("/api/v2/projects/pepy", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["etag"] == etag and again.content == b""
    assert api.get("/api/v2/projects/pepy", headers={"If-None-Match": '"other"'}).status_code == 200
    assert api.get("/health-check").json() == {"status": "healthy"}


def test_a_gzip_body_has_its_own_strong_etag_and_either_form_revalidates(api):
    """Found by a spec audit: one strong ETag served a body gzip-compressed and plain, which RFC
    9110 forbids (a strong validator names one byte sequence)."""
    path = "/openapi.json"  # the one answer over the gzip threshold in this small data set
    plain = api.get(path, headers={"Accept-Encoding": "identity"})
    packed = api.get(path, headers={"Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
    assert packed.content == plain.content  # httpx decodes: the same answer
    assert packed.headers["etag"] == plain.headers["etag"][:-1] + '-gzip"'
    for etag, encoding in ((packed.headers["etag"], "gzip"), (plain.headers["etag"], "identity")):
        again = api.get(path, headers={"If-None-Match": etag, "Accept-Encoding": encoding})
        assert again.status_code == 304 and again.headers["etag"] == etag
        assert "accept-encoding" in again.headers["vary"].lower()
        # The 304 answers with the form this request would get, whichever the client lists first
        # (a cache holding both forms); a form it would not get is no match (found in review).
        both = api.get(path, headers={"If-None-Match": f'{packed.headers["etag"]}, {plain.headers["etag"]}',
                                      "Accept-Encoding": encoding})
        assert both.status_code == 304 and both.headers["etag"] == etag
        other = plain.headers["etag"] if encoding == "gzip" else packed.headers["etag"]
        assert api.get(path, headers={"If-None-Match": other, "Accept-Encoding": encoding}).status_code == 200
        # HEAD says what GET sends (found in review: plain ETag and no encoding where GET gzipped).
        head = api.head(path, headers={"Accept-Encoding": encoding})
        get = api.get(path, headers={"Accept-Encoding": encoding})
        assert head.headers["etag"] == get.headers["etag"] == etag
        assert head.headers.get("content-encoding") == get.headers.get("content-encoding")
    small = api.get("/health-check", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers


def test_unknown_route_is_json_404(api):
    response = api.get("/no/such/thing")
    assert response.status_code == 404 and "message" in response.json()


def test_docs_and_openapi_are_served(api):
    assert api.get("/docs").status_code == 200
    spec = api.get("/openapi.json").json()
    assert "/api/v2/projects/{project}" in spec["paths"] and "/api/packages/{package}/system" in spec["paths"]


def test_api_keys_and_rate_limits_when_configured(tmp_path_factory):
    home = tmp_path_factory.mktemp("keys_home")
    api_data.build(home, with_sample=False)
    process, base = start_api(home, home / "api.log", {"PEPY_API_KEYS": "k1,k2", "PEPY_RATE_LIMIT_PER_MINUTE": "3"})
    try:
        with httpx.Client(base_url=base, timeout=10) as http:
            missing = http.get("/api/v2/projects/pepy")
            assert missing.status_code == 401 and "X-API-Key" in missing.json()["message"]
            assert http.get("/badge/pepy").status_code == 200  # badges stay public
            remaining = [http.get("/api/v2/projects/pepy", headers={"x-API-key": "k1"}) for _ in range(3)]
            assert [r.status_code for r in remaining] == [200, 200, 200]
            assert [r.headers["x-rate-limit-remaining"] for r in remaining] == ["2", "1", "0"]
            limited = http.get("/api/v2/projects/pepy", headers={"X-Api-Key": "k1"})
            assert limited.status_code == 429 and int(limited.headers["x-rate-limit-retry-after-seconds"]) > 0
            assert limited.json() == {"message": "rate limit exceeded"}
            assert http.get("/api/v2/projects/pepy", headers={"X-Api-Key": "k2"}).status_code == 200
    finally:
        stop(process)


def test_before_the_first_load_data_endpoints_say_so(tmp_path):
    process, base = start_api(tmp_path, tmp_path / "api.log")
    try:
        assert httpx.get(f"{base}/health-check").status_code == 200
        response = httpx.get(f"{base}/api/v2/projects/pepy")
        assert response.status_code == 503 and response.json() == {"message": "no data has been loaded yet"}
    finally:
        stop(process)


@pytest.mark.parametrize("query", ["", "granularity=week&ci=exclude", "by=installer", "by=country&granularity=month",
                                   "by=version&granularity=week", "by=python_minor&mirrors=false", "by=ci&ci=only"])
@pytest.mark.parametrize("project", ["flask-login", "pepy"])
def test_a_breakdown_has_the_same_rows_in_json_and_csv(api, project, query):
    """Two renderings of one query: same rows, same order, '' as null (JSON dates are written by
    orjson from date objects, CSV's by Python)."""
    answer = api.get(f"/v1/projects/{project}/downloads?{query}").json()["data"]
    lines = api.get(f"/v1/projects/{project}/downloads?{query}&format=csv").text.strip().splitlines()
    header, rows = lines[0].split(","), [line.split(",") for line in lines[1:]]
    if len(header) == 2:
        expected = [{"date": d, "downloads": int(n)} for d, n in rows]
    else:
        expected = [{"date": d, "value": None if v == "null" else v, "downloads": int(n)} for d, v, n in rows]
    assert answer == expected and answer
