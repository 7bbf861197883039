"""A first end-to-end check of the conformance server."""

import requests
import websocket


def test_greeting_and_echo_over_xhr_and_websocket(test_server):
    r = requests.get(test_server.url + "/echo")
    assert r.status_code == 200
    assert r.text == "Welcome to SockJS!\n"

    base = test_server.url + "/echo/000/smoke1"
    assert requests.post(base + "/xhr").text == "o\n"
    assert requests.post(base + "/xhr_send", data='["hi"]').status_code == 204
    assert requests.post(base + "/xhr").text == 'a["hi"]\n'

    ws = websocket.create_connection(test_server.ws_url + "/echo/000/smoke2/websocket")
    try:
        assert ws.recv() == "o"
        ws.send('["x"]')
        assert ws.recv() == 'a["x"]'
    finally:
        ws.close()
