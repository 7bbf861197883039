"""What a websocket handshake negotiates besides the upgrade itself, without
I/O: the extensions (permessage-deflate, RFC 7692) and the subprotocol
(``Sec-WebSocket-Protocol``, RFC 6455 section 4.2.2).

:func:`negotiate` takes the request's header values and the server's
choices and returns :class:`Negotiated`: the lines to add to the
handshake answer, the agreed compression, the chosen subprotocol.
"""

import re
from typing import Any, Callable, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from sockjs.tornado.wsdeflate import DEFAULT_LEVEL, DEFAULT_MEM_LEVEL, DeflateParams

__all__ = ["Negotiated", "negotiate", "parse_extensions", "parse_subprotocols", "negotiate_deflate"]

#: One extension offer: its name and its parameters in order (a parameter
#: without a value has ``None``).
Offer = Tuple[str, List[Tuple[str, Optional[str]]]]

# An HTTP token, a quoted string, or one of the separators , ; =
_LEXEME = re.compile(r'\s*(?:([!#$%&\'*+\-.^_`|~0-9A-Za-z]+)|"((?:[^"\\]|\\.)*)"|([,;=]))')


class Negotiated(NamedTuple):
    """The outcome of a handshake's negotiation."""

    #: Header lines for the answer, each ending with CRLF.
    header_lines: str = ""
    #: The subprotocol the application chose, if any.
    subprotocol: Optional[str] = None
    #: The agreed permessage-deflate parameters, if any.
    deflate: Optional[DeflateParams] = None


def _lex(value: str) -> Optional[List[Tuple[str, str]]]:
    """``(kind, text)`` lexemes of a header value (kind ``t`` token, ``q``
    quoted string, ``s`` separator); ``None`` if it does not lex."""
    out: List[Tuple[str, str]] = []
    pos = 0
    value = value.rstrip()
    while pos < len(value):
        m = _LEXEME.match(value, pos)
        if m is None:
            return None
        if m.group(1) is not None:
            out.append(("t", m.group(1)))
        elif m.group(2) is not None:
            out.append(("q", re.sub(r"\\(.)", r"\1", m.group(2))))
        else:
            out.append(("s", m.group(3)))
        pos = m.end()
    return out


def parse_extensions(values: Sequence[str]) -> List[Offer]:
    """The offers of ``Sec-WebSocket-Extensions`` header values, in order.
    An offer that does not parse is left out (the others still count)."""
    offers: List[Offer] = []
    for value in values:
        lexemes = _lex(value)
        if lexemes is None:
            continue
        # Split at the commas, then read name (; param[=value])*.
        item: List[Tuple[str, str]] = []
        for lexeme in lexemes + [("s", ",")]:
            if lexeme != ("s", ","):
                item.append(lexeme)
                continue
            offer = _parse_offer(item)
            if offer is not None:
                offers.append(offer)
            item = []
    return offers


def _parse_offer(item: List[Tuple[str, str]]) -> Optional[Offer]:
    if not item or item[0][0] != "t":
        return None
    name = item[0][1].lower()
    params: List[Tuple[str, Optional[str]]] = []
    i = 1
    while i < len(item):
        if item[i] != ("s", ";") or i + 1 >= len(item) or item[i + 1][0] != "t":
            return None
        key = item[i + 1][1].lower()
        i += 2
        value: Optional[str] = None
        if i < len(item) and item[i] == ("s", "="):
            if i + 1 >= len(item) or item[i + 1][0] == "s":
                return None
            value = item[i + 1][1]
            i += 2
        params.append((key, value))
    return name, params


def parse_subprotocols(values: Sequence[str]) -> List[str]:
    """The subprotocols a client offers, in its order of preference."""
    out: List[str] = []
    for value in values:
        for token in value.split(","):
            token = token.strip()
            if token and token not in out:
                out.append(token)
    return out


