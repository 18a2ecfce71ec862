"""Validators shared by query parameters.

Case-insensitive choices are matched with ``(?i)`` patterns, which also fold non-ASCII letters
(``ſ`` matches ``s``, ``K`` matches ``k``): a value that passed the pattern could then miss the
handler's lower-cased lookup. Such parameters are ASCII-only, so a match is always a known value.
"""

from __future__ import annotations

from pydantic import AfterValidator


def _ascii(value: str | None) -> str | None:
    if value is not None and not value.isascii():
        raise ValueError("only ASCII letters are accepted")
    return value


#: Add to ``Annotated[str, Query(pattern="(?i)...")]`` parameters.
AsciiOnly = AfterValidator(_ascii)
