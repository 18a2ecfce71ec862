"""Every error is JSON ``{"message": ...}`` with a meaningful status; never a stack trace."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("pepy_api")


class ErrorBody(BaseModel):
    message: str


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def not_found(project: str) -> ApiError:
    return ApiError(404, f"project {project!r} not found")


def no_data() -> ApiError:
    return ApiError(503, "no data has been loaded yet", {"Retry-After": "60"})


def _error(description: str) -> dict:
    return {"model": ErrorBody, "description": description}


#: Errors of the public endpoints (badges, the shields endpoint): never 401 or 429.
PUBLIC_ERROR_RESPONSES = {
    400: _error("Malformed name or parameter"),
    404: _error("Unknown project"),
    503: _error("No data loaded yet (with Retry-After)"),
}
#: Errors of the JSON endpoints, which may need a key and are rate limited when configured.
ERROR_RESPONSES = {
    **PUBLIC_ERROR_RESPONSES,
    401: _error("Missing or unknown X-API-Key (only when keys are configured)"),
    429: _error("Rate limited; X-Rate-Limit-Retry-After-Seconds says for how long"),
}


def _describe(error: RequestValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item.get("loc", ()) if p not in ("query", "path"))
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError):
        return JSONResponse({"message": exc.message}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError):
        return JSONResponse({"message": _describe(exc)}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404 and message == "Not Found":
            message = "no such endpoint; see /docs"
        return JSONResponse({"message": message}, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception):
        log.exception("unhandled error")
        return JSONResponse({"message": "internal error"}, status_code=500)
