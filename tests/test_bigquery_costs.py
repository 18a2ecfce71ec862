"""Cost guards and credentials, with real google-cloud-bigquery job objects whose statistics are
controlled (emulators report 0 bytes, so the guard is tested on real QueryJob instances)."""

import base64

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from pepy_pipeline.sources.bigquery.clients import BigQueryConnection, MissingCredentialsError
from pepy_pipeline.sources.bigquery.cost import (BALANCE_CAP_SETTING, DAY_CAP_SETTING, CostCapExceeded, check_estimate,
                                                 human_bytes, job_metadata)


def query_job(bytes_processed: int, bytes_billed: int = 0, slot_ms: int = 0) -> bigquery.QueryJob:
    client = bigquery.Client(project="pepy-test", credentials=AnonymousCredentials())
    resource = {
        "jobReference": {"projectId": "pepy-test", "jobId": "job-123", "location": "US"},
        "configuration": {"query": {"query": "SELECT 1"}},
        "statistics": {"query": {"totalBytesProcessed": str(bytes_processed), "totalBytesBilled": str(bytes_billed),
                                 "totalSlotMs": str(slot_ms)}},
        "status": {"state": "DONE"},
    }
    return bigquery.QueryJob.from_api_repr(resource, client)


def test_an_estimate_over_the_cap_fails_naming_both():
    with pytest.raises(CostCapExceeded) as error:
        check_estimate(query_job(320 * 10**9), cap=250 * 10**9, what="2026-11-24")
    message = str(error.value)
    assert "2026-11-24" in message and "320.0 GB" in message and "250.0 GB" in message
    assert "320,000,000,000 bytes" in message and "nothing was run or loaded" in message


def test_a_refusal_names_the_setting_that_raises_its_cap():
    """Found in review: the opening balance's refusal told the user to raise the day's cap."""
    with pytest.raises(CostCapExceeded, match=f"Raise {DAY_CAP_SETTING} "):
        check_estimate(query_job(2), cap=1, what="2026-11-24")
    with pytest.raises(CostCapExceeded, match=f"Raise {BALANCE_CAP_SETTING} "):
        check_estimate(query_job(2), cap=1, what="opening balance", setting=BALANCE_CAP_SETTING)


def test_an_estimate_under_the_cap_is_returned():
    assert check_estimate(query_job(57 * 10**9), cap=250 * 10**9, what="d") == 57 * 10**9


def test_job_metadata_reports_what_the_query_cost():
    meta = job_metadata(query_job(300 * 10**9, bytes_billed=300 * 10**9, slot_ms=123_456), estimate=299 * 10**9)
    assert meta == {"job_id": "job-123", "bytes_estimated": 299 * 10**9, "bytes_processed": 300 * 10**9,
                    "bytes_billed": 300 * 10**9, "slot_ms": 123_456,
                    "estimated_cost_usd": round(300 * 10**9 / 2**40 * 6.25, 4)}


def test_human_bytes():
    assert human_bytes(0) == "0 B" and human_bytes(1_500_000) == "1.5 MB" and human_bytes(None) == "unknown"


def test_missing_credentials_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    with pytest.raises(MissingCredentialsError, match="no Google credentials: set PEPY_BIGQUERY_CREDENTIALS_PATH"):
        BigQueryConnection(project="pepy").bigquery_client()


def test_bad_credentials_are_clear_errors(tmp_path):
    with pytest.raises(MissingCredentialsError, match="not base64 JSON"):
        BigQueryConnection(project="p", credentials_base64="%%%").bigquery_client()
    with pytest.raises(MissingCredentialsError, match="not base64 JSON"):
        BigQueryConnection(project="p", credentials_base64=base64.b64encode(b"{nope").decode()).bigquery_client()
    with pytest.raises(MissingCredentialsError, match="cannot read the service account file"):
        BigQueryConnection(project="p", credentials_path=str(tmp_path / "missing.json")).bigquery_client()
