"""Unit tests, no sockets: SockJS framing and JSON (proto.py), websocket
framing (wsframes.py) and settings validation (settings.py).

The expected bytes are the SockJS protocol's and RFC 6455's.
"""

import json
import logging
import struct

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from sockjs.tornado import SockJSConnection, SockJSRouter, proto, wsframes
from sockjs.tornado.settings import DEFAULT_SETTINGS, validate_settings

# -- proto: frames ------------------------------------------------------------


def test_fixed_frames():
    assert proto.CONNECT == "o"
    assert proto.HEARTBEAT == "h"
    assert proto.MESSAGE == "a"
    assert proto.DISCONNECT == "c"


def test_message_frame_batches_encoded_messages():
    encoded = [proto.encode_message(m) for m in ("m1", "m2", 'q"uote')]
    assert proto.message_frame(encoded) == 'a["m1","m2","q\\"uote"]'
    assert proto.message_frame([proto.encode_message("")]) == 'a[""]'


def test_close_frames():
    assert proto.close_frame(3000, "Go away!") == 'c[3000,"Go away!"]'
    assert proto.close_frame(2010, "Another connection still open") == 'c[2010,"Another connection still open"]'
    assert proto.close_frame(1002, "Connection interrupted") == 'c[1002,"Connection interrupted"]'
    # The reason is JSON-escaped like any message.
    assert proto.close_frame(4000, 'a"b\n\u2028') == 'c[4000,"a\\"b\\n\\u2028"]'
    assert proto.disconnect is proto.close_frame


# -- proto: escaping -----------------------------------------------------------

# Code points that must travel as \uXXXX.
ESCAPED_RANGES = [
    (0x0000, 0x001F),
    (0x007F, 0x009F),
    (0x00AD, 0x00AD),
    (0x0600, 0x0604),
    (0x070F, 0x070F),
    (0x17B4, 0x17B5),
    (0x200C, 0x200F),
    (0x2028, 0x202F),
    (0x2060, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF0, 0xFFFF),
    (0xD800, 0xDFFF),
]
# JSON's short escapes are fine for the C0 controls (the suite expects \n).
SHORT = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r"}


def _escaped_code_points():
    for lo, hi in ESCAPED_RANGES:
        yield from range(lo, hi + 1)


@pytest.mark.parametrize("lo,hi", ESCAPED_RANGES, ids=["%04X-%04X" % r for r in ESCAPED_RANGES])
def test_every_listed_code_point_is_escaped(lo, hi):
    for cp in range(lo, hi + 1):
        ch = chr(cp)
        expected = SHORT.get(cp, "\\u%04x" % cp)
        # Alone (ASCII fast path for U+007F and the C0 range), and next to
        # non-ASCII text (the path that escapes with a regex).
        assert proto.encode_message(ch) == '"%s"' % expected, hex(cp)
        assert proto.encode_message("\u00e9" + ch) == '"\u00e9%s"' % expected, hex(cp)


def test_escapes_are_lowercase_hex():
    assert proto.encode_message("\ufeff\u00ad\u206f") == '"\\ufeff\\u00ad\\u206f"'


@pytest.mark.parametrize("cp", [0xD800, 0xDBFF, 0xDC00, 0xDFFF])
def test_lone_surrogates_are_escaped(cp):
    s = "x" + chr(cp) + "\u00e9"
    assert proto.encode_message(s) == '"x\\u%04x\u00e9"' % cp
    assert json.loads(proto.encode_message(s)) == s


def test_other_non_ascii_goes_raw():
    raw = (
        "\u00a0\u00e9\u00ff\u0100\u0605\u0710\u17b3\u17b6\u2000\u200b"
        "\u2010\u2027\u2030\u205f\u2070\u4e2d\ufefe\uff01\uffef\U0001f600"
    )
    for ch in raw:
        assert proto.encode_message(ch) == '"%s"' % ch, hex(ord(ch))
    assert proto.encode_message(raw) == '"%s"' % raw


def test_ascii_is_plain_json():
    assert proto.encode_message('say "hi" \\ /') == '"say \\"hi\\" \\\\ /"'


