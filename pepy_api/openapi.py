"""The OpenAPI document: FastAPI's, less the 422 answers it adds to every operation, with every
error body documented as JSON.

Validation errors are answered 400 with ``{"message": ...}`` (``pepy_api.errors``), which every
operation declares; a documented 422 would be a promise the API never keeps. FastAPI documents an
error model under the route's media type; a badge's 404 is JSON all the same.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

_UNUSED_SCHEMAS = ("HTTPValidationError", "ValidationError")


def install(app: FastAPI) -> None:
    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            for path_item in schema["paths"].values():
                for operation in path_item.values():
                    responses = operation.get("responses", {})
                    responses.pop("422", None)
                    for status, response in responses.items():
                        if status >= "400" and response.get("content"):
                            body = next(iter(response["content"].values()))
                            response["content"] = {"application/json": body}
            schemas = schema.get("components", {}).get("schemas", {})
            for name in _UNUSED_SCHEMAS:
                schemas.pop(name, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
