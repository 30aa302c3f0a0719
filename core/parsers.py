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
