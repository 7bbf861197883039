#!/usr/bin/env node
/*
 * The real sockjs-client (Node build) against the API test server of
 * tests/test_api_real_client.py: for each transport and each service, open
 * a SockJS connection, send the service's messages once open, and record
 * what the page would see (messages, close code and reason).
 *
 * Input (stdin, JSON): {"server": "http://127.0.0.1:PORT",
 *   "transports": ["websocket", ...], "services": {"/path": ["msg", ...]},
 *   "timeout_ms": 10000}
 * Output (stdout, JSON): {"<transport>": {"/path": {opened, received, close}}}
 */
'use strict';

const path = require('path');
const SockJS = require(path.join(__dirname, '..', '..', 'node_modules', 'sockjs-client'));

function run(url, transport, toSend, timeoutMs) {
  const rec = { opened: false, received: [], close: null };
  return new Promise((resolve) => {
    const sock = new SockJS(url, null, { transports: [transport], timeout: 5000 });
    const timer = setTimeout(() => {
      rec.timedOut = true;
      try { sock.close(); } catch (e) { /* closed already */ }
      resolve(rec);
    }, timeoutMs);
    sock.onopen = () => {
      rec.opened = true;
      for (const m of toSend) sock.send(m);
    };
    sock.onmessage = (e) => { rec.received.push(e.data); };
    sock.onclose = (e) => {
      clearTimeout(timer);
      rec.close = { code: e.code, reason: e.reason };
      resolve(rec);
    };
  });
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const out = {};
  await Promise.all(input.transports.map(async (transport) => {
    out[transport] = {};
    for (const [svc, msgs] of Object.entries(input.services)) {
      out[transport][svc] = await run(input.server + svc, transport, msgs, input.timeout_ms || 10000);
    }
  }));
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => { process.stderr.write(String(e && e.stack || e) + '\n'); process.exit(1); });
