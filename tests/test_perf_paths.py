"""The fast paths kept by the benchmark (bench/README.md) keep the
protocol's promises: broadcast frames held until the end of a loop turn
still arrive complete and in order, before a close; client payloads decode
exactly as ``json.loads`` would have them."""

import json
from typing import Any, List, Set

import pytest
import websocket
from conftest import router_app

from sockjs.tornado import SockJSConnection, proto


class Burst(SockJSConnection):
    clients: Set["Burst"] = set()

    def on_open(self, info: Any) -> None:
        self.clients.add(self)

    def on_message(self, message: str) -> None:
        others = [c for c in self.clients if c is not self]
        if message == "burst":
            # Several broadcasts and a plain send in one loop turn.
            self.broadcast(self.clients, "b1")
            self.broadcast(self.clients, "b2")
            self.send("direct")
            self.broadcast(self.clients, "b3")
        elif message == "burst-close":
            self.broadcast(self.clients, "b1")
            self.broadcast(self.clients, "b2")
            for c in others:
                c.close(3001, "bye")

    def on_close(self) -> None:
        self.clients.discard(self)


def _open(srv: Any) -> Any:
    ws = websocket.create_connection(srv.ws_url + "/burst/000/x/websocket", timeout=5)
    assert ws.recv() == "o"
    return ws


def _messages(ws: Any, n: int) -> List[str]:
    got: List[str] = []
    while len(got) < n:
        frame = ws.recv()
        assert frame.startswith("a"), frame
        got.extend(json.loads(frame[1:]))
    return got


@pytest.fixture
def burst_server(make_server: Any) -> Any:
    Burst.clients.clear()
    return make_server(router_app(Burst, "/burst"))


def test_broadcast_burst_arrives_in_order(burst_server: Any) -> None:
    sender, receivers = _open(burst_server), [_open(burst_server) for _ in range(3)]
    try:
        for _ in range(3):
            sender.send('["burst"]')
            assert _messages(sender, 4) == ["b1", "b2", "direct", "b3"]
            for r in receivers:
                assert _messages(r, 3) == ["b1", "b2", "b3"]
    finally:
        for ws in [sender] + receivers:
            ws.close()


def test_held_broadcast_frames_go_out_before_a_close(burst_server: Any) -> None:
    sender, receiver = _open(burst_server), _open(burst_server)
    try:
        sender.send('["burst-close"]')
        assert _messages(receiver, 2) == ["b1", "b2"]
        assert receiver.recv() == 'c[3001,"bye"]'
    finally:
        sender.close()
        receiver.close()


PAYLOADS = [
    '["a"]',
    '"x"',
    '["a","b\\u00e9"]',
    ' ["a"]',
    '["a"] ',
    '["a"]x',
    "[1]",
    "{}",
    "[",
    "[]",
    '["\\ud800"]',
    '\ufeff["a"]',
    '"\\n"',
    '["a",]',
    "NaN",
    "[NaN]",
    '["\x01"]',
    '[["a"]]',
    '["\u2028"]',
    "null",
    '["a"]\n',
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_decoding_matches_json_loads(payload: str) -> None:
    def reference(p: "str | bytes", bare_string: bool) -> Any:
        try:
            data = json.loads(p)
        except ValueError:
            return "error"
        if bare_string and isinstance(data, str):
            return [data]
        if not isinstance(data, list) or not all(isinstance(m, str) for m in data):
            return "error"
        return data

    def ours(fn: Any, p: "str | bytes") -> Any:
        try:
            return fn(p)
        except proto.PayloadError:
            return "error"

    assert ours(proto.decode_ws_message, payload) == reference(payload, True)
    assert ours(proto.decode_messages, payload) == reference(payload, False)
    for encoding in ("utf-8", "utf-16-le"):
        try:
            body = payload.encode(encoding, "surrogatepass")
        except UnicodeEncodeError:
            continue
        assert ours(proto.decode_messages, body) == reference(body, False)


def _stream(srv: Any) -> Any:
    from protocol_helpers import RawHTTP, sid

    c = RawHTTP(srv.port)
    resp = c.request("POST", "/burst/000/%s/xhr_streaming" % sid())
    assert resp.status == 200
    c.read_chunk()  # the prelude
    assert c.read_chunk() == b"o\n"
    return c


def _stream_frames(c: Any, n: int) -> List[str]:
    frames: List[str] = []
    while len(frames) < n:
        frames.extend(line for line in c.read_chunk().decode().split("\n") if line)
    return frames


def test_streams_get_a_turns_broadcasts_in_one_write_in_order(burst_server: Any) -> None:
    sender = _open(burst_server)
    streams = [_stream(burst_server) for _ in range(2)]
    try:
        for _ in range(3):
            sender.send('["burst"]')
            assert _messages(sender, 4) == ["b1", "b2", "direct", "b3"]
            for c in streams:
                # One chunk, one write: the turn's broadcasts (the first
                # held to the end of the turn, the rest queued meanwhile).
                frames = c.read_chunk().decode().split("\n")
                assert frames[-1] == ""
                got = [m for f in frames[:-1] for m in json.loads(f[1:])]
                assert got == ["b1", "b2", "b3"]
    finally:
        sender.close()
        for c in streams:
            c.close()


def test_held_stream_frames_go_out_before_a_close(burst_server: Any) -> None:
    sender, stream = _open(burst_server), _stream(burst_server)
    try:
        sender.send('["burst-close"]')
        frames: List[str] = []
        while not frames or not frames[-1].startswith("c"):
            frames.extend(_stream_frames(stream, 1))
        assert frames[-1] == 'c[3001,"bye"]'
        assert [m for f in frames[:-1] for m in json.loads(f[1:])] == ["b1", "b2"]
    finally:
        sender.close()
        stream.close()
