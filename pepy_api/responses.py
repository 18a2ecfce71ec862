"""Response classes: fast JSON, CSV and SVG with the cache headers each kind needs."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

import orjson
from fastapi.responses import Response

JSON_CACHE = "public, max-age=3600"
BADGE_CACHE = "public, max-age=86400"


class FastJSONResponse(Response):
    """orjson-encoded JSON (dates as ISO strings), cacheable for an hour."""

    media_type = "application/json"

    def __init__(self, content, status_code: int = 200, headers: dict | None = None, **kwargs) -> None:
        super().__init__(content, status_code=status_code,
                         headers={"Cache-Control": JSON_CACHE, **(headers or {})}, **kwargs)

    def render(self, content) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def svg_response(svg: str) -> Response:
    return Response(svg, media_type="image/svg+xml; charset=utf-8", headers={"Cache-Control": BADGE_CACHE})


def csv_response(header: Sequence[str], rows: Iterable[Sequence], filename: str) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Cache-Control": JSON_CACHE,
                             "Content-Disposition": f'inline; filename="{filename}"'})
