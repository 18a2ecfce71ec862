"""The API keeps Python's full garbage collections short: a full pass walks every tracked object
under the GIL (tens of milliseconds at real size, docs/benchmarks.md eighth pass), so what the
process holds for its life is frozen out of the collector's reach once it has started."""

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
        app = create_app(ApiSettings(home=tmp_path), reader=reader)
        assert any(o is app for o in gc.get_objects())
        with TestClient(app) as http:
            assert http.get("/api/packages/pepy/system").status_code == 200
            # get_objects() lists what a full collection walks: the application (its routes,
            # models, middleware) is no longer among them.
            assert gc.get_freeze_count() > 0
            assert not any(o is app or o is app.router for o in gc.get_objects())
        assert gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()
        reader.close()
