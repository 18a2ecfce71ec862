"""The API keeps Python's full garbage collections short: a full pass walks every tracked object
under the GIL (32-44 ms at real size, the slowest requests of a run), so what the process holds
for its life is frozen out of the collector's reach once it has started."""

import gc

from fastapi.testclient import TestClient

from pepy_api.main import create_app
from pepy_api.settings import ApiSettings
from pepy_api.store.reader import FrozenGenerationReader
from tests.support import api_data


def test_long_lived_objects_are_frozen_while_serving_and_released_after(tmp_path):
    api_data.build(tmp_path, with_sample=False)
    reader = FrozenGenerationReader(tmp_path / "warehouse", refresh_seconds=3600)
    try:
        with TestClient(create_app(ApiSettings(home=tmp_path), reader=reader)) as http:
            assert http.get("/api/packages/pepy/system").status_code == 200
            frozen, tracked = gc.get_freeze_count(), len(gc.get_objects())
            # The application, its routes and models and the engine client are all frozen; what a
            # full collection still walks is what requests made since.
            assert frozen > 50_000
            assert tracked < frozen / 5, (tracked, frozen)
        assert gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()
        reader.close()