def _window_bits(value: Optional[str]) -> Optional[int]:
    """8-15 written as RFC 7692 wants it (no sign, no leading zero), else
    ``None``."""
    if value is None or not re.fullmatch(r"[1-9][0-9]?", value):
        return None
    bits = int(value)
    return bits if 8 <= bits <= 15 else None


def negotiate_deflate(offers: Sequence[Offer], options: Mapping[str, Any]) -> Optional[Tuple[DeflateParams, str]]:
    """Accept the first permessage-deflate offer whose parameters are valid
    (RFC 7692 section 7): the agreed parameters, and the response's
    extension value. ``options`` are the ``websocket_compression``
    setting's.

    The server compresses within the window the client allows, drops its
    context between messages when the client asks it to (or when
    ``options["server_no_context_takeover"]``), and answers
    ``client_no_context_takeover`` when the client offers it (then frees
    its decompressor between messages). It never limits the client's
    window: any window decodes with its own 32 KiB one.
    """
    for name, params in offers:
        if name != "permessage-deflate":
            continue
        seen = set()
        server_nct = client_nct = False
        server_bits: Optional[int] = None
        valid = True
        for key, value in params:
            if key in seen:
                valid = False
                break
            seen.add(key)
            if key == "server_no_context_takeover" and value is None:
                server_nct = True
            elif key == "client_no_context_takeover" and value is None:
                client_nct = True
            elif key == "server_max_window_bits":
                server_bits = _window_bits(value)
                if server_bits is None:
                    valid = False
                    break
            elif key == "client_max_window_bits":
                # The client may use a smaller window than ours; we do
                # not ask it to.
                if value is not None and _window_bits(value) is None:
                    valid = False
                    break
            else:
                valid = False
                break
        if not valid:
            continue
        server_nct = server_nct or bool(options.get("server_no_context_takeover", False))
        response = ["permessage-deflate"]
        if server_nct:
            response.append("server_no_context_takeover")
        if client_nct:
            response.append("client_no_context_takeover")
        if server_bits is not None:
            response.append("server_max_window_bits=%d" % server_bits)
        agreed = DeflateParams(
            server_no_context_takeover=server_nct,
            client_no_context_takeover=client_nct,
            server_max_window_bits=server_bits if server_bits is not None else 15,
            compression_level=options.get("compression_level", DEFAULT_LEVEL),
            mem_level=options.get("mem_level", DEFAULT_MEM_LEVEL),
        )
        return agreed, "; ".join(response)
    return None


def negotiate(
    extensions: Sequence[str],
    subprotocols: Sequence[str],
    compression: Optional[Mapping[str, Any]],
    select_subprotocol: Callable[[List[str]], Optional[str]],
) -> Negotiated:
    """Negotiate a handshake: ``extensions`` and ``subprotocols`` are the
    values of the request's ``Sec-WebSocket-Extensions`` and
    ``Sec-WebSocket-Protocol`` headers; ``compression`` the
    ``websocket_compression`` setting (``None``: no compression);
    ``select_subprotocol`` is given the offered subprotocols (maybe none)
    and returns one of them or ``None``.

    :raises ValueError: ``select_subprotocol`` chose one not offered.
    """
    lines = []
    offered = parse_subprotocols(subprotocols)
    chosen = select_subprotocol(offered)
    if chosen is not None:
        if chosen not in offered:
            raise ValueError(
                "select_subprotocol() returned %r, which the client did not offer (%r)" % (chosen, offered)
            )
        lines.append("Sec-WebSocket-Protocol: %s\r\n" % chosen)
    deflate: Optional[DeflateParams] = None
    if compression is not None and extensions:
        accepted = negotiate_deflate(parse_extensions(extensions), compression)
        if accepted is not None:
            deflate, value = accepted
            lines.append("Sec-WebSocket-Extensions: %s\r\n" % value)
    return Negotiated("".join(lines), chosen, deflate)