def test_no_listed_code_point_survives_raw_in_a_long_string():
    # "x" between them: an escaped high surrogate followed by an escaped
    # low one would decode as one astral character (as in JavaScript).
    s = "x".join(chr(cp) for cp in _escaped_code_points()) + "\u00e9\u4e2d"
    out = proto.encode_message(s)
    assert out.isascii() is False  # the raw é and 中 stay raw
    for cp in _escaped_code_points():
        assert chr(cp) not in out, hex(cp)
    assert json.loads(out) == s


def test_json_encode_values():
    assert proto.json_encode("a\u2028") == '"a\\u2028"'
    assert proto.json_encode([1, "\u2028", {"k": "\u00e9"}]) == '[1,"\\u2028",{"k":"\u00e9"}]'
    assert proto.json_decode('{"a": [1]}') == {"a": [1]}
    with pytest.raises(ValueError):
        proto.json_decode("{")


@hsettings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF)))
def test_encode_round_trips_any_string(s):
    encoded = proto.encode_message(s)
    assert json.loads(encoded) == s
    for cp in _escaped_code_points():
        assert chr(cp) not in encoded
    frame = proto.message_frame([encoded])
    assert proto.decode_messages(frame[1:]) == [s]


# -- proto: decoding client payloads -------------------------------------------


def test_decode_round_trips_exactly():
    payload = r'["a", "\u0000\n\r\"\\/", "\ud800", "\udfff\ud83d\ude00", "\u2028\ufeff", "%61bc", ""]'
    assert proto.decode_messages(payload) == [
        "a",
        '\x00\n\r"\\/',
        "\ud800",
        "\udfff\U0001f600",
        "\u2028\ufeff",
        "%61bc",
        "",
    ]
    raw = '["\u00e9\u4e2d\U0001f600"]'.encode("utf-8")
    assert proto.decode_messages(raw) == ["\u00e9\u4e2d\U0001f600"]


def test_decode_empty_array_is_nothing():
    assert proto.decode_messages("[]") == []
    assert proto.decode_messages(b" [ ] ") == []


@pytest.mark.parametrize("payload", ["", b""])
def test_decode_empty_payload(payload):
    with pytest.raises(proto.PayloadError) as e:
        proto.decode_messages(payload)
    assert str(e.value) == "Payload expected."


@pytest.mark.parametrize(
    "payload",
    [
        '["x',
        "[",
        "x",
        '{"a": "b"}',
        '"a"',
        "[1]",
        '["a", null]',
        '[["a"]]',
        "null",
        b'["\xff"]',
        '["a"] x',
    ],
)
def test_decode_broken(payload):
    with pytest.raises(proto.PayloadError) as e:
        proto.decode_messages(payload)
    assert str(e.value) == "Broken JSON encoding."


def test_decode_ws_message():
    assert proto.decode_ws_message("") == []
    assert proto.decode_ws_message("[]") == []
    assert proto.decode_ws_message('"a"') == ["a"]
    assert proto.decode_ws_message('["a","\\u2028"]') == ["a", "\u2028"]
    for bad in ('["a', "1", "[1]", "{}", "null"):
        with pytest.raises(proto.PayloadError) as e:
            proto.decode_ws_message(bad)
        assert str(e.value) == "Broken JSON encoding."


# -- wsframes: helpers -----------------------------------------------------------

MASK = b"\x37\xfa\x21\x3d"


