"""Project names as PyPI sees them: PEP 503 normalisation and validation."""

from __future__ import annotations

import re

ALL_PROJECTS = "__all__"
_SEPARATORS = re.compile(r"[-_.]+")
_VALID = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
#: A search prefix is the start of a name: it may end with a separator ("web-").
_VALID_PREFIX = re.compile(r"^[A-Z0-9][A-Z0-9._-]*$", re.IGNORECASE)


class InvalidProjectName(ValueError):
    """A path parameter that cannot be a PyPI project name (the message never repeats it)."""


def normalize(name: str, allow_all: bool = False) -> str:
    """The PEP 503 form of ``name`` (``Flask_Login`` -> ``flask-login``), or raise. ``__all__``,
    where allowed, is case-insensitive like every name (``__ALL__`` was a 400: a spec audit)."""
    if allow_all and name.lower() == ALL_PROJECTS:
        return ALL_PROJECTS
    return _normalized(name, _VALID, "a project name has 1 to 512 characters",
                       "not a valid project name: use letters, digits, '.', '_' and '-', "
                       "starting and ending with a letter or digit")


def normalize_prefix(prefix: str) -> str:
    """The PEP 503 form of the start of a name (``Web_`` -> ``web-``), or raise."""
    return _normalized(prefix, _VALID_PREFIX, "a prefix has 1 to 512 characters",
                       "not the start of a project name: use letters, digits, '.', '_' and '-', "
                       "starting with a letter or digit")


def _normalized(text: str, pattern: re.Pattern, length_error: str, pattern_error: str) -> str:
    if not 1 <= len(text) <= 512:
        raise InvalidProjectName(length_error)
    if not text.isascii() or not pattern.fullmatch(text):
        raise InvalidProjectName(pattern_error)
    return _SEPARATORS.sub("-", text).lower()
