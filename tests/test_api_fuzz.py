"""Property-based fuzzing of every documented endpoint from the OpenAPI schema (schemathesis),
over real HTTP: whatever the input, never a server error, and responses match the schema."""

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.support import api_data
from tests.support.processes import start_api, stop


@pytest.fixture(scope="module")
def api_base(tmp_path_factory):
    home = tmp_path_factory.mktemp("fuzz_home")
    api_data.build(home, with_sample=False)
    process, base = start_api(home, home / "api.log")
    yield base
    stop(process)
    assert "Traceback" not in (home / "api.log").read_text()


def test_no_input_makes_the_api_fail(api_base):
    """Every operation of the schema, fuzzed (schemathesis' pytest plugin does not support this
    pytest release, so operations are driven through hypothesis directly)."""
    schema = schemathesis.openapi.from_url(f"{api_base}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    spec = httpx.get(f"{api_base}/openapi.json").json()
    for path, item in spec["paths"].items():
        responses = item["get"]["responses"]
        assert "422" not in responses, path  # validation errors are 400s
        body = responses["200"]["content"]
        if "application/json" in body:  # every JSON body is a typed model, never a bare string
            assert "$ref" in body["application/json"]["schema"], path

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case):
            response = case.call(base_url=api_base)
            assert response.status_code < 500, (case.path, case.path_parameters, case.query, response.text[:300])
            if response.status_code >= 400:
                assert "message" in response.json(), response.text[:300]
            case.validate_response(response, checks=[
                schemathesis.checks.not_a_server_error,
                schemathesis.checks.status_code_conformance,
                schemathesis.checks.content_type_conformance,
                schemathesis.checks.response_schema_conformance,
            ])

        fuzz()


def test_known_projects_fuzzed_in_path_and_query(api_base):
    """Schemathesis rarely guesses a real project name: also fuzz the parameters of real ones."""
    nasty = ["", "0", "-1", "null", "' OR '1'='1", "%00", "\u202e", "9" * 40, "2018-05-01'--", "{day:Date}"]
    with httpx.Client(base_url=api_base, timeout=10) as http:
        for value in nasty:
            for path in ("/api/packages/pepy/overall", "/api/packages/pepy/system", "/v1/projects/pepy/downloads",
                         "/personalized-badge/pepy", "/api/v3/pro/projects/pepy/downloads"):
                for param in ("start_date", "end_date", "os", "version", "by", "granularity", "ci", "mirrors",
                              "period", "units", "left_color", "left_text", "timeRange", "format", "limit"):
                    response = http.get(path, params={param: value})
                    assert response.status_code in (200, 400), (path, param, value, response.text[:200])


def closed(schema):
    """``schema`` with every object closed to undeclared fields (``additionalProperties: false``)."""
    if isinstance(schema, dict):
        schema = {key: closed(value) for key, value in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
    elif isinstance(schema, list):
        schema = [closed(value) for value in schema]
    return schema


#: Queries that change an answer's shape, beside each operation's defaults.
SHAPE_QUERIES = {
    "/v1/projects/{project}/downloads": [{"by": by} for by in ("version", "installer", "country", "ci", "python_minor")]
    + [{"granularity": "week", "by": "system"}, {"granularity": "month"}],
    "/api/packages/{package}/recent": [{"period": period} for period in ("day", "week", "month")],
    "/api/packages/{package}/overall": [{"mirrors": "false"}],
    "/api/v2/projects/{project}": [{"includeMetadata": "true"}],
    "/v1/projects": [{"prefix": "pe"}],
}


def test_every_json_answer_for_a_real_project_matches_its_documented_schema(api_base):
    """Found by a newcomer: the fuzzing above rarely reaches a real project, so only 404s were
    checked against the schema, and the /v1 summary's documented body had drifted from the one
    sent (fields it never sends required, fields it sends undocumented). Every operation is
    asked about a real project, with its defaults and the queries that change its answer's shape
    (found in review), against the schema closed to undeclared fields."""
    schema = schemathesis.openapi.from_dict(closed(httpx.get(f"{api_base}/openapi.json").json()))
    checked = []
    for operation in (result.ok() for result in schema.get_all_operations()):
        names = {p.name for p in operation.path_parameters}
        for query in [{}, *SHAPE_QUERIES.get(operation.path, [])]:
            case = operation.Case(path_parameters={name: "pepy" for name in names}, query=query)
            response = case.call(base_url=api_base)
            content_type = {key.lower(): value for key, value in response.headers.items()}.get("content-type", [""])
            if "application/json" in str(content_type) and response.status_code == 200:
                case.validate_response(response, checks=[schemathesis.checks.response_schema_conformance])
                checked.append((operation.path, tuple(query.items())))
    assert len(checked) >= 12 + sum(map(len, SHAPE_QUERIES.values())), checked
