"""SockJS framing and JSON, as pure functions (no I/O).

Implements the frames of SockJS protocol 0.3.3 (``o``, ``h``, ``a[...]``,
``c[code,"reason"]``) and the JSON escaping that browsers need: besides what
JSON itself escapes, a set of code points that some browsers mangle in
transit goes out as ``\\uXXXX``. Everything else non-ASCII goes out as raw
UTF-8, which is smaller and cheaper than escaping it.

Names kept from sockjs-tornado 1.x: ``CONNECT``, ``DISCONNECT``,
``MESSAGE``, ``HEARTBEAT``, ``json_encode``, ``json_decode``,
``disconnect``.
"""

import json
import re
from json.encoder import encode_basestring, encode_basestring_ascii  # type: ignore[attr-defined,unused-ignore]
from typing import Any, Iterable, List

__all__ = [
    "CONNECT",
    "DISCONNECT",
    "MESSAGE",
    "HEARTBEAT",
    "json_encode",
    "json_decode",
    "encode_message",
    "message_frame",
    "close_frame",
    "disconnect",
    "decode_messages",
    "decode_ws_message",
    "PayloadError",
    "message_text",
    "message_json",
    "utf8_len",
]

#: Frame that opens every session.
CONNECT = "o"
#: Prefix of a close frame.
DISCONNECT = "c"
#: Prefix of a message frame.
MESSAGE = "a"
#: Heartbeat frame.
HEARTBEAT = "h"

# Code points that must travel escaped although JSON would allow them raw.
# U+0000-U+001F are escaped by the JSON encoder itself (\n, \r, \t as short
# escapes, which the conformance suite expects, the rest as \u00XX).
_ESCAPE_RE = re.compile(
    "[\u007f-\u009f\u00ad\u0600-\u0604\u070f\u17b4\u17b5\u200c-\u200f"
    "\u2028-\u202f\u2060-\u206f\ufeff\ufff0-\uffff\ud800-\udfff]"
)


def _escape(match: "re.Match[str]") -> str:
    return "\\u%04x" % ord(match.group())


def encode_message(message: str) -> str:
    """Return ``message`` as a JSON string literal, SockJS-escaped.

    The result can be placed inside ``a[...]`` as is; a broadcast encodes a
    message once with this and hands the result to every session.
    """
    if message.isascii():
        # The C encoder; it escapes U+007F as well, the only ASCII code
        # point of the extra set.
        return encode_basestring_ascii(message)  # type: ignore[no-any-return,unused-ignore]
    return _ESCAPE_RE.sub(_escape, encode_basestring(message))


def utf8_len(text: str) -> int:
    """The length of ``text`` in UTF-8 bytes, what it takes on the wire
    (limits and byte counters are in bytes). ASCII text, the common case,
    costs no encoding: ``str.isascii`` reads a flag."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def json_encode(data: Any) -> str:
    """Encode any JSON value with SockJS escaping (1.x name)."""
    if isinstance(data, str):
        return encode_message(data)
    return _ESCAPE_RE.sub(_escape, json.dumps(data, ensure_ascii=False, separators=(",", ":")))


def json_decode(data: "str | bytes") -> Any:
    """Decode JSON text (1.x name); raises ``ValueError`` on broken input."""
    return json.loads(data)


def message_text(message: Any) -> str:
    """A message as text (raw websocket, multiplex payloads): ``bytes``
    decoded as UTF-8, other non-``str`` values as JSON text."""
    if isinstance(message, str):
        return message
    if isinstance(message, (bytes, bytearray, memoryview)):
        return bytes(message).decode("utf-8")
    return json_encode(message)


def message_json(message: Any) -> str:
    """A message as it goes inside ``a[...]``: text (``bytes`` decoded)
    as a JSON string; any other value as that JSON value, so the client's
    ``e.data`` is the object itself, as in 1.x."""
    if isinstance(message, str):
        return encode_message(message)
    if isinstance(message, (bytes, bytearray, memoryview)):
        return encode_message(bytes(message).decode("utf-8"))
    return json_encode(message)


def message_frame(encoded: Iterable[str]) -> str:
    """Build an ``a[...]`` frame from messages already passed through
    :func:`encode_message`."""
    return "a[" + ",".join(encoded) + "]"


def close_frame(code: int, reason: str) -> str:
    """Build a ``c[code,"reason"]`` frame."""
    return "c[%d,%s]" % (code, encode_message(reason))


#: 1.x name of :func:`close_frame`.
disconnect = close_frame


class PayloadError(ValueError):
    """A client payload that is not a JSON array of strings.

    ``str(error)`` is the protocol's answer (``Payload expected.`` or
    ``Broken JSON encoding.``).
    """


# The C scanner behind json.loads, called directly: json.loads spends about
# as long again on two whitespace regex matches around it, which client
# payloads never need (bench/README.md, "decode").
_scan_once = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _loads(payload: "str | bytes") -> Any:
    """``json.loads(payload)``, faster for a payload with no whitespace
    around it (what clients send); anything else goes to ``json.loads``,
    so errors and results are exactly its own."""
    if payload.__class__ is bytes:
        # UTF-8 for sure only when it starts with "[" and no NUL follows
        # (json.loads' own encoding detection, for the case that matters).
        if len(payload) < 2 or payload[0] != 0x5B or payload[1] == 0:
            return json.loads(payload)
        payload = payload.decode("utf-8", "surrogatepass")  # type: ignore[union-attr,unused-ignore]
    try:
        data, end = _scan_once(payload, 0)
    except StopIteration:
        return json.loads(payload)
    if end != len(payload):
        return json.loads(payload)
    return data


def _all_strings(data: List[Any]) -> bool:
    for m in data:
        if m.__class__ is not str:
            return False
    return True


PAYLOAD_EXPECTED = "Payload expected."
BROKEN_JSON = "Broken JSON encoding."


def decode_messages(payload: "str | bytes") -> List[str]:
    """Decode a client payload: a JSON array of strings.

    Raises :class:`PayloadError` for an empty payload or for anything that
    is not a JSON array of strings. ``[]`` gives an empty list.
    """
    if not payload:
        raise PayloadError(PAYLOAD_EXPECTED)
    try:
        data = _loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise PayloadError(BROKEN_JSON) from None
    if data.__class__ is not list or not _all_strings(data):
        raise PayloadError(BROKEN_JSON)
    strings: List[str] = data  # checked just above
    return strings


def decode_ws_message(payload: str) -> List[str]:
    """Decode one websocket text message of the SockJS websocket transport.

    Accepts a JSON array of strings or a bare JSON string; an empty message
    gives an empty list. Raises :class:`PayloadError` for anything else.
    """
    if not payload:
        return []
    try:
        data = _loads(payload)
    except ValueError:
        raise PayloadError(BROKEN_JSON) from None
    if data.__class__ is str:
        return [data]
    if data.__class__ is not list or not _all_strings(data):
        raise PayloadError(BROKEN_JSON)
    strings: List[str] = data  # checked just above
    return strings
