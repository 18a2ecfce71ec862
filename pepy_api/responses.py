"""Response classes: fast JSON, CSV and SVG with the cache headers each kind needs."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

import orjson
from fastapi.responses import JSONResponse, Response

JSON_CACHE = "public, max-age=3600"
BADGE_CACHE = "public, max-age=86400"


class FastJSONResponse(JSONResponse):
    """orjson-encoded JSON (dates as ISO strings), cacheable for an hour. (A JSONResponse, so
    OpenAPI documents the route's response model as its JSON body.)"""

    media_type = "application/json"

    def __init__(self, content, status_code: int = 200, headers: dict | None = None, **kwargs) -> None:
        super().__init__(content, status_code=status_code,
                         headers={"Cache-Control": JSON_CACHE, **(headers or {})}, **kwargs)

    def render(self, content) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


class SVGResponse(Response):
    media_type = "image/svg+xml"


def svg_response(svg: str) -> Response:
    return SVGResponse(svg, media_type="image/svg+xml; charset=utf-8", headers={"Cache-Control": BADGE_CACHE})


#: A cell starting with one of these is a formula to a spreadsheet (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell):
    """A text cell a spreadsheet will show as text: formulas get a leading apostrophe."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def csv_response(header: Sequence[str], rows: Iterable[Sequence], filename: str) -> Response:
    """CSV of ``rows``; text from upstream (versions, installers, ...) cannot run as a formula."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180; also quotes cells holding a CR
    writer.writerow(header)
    writer.writerows([neutralise(cell) for cell in row] for row in rows)
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Cache-Control": JSON_CACHE,
                             "Content-Disposition": f'inline; filename="{filename}"'})
