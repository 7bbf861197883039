"""Bench server: picows (a Cython websocket library for asyncio), a plain
websocket echo on every path: the ceiling for a websocket frame path in
Python, compared with our raw ``/echo/websocket`` (run.py ``raw_ws_echo``)."""

import asyncio
import sys

from picows import WSFrame, WSListener, WSMsgType, WSTransport, WSUpgradeRequest, ws_create_server


class Echo(WSListener):
    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()
        elif frame.msg_type in (WSMsgType.TEXT, WSMsgType.BINARY):
            transport.send(frame.msg_type, frame.get_payload_as_bytes())


async def main() -> None:
    def factory(request: WSUpgradeRequest) -> Echo:
        return Echo()

    server = await ws_create_server(factory, "127.0.0.1", int(sys.argv[1]), backlog=4096)
    print("LISTENING", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
