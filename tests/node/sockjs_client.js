#!/usr/bin/env node
/*
 * sockjs-client's Node build (require('sockjs-client'), root node_modules)
 * against a SockJS server: for each transport, echo a burst of messages on
 * <server>/echo and close with 1000, then open <server>/close and wait for
 * its close event.
 *
 * Input (stdin, one JSON object):
 *   {"server": "http://127.0.0.1:PORT", "transports": ["websocket", ...],
 *    "messages": ["..."], "step_timeout_ms": 15000, "origin": "http://page.test"}
 *   "origin" (optional) is sent as the Origin header of every request,
 *   as a page on that origin would.
 * Output (stdout, one JSON object):
 *   {"version": "1.6.1", "results": {"<transport>": {"echo": RECORD, "close": RECORD}}}
 * where RECORD = {opened, transport, received: [...], close: {code, reason, wasClean},
 *                 timedOut?, exception?}.
 * Exit status 0 when it could run at all (the caller judges the records),
 * 2 when sockjs-client is missing or the input is bad.
 */
'use strict';

const path = require('path');

let SockJS;
try {
  SockJS = require(path.join(__dirname, '..', '..', 'node_modules', 'sockjs-client'));
} catch (e) {
  process.stderr.write('sockjs-client not installed (run npm ci): ' + e.message + '\n');
  process.exit(2);
}

let transportOptions = {};

function claimOrigin(origin) {
  // The client has no option for it: add the header to every HTTP request
  // Node makes, and hand it to the websocket driver.
  for (const mod of [require('http'), require('https')]) {
    const request = mod.request;
    mod.request = function (options, callback) {
      options.headers = Object.assign({}, options.headers, { Origin: origin });
      return request.call(mod, options, callback);
    };
  }
  transportOptions = { websocket: { headers: { Origin: origin } } };
}

function session(url, transport, stepTimeout, onopen, onmessage) {
  const record = { opened: false, transport: null, received: [], close: null };
  return new Promise((resolve) => {
    let sock;
    const timer = setTimeout(() => {
      record.timedOut = true;
      try { sock.close(); } catch (e) { /* already closed */ }
      resolve(record);
    }, stepTimeout);
    try {
      // The client's own connect timeout is generous for a busy CI host.
      sock = new SockJS(url, null, { transports: [transport], timeout: 5000, transportOptions });
    } catch (e) {
      clearTimeout(timer);
      record.exception = String(e);
      resolve(record);
      return;
    }
    sock.onopen = () => {
      record.opened = true;
      record.transport = sock.transport;
      onopen(sock, record);
    };
    sock.onmessage = (e) => {
      record.received.push(e.data);
      onmessage(sock, record);
    };
    sock.onclose = (e) => {
      clearTimeout(timer);
      record.transport = record.transport || sock.transport || null;
      record.close = { code: e.code, reason: e.reason, wasClean: e.wasClean };
      resolve(record);
    };
  });
}

async function check(input, transport) {
  const messages = input.messages;
  const stepTimeout = input.step_timeout_ms || 15000;
  const echo = await session(input.server + '/echo', transport, stepTimeout, (sock) => {
    for (const m of messages) sock.send(m);
  }, (sock, record) => {
    if (record.received.length >= messages.length) sock.close(1000, 'done');
  });
  const close = await session(input.server + '/close', transport, stepTimeout, () => {}, () => {});
  return { echo, close };
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  let input;
  try {
    input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (e) {
    process.stderr.write('bad input: ' + e.message + '\n');
    process.exit(2);
  }
  if (input.origin) claimOrigin(input.origin);
  // Transports run side by side: they share nothing but the server.
  const names = input.transports;
  const records = await Promise.all(names.map((t) => check(input, t)));
  const results = {};
  names.forEach((t, i) => { results[t] = records[i]; });
  // Exit once the output is flushed (a pipe is written asynchronously):
  // faye-websocket and keep-alive agents may otherwise hold the loop open.
  process.stdout.write(JSON.stringify({ version: SockJS.version, results }) + '\n',
                       () => process.exit(0));
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + '\n');
  process.exit(2);
});
