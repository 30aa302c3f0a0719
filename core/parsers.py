"""Request bodies at the edge: gzip read as RFC 1952 says, JSON read as UTF-8 into `Decimal`s (never
floats), an empty body read as {}, and text PostgreSQL cannot store refused before it goes further.

Text: a NUL character or an unpaired UTF-16 surrogate (`"\\u0000"`, `"\\udfff"`) is valid JSON but
cannot be stored in a PostgreSQL text or jsonb column (and SQLite's answer differs), so every string
(and object key) of a JSON body is checked here once, and a query string by
`core.middleware.RequestTextMiddleware`: a 400 naming the field, on both databases. Raw UTF-8 bytes
cannot carry either (the body is decoded strictly), so only a `\\u0000` or `\\ud800`-`\\udfff`
escape can; bodies without one (nearly all) are not walked at all.
"""

from __future__ import annotations

import json
import re
import zlib
from decimal import Decimal

import msgspec
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

MAX_DECOMPRESSED_BYTES = 10 * 1024 * 1024

BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
BAD_TEXT_MESSAGE = "must not contain NUL characters or unpaired surrogates"
# The escapes that can produce bad text in decoded JSON (a false positive only costs a walk).
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a valid JSON number")


# msgspec's decoder reads a body about twice as fast as `json.loads` and gives the same values
# (objects, lists, str, int of any size, every non-integer number through `Decimal` from its text).
# Whatever it refuses (a BOM, NaN, an unpaired surrogate escape, bad UTF-8, too deep, ...) is read
# again by `json.loads`, which accepts it or raises its own message: answers do not change.
_FAST_DECODER = msgspec.json.Decoder(float_hook=Decimal)


def loads_decimal(data: bytes | str):
    """json.loads with every non-integer number read as Decimal (never float). Bytes must be UTF-8
    (RFC 8259; a BOM is allowed): raw surrogates or other encodings are a UnicodeDecodeError."""
    try:
        return _FAST_DECODER.decode(data)
    except (msgspec.MsgspecError, ValueError, RecursionError):
        pass
    if isinstance(data, bytes | bytearray):
        data = data.decode("utf-8-sig")
    return json.loads(data, parse_float=Decimal, parse_constant=_reject_constant)


def may_hold_bad_text(raw: bytes) -> bool:
    """Whether a JSON body has an escape that could decode to a NUL or an unpaired surrogate."""
    return _SUSPECT_ESCAPE.search(raw) is not None


def shown_text(value: str) -> str:
    """A string safe to echo in a message: NULs and unpaired surrogates written as escapes."""
    return BAD_TEXT.sub(lambda match: f"\\u{ord(match[0]):04x}", value)


def bad_text_path(value) -> list | None:
    """The path (object keys and array indexes) to the first string or key of parsed JSON that
    holds a NUL or an unpaired surrogate, or None. Iterative: nesting depth costs no stack."""
    stack: list[tuple[list, object]] = [([], value)]
    while stack:
        path, item = stack.pop()
        if type(item) is str:
            if BAD_TEXT.search(item):
                return path
        elif type(item) is dict:
            for key, child in reversed(item.items()):
                if BAD_TEXT.search(key):
                    return [*path, key]
                stack.append(([*path, key], child))
        elif type(item) is list:
            stack.extend(
                ([*path, index], child) for index, child in reversed(list(enumerate(item)))
            )
    return None


def path_text(path: list) -> str:
    """`events[0].properties.name`-style text of a `bad_text_path` answer (keys shown safely)."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + shown_text(part)
    return text


def gunzip(raw: bytes) -> bytes:
    """Every member of a gzip body, concatenated (RFC 1952 section 2.2); anything after the last
    complete member, or a body larger than 10 MiB decompressed, is a 400."""
    out = []
    size = 0
    rest = raw
    try:
        while rest:
            decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
            chunk = decompressor.decompress(rest, MAX_DECOMPRESSED_BYTES - size + 1)
            size += len(chunk)
            if size > MAX_DECOMPRESSED_BYTES:
                raise ParseError("Decompressed body is larger than 10 MiB.")
            out.append(chunk)
            if not decompressor.eof:
                raise ParseError("Body is not valid gzip: the last member is incomplete.")
            rest = decompressor.unused_data
            if rest and not rest.startswith(b"\x1f\x8b"):
                raise ParseError("Body is not valid gzip: unexpected bytes after the last member.")
    except zlib.error as exc:
        raise ParseError(f"Body is not valid gzip: {exc}") from None
    return b"".join(out)


def read_body(stream, content_encoding: str) -> bytes:
    raw = stream.read() if stream is not None else b""
    if content_encoding.strip().lower() == "gzip":
        return gunzip(raw)
    return raw


class DecimalJSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        encoding = request.META.get("HTTP_CONTENT_ENCODING", "") if request is not None else ""
        raw = read_body(stream, encoding)
        if not raw.strip():
            return {}
        try:
            data = loads_decimal(raw)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise ParseError(f"Body is not valid JSON: {exc}") from None
        if may_hold_bad_text(raw):
            path = bad_text_path(data)
            if path is not None:
                raise ParseError(f"{path_text(path) or 'body'}: {BAD_TEXT_MESSAGE}")
        return data


def _number_text(value) -> str:
    """JSON text of a value whose Decimals are written as JSON numbers, digit for digit."""
    if isinstance(value, Decimal):
        return format(value, "f") if value.is_finite() else _reject_constant(str(value))
    if isinstance(value, dict):
        items = (f"{json.dumps(str(k))}:{_number_text(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_number_text(v) for v in value) + "]"
    return json.dumps(value)


class ExactJSONEncoder(json.JSONEncoder):
    """For JSONFields holding request values: Decimals stay exact numbers (never floats)."""

    def encode(self, o) -> str:
        return _number_text(o)


class ExactJSONDecoder(json.JSONDecoder):
    """Reads non-integer numbers back as Decimal."""

    def __init__(self, *args, **kwargs):
        kwargs["parse_float"] = Decimal
        super().__init__(*args, **kwargs)
