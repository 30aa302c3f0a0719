"""JSON parsing that never produces floats, and that reads an empty body as {}."""

import gzip
import json
import zlib
from decimal import Decimal

from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

MAX_DECOMPRESSED_BYTES = 10 * 1024 * 1024


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a valid JSON number")


def loads_decimal(data: bytes | str):
    """json.loads with every non-integer number read as Decimal (never float)."""
    return json.loads(data, parse_float=Decimal, parse_constant=_reject_constant)


def read_body(stream, content_encoding: str) -> bytes:
    raw = stream.read() if stream is not None else b""
    if content_encoding.strip().lower() == "gzip":
        try:
            decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
            raw = decompressor.decompress(raw, MAX_DECOMPRESSED_BYTES)
            if decompressor.unconsumed_tail:
                raise ParseError("Decompressed body is larger than 10 MiB.")
        except (OSError, zlib.error, gzip.BadGzipFile) as exc:
            raise ParseError(f"Body is not valid gzip: {exc}") from None
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
            return loads_decimal(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"Body is not valid JSON: {exc}") from None


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
