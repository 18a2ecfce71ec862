"""Answers from memory never leave the event loop: FastAPI runs every plain ``def`` dependency and
endpoint in its thread pool, one hand-off each per request (a badge paid three), so the request
dependencies and the endpoints that do not query the engine are ``async``."""

import threading

from fastapi.testclient import TestClient

from pepy_api.main import create_app
from pepy_api.settings import ApiSettings
from pepy_api.store.reader import FrozenGenerationReader
from tests.support import api_data

IN_MEMORY = ("/badge/pepy", "/badge/pepy/month", "/personalized-badge/pepy?period=week",
             "/api/packages/pepy/recent", "/v1/projects?prefix=pe", "/v1/projects", "/v1/projects/pepy/shields",
             "/badge/not-a-project", "/health-check")


def pool_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "AnyIO worker thread"}


def test_answers_from_memory_use_no_worker_thread_and_engine_answers_one(tmp_path):
    api_data.build(tmp_path, with_sample=False)
    reader = FrozenGenerationReader(tmp_path / "warehouse", refresh_seconds=3600)
    try:
        with TestClient(create_app(ApiSettings(home=tmp_path), reader=reader)) as http:
            before = pool_threads()
            for path in IN_MEMORY:
                assert http.get(path).status_code in (200, 404), path
            assert pool_threads() - before == set()
            # The test can fail: an answer that queries the engine runs its endpoint in the pool.
            assert http.get("/api/projects/pepy").status_code == 200
            assert pool_threads() - before
    finally:
        reader.close()
