"""Domain errors. Services raise these; ``app.py`` maps each once to an RFC 9457 problem+json answer."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FieldError:
    """One problem with one input field; ``loc`` is the path to it, e.g. ``("body", "country")``."""

    loc: tuple[str | int, ...]
    message: str

    def as_dict(self) -> dict:
        return {"loc": list(self.loc), "field": ".".join(str(p) for p in self.loc[1:] or self.loc),
                "message": self.message}


@dataclass
class DomainError(Exception):
    """Base for every error a user can cause; ``status`` is the HTTP status it maps to."""

    detail: str
    errors: list[FieldError] = field(default_factory=list)
    status: int = 400
    title: str = "Bad request"
    slug: str = "bad-request"
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.detail


def _kind(status: int, title: str, slug: str):
    def init(self, detail: str, errors: list[FieldError] | None = None,
             headers: dict[str, str] | None = None) -> None:
        DomainError.__init__(self, detail=detail, errors=errors or [], status=status, title=title,
                             slug=slug, headers=headers or {})
    return init


class NotFound(DomainError):
    __init__ = _kind(404, "Not found", "not-found")


class Conflict(DomainError):
    __init__ = _kind(409, "Conflict", "conflict")


class Invalid(DomainError):
    __init__ = _kind(422, "Validation failed", "validation")


class Unauthenticated(DomainError):
    __init__ = _kind(401, "Authentication required", "unauthenticated")


class Forbidden(DomainError):
    __init__ = _kind(403, "Forbidden", "forbidden")


class TooManyRequests(DomainError):
    __init__ = _kind(429, "Too many requests", "rate-limited")


def invalid_field(loc: tuple[str | int, ...], message: str) -> Invalid:
    """A 422 naming one field."""
    return Invalid(f"{'.'.join(str(p) for p in loc[1:] or loc)}: {message}", [FieldError(loc, message)])


class BadRequest(DomainError):
    __init__ = _kind(400, "Bad request", "bad-request")
