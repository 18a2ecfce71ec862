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
    """The PEP 503 form of ``name`` (``Flask_Login`` -> ``flask-login``), or raise."""
    if allow_all and name == ALL_PROJECTS:
        return ALL_PROJECTS
    if not 1 <= len(name) <= 512:
        raise InvalidProjectName("a project name has 1 to 512 characters")
    if not name.isascii() or not _VALID.fullmatch(name):
        raise InvalidProjectName(
            "not a valid project name: use letters, digits, '.', '_' and '-', "
            "starting and ending with a letter or digit"
        )
    return _SEPARATORS.sub("-", name).lower()


def normalize_prefix(prefix: str) -> str:
    """The PEP 503 form of the start of a name (``Web_`` -> ``web-``), or raise."""
    if not 1 <= len(prefix) <= 512:
        raise InvalidProjectName("a prefix has 1 to 512 characters")
    if not prefix.isascii() or not _VALID_PREFIX.fullmatch(prefix):
        raise InvalidProjectName("not the start of a project name: use letters, digits, '.', '_' and '-', "
                                 "starting with a letter or digit")
    return _SEPARATORS.sub("-", prefix).lower()
