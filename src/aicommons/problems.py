"""RFC 9457 problem details: every error the server answers with, in one shape."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from aicommons.errors import DomainError

PROBLEM_TYPE_BASE = "https://aicommons.example/problems/"
MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("aicommons.errors")


def problem(status: int, title: str, detail: str, *, slug: str, instance: str | None = None,
            errors: list[dict] | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict = {"type": PROBLEM_TYPE_BASE + slug, "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _validation_errors(exc: RequestValidationError) -> list[dict]:
    out = []
    for err in exc.errors():
        loc = [p for p in err.get("loc", ()) if p != "body" or len(err.get("loc", ())) == 1]
        where = list(err.get("loc", ()))
        out.append({"loc": where, "field": ".".join(str(p) for p in loc) or "body",
                    "message": err.get("msg", "invalid")})
    return out


def install(app: FastAPI, *, wants_html) -> None:
    """Map domain errors, validation errors and HTTP errors to problem+json (or an HTML page for browsers)."""

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError):
        if wants_html(request):
            return await app.state.render_error(request, exc.status, exc.title, exc.detail, exc.headers)
        return problem(exc.status, exc.title, exc.detail, slug=exc.slug, instance=request.url.path,
                       errors=[e.as_dict() for e in exc.errors], headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = _validation_errors(exc)
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        if wants_html(request):
            return await app.state.render_error(request, 422, "Invalid request", detail, {})
        return problem(422, "Validation failed", detail, slug="validation", instance=request.url.path,
                       errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        titles = {404: "Not found", 405: "Method not allowed", 413: "Content too large"}
        title = titles.get(exc.status_code, "Error")
        detail = exc.detail if isinstance(exc.detail, str) else title
        if wants_html(request):
            return await app.state.render_error(request, exc.status_code, title, detail, exc.headers or {})
        return problem(exc.status_code, title, detail, slug=title.lower().replace(" ", "-"),
                       instance=request.url.path, headers=exc.headers)

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def _unstorable(request: Request, exc: Exception):
        # The database (or, for integers beyond 64 bits, SQLite's driver) refused a value from the request,
        # such as a NUL character or an out-of-range number: the input's fault, not the server's.
        log.info("refused a value on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        detail = "a value in the request cannot be stored or searched (a NUL character or an out-of-range number)"
        if wants_html(request):
            return await app.state.render_error(request, 400, "Bad request", detail, {})
        return problem(400, "Bad request", detail, slug="bad-request", instance=request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        # The traceback goes to the server log; the client gets no internals.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "Internal server error", "the server failed; the error was logged",
                       slug="internal", instance=request.url.path)
