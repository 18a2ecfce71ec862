"""Badge rendering: pepy's legacy number format, colour validation, and a flat SVG badge.

Shared by the SVG badges and the shields.io endpoint (routers do not import each other).
"""

from __future__ import annotations

import re
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pepy_api.store.snapshot import Totals

INTERNATIONAL = ("", "k", "M", "G", "T", "P", "E", "Z", "Y")
ABBREVIATION = ("", "k", "M", "B", "T", "Q", "Qi", "Sx", "Sp")

NAMED_COLOURS = {
    "brightgreen": "#4c1", "green": "#97ca00", "yellow": "#dfb317", "yellowgreen": "#a4a61d",
    "orange": "#fe7d37", "red": "#e05d44", "blue": "#007ec6", "grey": "#555", "gray": "#555",
    "lightgrey": "#9f9f9f", "lightgray": "#9f9f9f",
    "success": "#4c1", "important": "#fe7d37", "critical": "#e05d44", "informational": "#007ec6",
    "inactive": "#9f9f9f",
}
_CSS_NAMES = frozenset(
    "aliceblue antiquewhite aqua aquamarine azure beige bisque black blanchedalmond blueviolet brown "
    "burlywood cadetblue chartreuse chocolate coral cornflowerblue cornsilk crimson cyan darkblue "
    "darkcyan darkgoldenrod darkgray darkgreen darkgrey darkkhaki darkmagenta darkolivegreen "
    "darkorange darkorchid darkred darksalmon darkseagreen darkslateblue darkslategray darkslategrey "
    "darkturquoise darkviolet deeppink deepskyblue dimgray dimgrey dodgerblue firebrick floralwhite "
    "forestgreen fuchsia gainsboro ghostwhite gold goldenrod greenyellow honeydew hotpink indianred "
    "indigo ivory khaki lavender lavenderblush lawngreen lemonchiffon lightblue lightcoral lightcyan "
    "lightgoldenrodyellow lightgreen lightpink lightsalmon lightseagreen lightskyblue lightslategray "
    "lightslategrey lightsteelblue lightyellow lime limegreen linen magenta maroon mediumaquamarine "
    "mediumblue mediumorchid mediumpurple mediumseagreen mediumslateblue mediumspringgreen "
    "mediumturquoise mediumvioletred midnightblue mintcream mistyrose moccasin navajowhite navy "
    "oldlace olive olivedrab orangered orchid palegoldenrod palegreen paleturquoise palevioletred "
    "papayawhip peachpuff peru pink plum powderblue purple rebeccapurple rosybrown royalblue "
    "saddlebrown salmon sandybrown seagreen seashell sienna silver skyblue slateblue slategray "
    "slategrey snow springgreen steelblue tan teal thistle tomato turquoise violet wheat white "
    "whitesmoke yellow".split()
)
_HEX = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")
_RGB = re.compile(r"^(rgba?|hsla?)\(\s*[0-9.%]+\s*(,\s*[0-9.%]+\s*){2,3}\)$")


PERIOD_LABELS = {"total": "downloads", "month": "downloads/month", "week": "downloads/week"}

# Characters XML 1.0 forbids (C0 controls but tab/newline/CR, U+FFFE/U+FFFF, lone surrogates):
# an SVG containing one does not parse. Line breaks and tabs also become spaces in a badge.
_NOT_IN_BADGE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


class InvalidColour(ValueError):
    """A colour that is neither a known name, a hex code nor an rgb()/hsl() value."""


def period_downloads(totals: Totals, period: str) -> int:
    """All-time, last 30 or last 7 complete days, mirrors included (as pepy counts)."""
    return {"total": totals.total, "month": totals.last_month, "week": totals.last_week}[period]


def format_downloads(value: int, units: str = "international_system") -> str:
    """pepy's legacy format: floor by powers of 1000, no decimals (``12132`` -> ``12k``)."""
    if units == "none":
        return str(value)
    suffixes = ABBREVIATION if units == "abbreviation" else INTERNATIONAL
    power = 0
    while value >= 1000 and power < len(suffixes) - 1:
        value //= 1000
        power += 1
    return f"{value}{suffixes[power]}"


def resolve_colour(value: str) -> str:
    """A safe SVG fill for ``value`` (case-insensitive names, hex with or without '#')."""
    lowered = value.strip().lower()
    if lowered in NAMED_COLOURS:
        return NAMED_COLOURS[lowered]
    if lowered in _CSS_NAMES:
        return lowered
    if _HEX.match(lowered):
        return lowered if lowered.startswith("#") else f"#{lowered}"
    if _RGB.match(lowered):
        return lowered
    raise InvalidColour("unknown colour: use a name such as green or a hex code such as #ff0000")


def colour_or_default(value: str, default: str) -> str:
    """``value`` as a safe fill, or ``default`` when it is no colour (what shields.io does)."""
    try:
        return resolve_colour(value)
    except InvalidColour:
        return resolve_colour(default)


def badge_text(text: str) -> str:
    """``text`` without characters that would make the SVG invalid XML (control characters)."""
    return _NOT_IN_BADGE.sub(" ", text)


# Approximate advance widths of 11px Verdana, as shields.io measures text.
_NARROW = set("fijlrtI.,:;!|'()[] ")
_WIDE = set("mwMW@%")


def _text_width(text: str) -> int:
    width = 0.0
    for ch in text:
        if ch in _NARROW:
            width += 3.9
        elif ch in _WIDE:
            width += 10.5
        elif ch.isupper() or ch.isdigit():
            width += 7.4
        else:
            width += 6.6
    return int(round(width))


def render_badge(left: str, right: str, left_colour: str = "#555", right_colour: str = "#97ca00") -> str:
    """A flat, shields.io-style SVG badge. All text is cleaned of control characters and escaped."""
    left, right = badge_text(left), badge_text(right)
    lw, rw = _text_width(left) + 10, _text_width(right) + 10
    total = lw + rw
    left_e, right_e = escape(left, quote=True), escape(right, quote=True)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" '
        f'aria-label="{left_e}: {right_e}"><title>{left_e}: {right_e}</title>'
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/>'
        '<stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{lw}" height="20" fill="{escape(left_colour, quote=True)}"/>'
        f'<rect x="{lw}" width="{rw}" height="20" fill="{escape(right_colour, quote=True)}"/>'
        f'<rect width="{total}" height="20" fill="url(#s)"/></g>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" '
        'text-rendering="geometricPrecision" font-size="110">'
        f'<text aria-hidden="true" x="{lw * 5}" y="150" fill="#010101" fill-opacity=".3" '
        f'transform="scale(.1)" textLength="{(lw - 10) * 10}">{left_e}</text>'
        f'<text x="{lw * 5}" y="140" transform="scale(.1)" fill="#fff" textLength="{(lw - 10) * 10}">{left_e}</text>'
        f'<text aria-hidden="true" x="{(lw + rw / 2) * 10:.0f}" y="150" fill="#010101" fill-opacity=".3" '
        f'transform="scale(.1)" textLength="{(rw - 10) * 10}">{right_e}</text>'
        f'<text x="{(lw + rw / 2) * 10:.0f}" y="140" transform="scale(.1)" fill="#fff" '
        f'textLength="{(rw - 10) * 10}">{right_e}</text></g></svg>'
    )