def client_frame(opcode, payload, fin=True, mask=MASK, rsv=0):
    """A masked frame as a client sends it."""
    b0 = (0x80 if fin else 0) | rsv | opcode
    n = len(payload)
    if n < 126:
        head = bytes((b0, 0x80 | n))
    elif n < 65536:
        head = struct.pack("!BBH", b0, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", b0, 0x80 | 127, n)
    masked = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
    return head + mask + masked


def feed_all(parser, data, split=None):
    if split is None:
        return parser.feed(data)
    return parser.feed(data[:split]) + parser.feed(data[split:])


# -- wsframes: server frames -------------------------------------------------------


@pytest.mark.parametrize(
    "n,header",
    [
        (0, b"\x81\x00"),
        (125, b"\x81\x7d"),
        (126, b"\x81\x7e\x00\x7e"),
        (65535, b"\x81\x7e\xff\xff"),
        (65536, b"\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00"),
    ],
)
def test_build_frame_length_classes(n, header):
    payload = b"x" * n
    frame = wsframes.build_frame(wsframes.OP_TEXT, payload)
    assert frame == header + payload


def test_build_frame_opcodes_are_final_and_unmasked():
    assert wsframes.build_frame(wsframes.OP_BINARY, b"\x00\x01") == b"\x82\x02\x00\x01"
    assert wsframes.build_frame(wsframes.OP_PING, b"") == b"\x89\x00"
    assert wsframes.build_frame(wsframes.OP_PONG, b"p") == b"\x8a\x01p"
    close = wsframes.build_frame(wsframes.OP_CLOSE, wsframes.close_payload(3000, "Go away!"))
    assert close == b"\x88\x0a\x0b\xb8Go away!"


def test_close_payload_round_trip_and_truncation():
    assert wsframes.parse_close_payload(wsframes.close_payload(1000, "bye")) == (1000, "bye")
    assert wsframes.parse_close_payload(b"") == (None, "")
    assert wsframes.parse_close_payload(b"\x03") == (None, "")
    long = wsframes.close_payload(4000, "r" * 300)
    assert len(long) == 125  # a control frame's payload limit


def test_accept_key_vector():
    assert wsframes.accept_key("x3JJHMbDL1EzLkh9GBhXDw==") == "HSmrc0sMlYUkAGmm5OPpG2HaGWk="
    assert wsframes.accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_hixie76_answer_vector():
    answer = wsframes.hixie76_answer("4 @1  46546xW%0l 1 5", "12998 5 Y3 1  .P00", b"aaaaaaaa")
    assert answer == b"\xca4\x00\xd8\xa5\x08G\x97,\xd5qZ\xba\xbfC{"


@pytest.mark.parametrize("key", ["12345", "1 2 3", ""])
def test_hixie76_bad_keys(key):
    # No spaces, or a number not divisible by the number of spaces.
    with pytest.raises(wsframes.ProtocolError) as e:
        wsframes.hixie76_answer(key, "1 2", b"12345678")
    assert e.value.code == 1002


# -- wsframes: parsing client frames -----------------------------------------------


@pytest.mark.parametrize("n", [0, 5, 125, 126, 300])
def test_parse_split_at_every_byte_boundary(n):
    payload = bytes(range(256)) * (n // 256) + bytes(range(n % 256))
    data = client_frame(wsframes.OP_BINARY, payload) + client_frame(wsframes.OP_TEXT, b"tail")
    for split in range(len(data) + 1):
        parser = wsframes.FrameParser(1 << 20)
        assert feed_all(parser, data, split) == [(wsframes.OP_BINARY, payload), (wsframes.OP_TEXT, "tail")], split
        assert parser.buffered == 0


def test_parse_byte_by_byte_and_large_frame():
    payload = b"\xe2\x82\xac" * 23000  # 69000 bytes: 64-bit length class
    data = client_frame(wsframes.OP_TEXT, payload)
    for split in (1, 2, 9, 10, 13, 14, 15, 1000, len(data) - 1):
        parser = wsframes.FrameParser(1 << 20)
        assert feed_all(parser, data, split) == [(wsframes.OP_TEXT, payload.decode())], split
    parser = wsframes.FrameParser(1 << 20)
    out = []
    small = client_frame(wsframes.OP_TEXT, b"hello") * 3
    for i in range(len(small)):
        out += parser.feed(small[i : i + 1])
    assert out == [(wsframes.OP_TEXT, "hello")] * 3


def test_many_frames_in_one_buffer():
    data = b"".join(client_frame(wsframes.OP_TEXT, b"m%d" % i) for i in range(50))
    assert wsframes.FrameParser(1000).feed(data) == [(wsframes.OP_TEXT, "m%d" % i) for i in range(50)]


def test_fragmented_message_with_interleaved_control_frames():
    data = (
        client_frame(wsframes.OP_TEXT, b"he", fin=False)
        + client_frame(wsframes.OP_PING, b"p1")
        + client_frame(wsframes.OP_CONT, b"ll", fin=False)
        + client_frame(wsframes.OP_PONG, b"")
        + client_frame(wsframes.OP_CONT, b"o")
    )
    for split in range(len(data) + 1):
        parser = wsframes.FrameParser(100)
        assert feed_all(parser, data, split) == [
            (wsframes.OP_PING, b"p1"),
            (wsframes.OP_PONG, b""),
            (wsframes.OP_TEXT, "hello"),
        ], split


def test_consecutive_fragmented_messages_start_afresh():
    # What a message in several frames or reads keeps (its opcode, its UTF-8
    # state) ends with it: a binary message after a text one split inside a
    # character is not read as text, and the parser holds nothing after.
    euro = "\u20ac".encode()
    data = (
        client_frame(wsframes.OP_TEXT, euro[:2], fin=False)
        + client_frame(wsframes.OP_CONT, euro[2:])
        + client_frame(wsframes.OP_BINARY, b"\xff", fin=False)
        + client_frame(wsframes.OP_CONT, b"\xfe" * 200)
        + client_frame(wsframes.OP_TEXT, b"x")
    )
    for split in range(len(data) + 1):
        parser = wsframes.FrameParser(1000)
        assert feed_all(parser, data, split) == [
            (wsframes.OP_TEXT, "\u20ac"),
            (wsframes.OP_BINARY, b"\xff" + b"\xfe" * 200),
            (wsframes.OP_TEXT, "x"),
        ], split
        assert parser.buffered == 0


def test_control_frames():
    parser = wsframes.FrameParser(100)
    close = client_frame(wsframes.OP_CLOSE, wsframes.close_payload(1001, "bye"))
    assert parser.feed(client_frame(wsframes.OP_PING, b"x" * 125)) == [(wsframes.OP_PING, b"x" * 125)]
    assert parser.feed(close + client_frame(wsframes.OP_TEXT, b"after")) == [(wsframes.OP_CLOSE, b"\x03\xe9bye")]
    # Nothing after a close frame counts.
    assert parser.feed(client_frame(wsframes.OP_TEXT, b"later")) == []


def test_messages_before_a_bad_frame_come_with_the_error():
    good = client_frame(wsframes.OP_TEXT, b"one") + client_frame(wsframes.OP_BINARY, b"\x00two")
    with pytest.raises(wsframes.ProtocolError) as e:
        wsframes.FrameParser(100).feed(good + client_frame(wsframes.OP_TEXT, b"a", rsv=0x20))
    assert e.value.code == 1002
    assert e.value.messages == [(wsframes.OP_TEXT, "one"), (wsframes.OP_BINARY, b"\x00two")]
    with pytest.raises(wsframes.ProtocolError) as e:
        wsframes.FrameParser(100).feed(good + client_frame(wsframes.OP_TEXT, b"\xff"))
    assert e.value.code == 1007
    assert len(e.value.messages) == 2


def test_binary_messages_are_bytes_and_not_checked_as_utf8():
    parser = wsframes.FrameParser(100)
    data = client_frame(wsframes.OP_BINARY, b"\xff", fin=False) + client_frame(wsframes.OP_CONT, b"\xfe")
    assert parser.feed(data) == [(wsframes.OP_BINARY, b"\xff\xfe")]


def test_invalid_utf8_fails_at_the_fragment_where_it_appears():
    # The message would only end later: the bad fragment alone fails it.
    parser = wsframes.FrameParser(1000)
    assert parser.feed(client_frame(wsframes.OP_TEXT, "\u03ba\u1f79".encode(), fin=False)) == []
    with pytest.raises(wsframes.ProtocolError) as e:
        parser.feed(client_frame(wsframes.OP_CONT, b"\xf4\x90\x80\x80", fin=False))
    assert e.value.code == 1007
    # A code point split across fragments is fine.
    parser = wsframes.FrameParser(1000)
    euro = "\u20ac".encode()
    data = client_frame(wsframes.OP_TEXT, euro[:1], fin=False) + client_frame(wsframes.OP_CONT, euro[1:])
    assert parser.feed(data) == [(wsframes.OP_TEXT, "\u20ac")]
    # Truncated at the end of the message: invalid.
    with pytest.raises(wsframes.ProtocolError) as e:
        wsframes.FrameParser(1000).feed(
            client_frame(wsframes.OP_TEXT, euro[:2], fin=False) + client_frame(wsframes.OP_CONT, b"")
        )
    assert e.value.code == 1007


def test_invalid_utf8_fails_within_a_frame_still_arriving():
    payload = "\u03ba\u1f79\u03c3\u03bc\u03b5".encode() + b"\xf4\x90\x80\x80" + b"edited" * 20
    data = client_frame(wsframes.OP_TEXT, payload)
    parser = wsframes.FrameParser(1000)
    head = 4 + 4 + 11  # frame header, mask, the valid text
    assert parser.feed(data[:head]) == []
    with pytest.raises(wsframes.ProtocolError) as e:
        parser.feed(data[head : head + 2])
    assert e.value.code == 1007


@pytest.mark.parametrize(
    "payload,code",
    [
        (b"\x03", 1002),
        (struct.pack("!H", 999), 1002),
        (struct.pack("!H", 1004), 1002),
        (struct.pack("!H", 1005), 1002),
        (struct.pack("!H", 1006), 1002),
        (struct.pack("!H", 1015), 1002),
        (struct.pack("!H", 1016), 1002),
        (struct.pack("!H", 2999), 1002),
        (struct.pack("!H", 5000), 1002),
        (struct.pack("!H", 1000) + b"\xce\xba\xe1\xbd", 1007),
    ],
)
def test_invalid_close_frames(payload, code):
    with pytest.raises(wsframes.ProtocolError) as e:
        wsframes.FrameParser(100).feed(client_frame(wsframes.OP_CLOSE, payload))
    assert e.value.code == code


@pytest.mark.parametrize(
    "code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]
)
def test_valid_close_codes(code):
    payload = wsframes.close_payload(code, "\u00e9")
    assert wsframes.FrameParser(100).feed(client_frame(wsframes.OP_CLOSE, payload)) == [(wsframes.OP_CLOSE, payload)]


@pytest.mark.parametrize(
    "data,code",
    [
        (client_frame(wsframes.OP_TEXT, b"a")[:1] + bytes((1,)) + b"a", 1002),  # not masked
        (client_frame(wsframes.OP_TEXT, b"a", rsv=0x40), 1002),  # reserved bit
        (client_frame(0x3, b"a"), 1002),  # unknown data opcode
        (client_frame(0xB, b"a"), 1002),  # unknown control opcode
        (client_frame(wsframes.OP_PING, b"x" * 126), 1002),  # control too long
        (client_frame(wsframes.OP_PING, b"x", fin=False), 1002),  # fragmented control
        (client_frame(wsframes.OP_CONT, b"x"), 1002),  # continuation, no start
        (
            client_frame(wsframes.OP_TEXT, b"a", fin=False) + client_frame(wsframes.OP_TEXT, b"b"),
            1002,
        ),  # new message mid-way
        (client_frame(wsframes.OP_TEXT, b"x" * 101), 1009),  # too big
        (
            client_frame(wsframes.OP_TEXT, b"x" * 60, fin=False) + client_frame(wsframes.OP_CONT, b"x" * 60),
            1009,
        ),  # too big in fragments
    ],
    ids=[
        "unmasked",
        "rsv",
        "opcode3",
        "opcodeB",
        "long-control",
        "frag-control",
        "orphan-cont",
        "interleaved-start",
        "too-big",
        "too-big-fragments",
    ],
)
def test_protocol_errors_carry_their_close_code(data, code):
    with pytest.raises(wsframes.ProtocolError) as e:
        wsframes.FrameParser(100).feed(data)
    assert e.value.code == code
    assert e.value.reason


def test_too_big_is_refused_from_the_header_alone():
    # Only the 10-byte header of a 1 GB frame: refused before any payload.
    header = struct.pack("!BBQ", 0x81, 0x80 | 127, 1 << 30) + MASK
    with pytest.raises(wsframes.ProtocolError) as e:
        wsframes.FrameParser(1 << 20).feed(header)
    assert e.value.code == 1009


# -- wsframes: hixie-76 framing ------------------------------------------------------


def test_hixie76_frames():
    assert wsframes.build_hixie76_frame("\u00e9".encode()) == b"\x00\xc3\xa9\xff"
    data = b"\x00a\xff\x00\xc3\xa9\xff\x00\xff"
    for split in range(len(data) + 1):
        parser = wsframes.Hixie76Parser(100)
        assert feed_all(parser, data, split) == [
            (wsframes.OP_TEXT, "a"),
            (wsframes.OP_TEXT, "\u00e9"),
            (wsframes.OP_TEXT, ""),
        ], split
    parser = wsframes.Hixie76Parser(100)
    assert parser.feed(b"\x00x\xff\xff\x00") == [(wsframes.OP_TEXT, "x"), (wsframes.OP_CLOSE, b"")]


def test_hixie76_errors():
    with pytest.raises(wsframes.ProtocolError) as e:
        wsframes.Hixie76Parser(100).feed(b"\x41abc")
    assert e.value.code == 1002
    with pytest.raises(wsframes.ProtocolError) as e:
        wsframes.Hixie76Parser(10).feed(b"\x00" + b"y" * 20)
    assert e.value.code == 1009


# -- settings ------------------------------------------------------------------------


def test_one_x_defaults():
    d = DEFAULT_SETTINGS
    assert d["session_check_interval"] == 1
    assert d["disconnect_delay"] == 5
    assert d["heartbeat_delay"] == 25
    assert d["disabled_transports"] == []
    assert d["response_limit"] == 128 * 1024
    assert d["jsessionid"] is True
    assert d["immediate_flush"] is True
    assert d["disable_nagle"] is True
    assert d["verify_ip"] is True
    assert d["websocket_allow_origin"] == "*"
    assert d["sockjs_url"].startswith("https://") and "sockjs-client@1." in d["sockjs_url"]


def test_unknown_key_is_kept_and_named_with_the_nearest_known_key(caplog):
    caplog.set_level(logging.WARNING, logger="sockjs.tornado")
    s = validate_settings({"heartbeat_dealy": 1})
    assert s["heartbeat_dealy"] == 1 and s["heartbeat_delay"] == 25
    [record] = [r for r in caplog.records if r.name == "sockjs.tornado"]
    assert record.levelno == logging.WARNING
    assert "'heartbeat_dealy'" in record.getMessage() and "'heartbeat_delay'" in record.getMessage()


WRONG_TYPES = {
    "session_check_interval": "1",
    "disconnect_delay": None,
    "heartbeat_delay": True,
    "disabled_transports": "websocket",
    "sockjs_url": 1,
    "response_limit": 1.5,
    "jsessionid": "yes",
    "immediate_flush": "no",
    "disable_nagle": None,
    "verify_ip": [],
    "websocket_allow_origin": 5,
    "max_message_size": "1",
    "max_queue_size": None,
    "max_inbox_messages": 2.0,
    "ping_timeout": "10",
    "allowed_origins": 5,
}


@pytest.mark.parametrize("key", sorted(WRONG_TYPES))
def test_wrong_type_is_named(key):
    assert key in DEFAULT_SETTINGS
    with pytest.raises(TypeError, match=key):
        validate_settings({key: WRONG_TYPES[key]})


def test_every_setting_has_a_wrong_type_case():
    assert set(WRONG_TYPES) <= set(DEFAULT_SETTINGS)


@pytest.mark.parametrize(
    "key,value",
    [
        ("disconnect_delay", -1),
        ("heartbeat_delay", 0),
        ("response_limit", 0),
        ("disabled_transports", ["websockets"]),
    ],
)
def test_bad_values_are_named(key, value):
    with pytest.raises(ValueError, match=key):
        validate_settings({key: value})


def test_valid_settings_merge_over_defaults():
    s = validate_settings({"heartbeat_delay": 0.3, "disabled_transports": ["websocket", "xhr"]})
    assert s["heartbeat_delay"] == 0.3
    assert s["disabled_transports"] == ["websocket", "xhr"]
    assert s["disconnect_delay"] == 5


class _Conn(SockJSConnection):
    def on_message(self, message):
        pass


def test_router_validates_at_construction():
    with pytest.raises(ValueError, match="disabled_transports"):
        SockJSRouter(_Conn, "/x", {"disabled_transports": ["bogus"]})
    with pytest.raises(TypeError, match="response_limit"):
        SockJSRouter(_Conn, "/x", {"response_limit": "big"})
    router = SockJSRouter(_Conn, "/x", {"jsessionid": False, "disabled_transports": ["websocket"]})
    assert router.cookie_needed is False
    assert router.websockets_enabled is False
