#!/usr/bin/env node
/*
 * Headless Chromium page runner for the test suite (and the examples).
 *
 * Starts ONE Debian Chromium (/usr/bin/chromium, or $CHROMIUM) through
 * playwright-core, then serves commands given as JSON lines on stdin and
 * answers each with one JSON line on stdout. Every page gets a fresh browser
 * context (own cookies and storage), so pages never see each other.
 *
 * Protocol (one JSON object per line, both ways):
 *
 *   <- {"event": "ready", "browser": "<version>"}      once the browser runs
 *   -> {"id": 1, "op": "run", "url": "http://127.0.0.1:PORT/page.html",
 *       "done": "window.__result", "timeout_ms": 20000,
 *       "progress": "window.__progress"}
 *   <- {"id": 1, "ok": true, "result": <value of done>,
 *       "console": ["log: ..."], "errors": ["..."], "elapsed_ms": 812}
 *
 *   "run" opens the url, waits until the JavaScript expression `done` is
 *   neither undefined nor null, and answers with its value (it must be
 *   JSON-serialisable). On timeout or a navigation failure the answer has
 *   "ok": false, "error": "<why>", and "result" holds the value of the
 *   optional `progress` expression at that moment (to see how far the page
 *   got). "console" has the page's console messages, "errors" its uncaught
 *   exceptions. Commands run concurrently (at most --max-pages at once);
 *   answers come in completion order, matched by "id".
 *
 *   -> {"id": 2, "op": "quit"}        closes the browser and exits (so does EOF)
 *
 * Start-up failures (no Chromium, no playwright-core) are written to stderr
 * and the process exits with status 2 before "ready": callers must treat
 * that as a failure, not as a reason to skip.
 *
 * Options: --max-pages N (default 4), --chromium PATH.
 * The Python side is tests/browser/__init__.py (class Browser).
 */
'use strict';

const path = require('path');
const readline = require('readline');

function parseArgs(argv) {
  const opts = { maxPages: 4, chromium: process.env.CHROMIUM || '/usr/bin/chromium' };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--max-pages') opts.maxPages = parseInt(argv[++i], 10);
    else if (argv[i] === '--chromium') opts.chromium = argv[++i];
    else throw new Error('unknown option ' + argv[i]);
  }
  return opts;
}

function send(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

// The flags the project runs Chromium with: no sandbox (CI runs as root), and
// nothing that would reach the network on its own (there is none in CI).
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--disable-dev-shm-usage',
  // No crashpad helper: it double-forks, outliving the browser as a zombie.
  '--disable-breakpad',
  '--disable-crash-reporter',
];

async function runPage(browser, cmd) {
  const started = Date.now();
  const consoleLines = [];
  const errors = [];
  const timeout = cmd.timeout_ms || 20000;
  const done = cmd.done || 'window.__result';
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    page.on('console', (m) => consoleLines.push(m.type() + ': ' + m.text()));
    page.on('pageerror', (e) => errors.push(String(e && e.stack ? e.stack : e)));
    try {
      await page.goto(cmd.url, { timeout, waitUntil: 'load' });
      const left = Math.max(1000, timeout - (Date.now() - started));
      const handle = await page.waitForFunction(
        (expr) => {
          // eslint-disable-next-line no-eval
          const v = (0, eval)(expr);
          return v === undefined || v === null ? false : { v };
        },
        done,
        { timeout: left, polling: 50 });
      const wrapped = await handle.jsonValue();
      return { id: cmd.id, ok: true, result: wrapped.v, console: consoleLines, errors,
               elapsed_ms: Date.now() - started };
    } catch (e) {
      let partial = null;
      if (cmd.progress) {
        try {
          // eslint-disable-next-line no-eval
          partial = await page.evaluate((expr) => (0, eval)(expr), cmd.progress);
        } catch (e2) {
          partial = 'progress unavailable: ' + e2.message;
        }
      }
      return { id: cmd.id, ok: false, error: String(e.message || e), result: partial,
               console: consoleLines, errors, elapsed_ms: Date.now() - started };
    }
  } finally {
    await context.close().catch(() => {});
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  let chromium;
  try {
    chromium = require(path.join(__dirname, '..', '..', 'node_modules', 'playwright-core')).chromium;
  } catch (e) {
    process.stderr.write('playwright-core not installed (run npm ci): ' + e.message + '\n');
    process.exit(2);
  }
  let browser;
  try {
    browser = await chromium.launch({
      executablePath: opts.chromium,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 30000,
    });
  } catch (e) {
    process.stderr.write('cannot start Chromium at ' + opts.chromium + ': ' + e.message + '\n');
    process.exit(2);
  }
  send({ event: 'ready', browser: browser.version() });

  let running = 0;
  const waiting = [];
  const inflight = new Set();
  const slot = () => new Promise((resolve) => {
    if (running < opts.maxPages) { running++; resolve(); } else waiting.push(resolve);
  });
  const release = () => {
    const next = waiting.shift();
    if (next) next(); else running--;
  };

  let quitting = false;
  const quit = async () => {
    if (quitting) return;
    quitting = true;
    await Promise.allSettled([...inflight]);
    await browser.close().catch(() => {});
    process.exit(0);
  };

  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (!line.trim()) return;
    let cmd;
    try {
      cmd = JSON.parse(line);
    } catch (e) {
      send({ id: null, ok: false, error: 'bad JSON command: ' + e.message });
      return;
    }
    if (cmd.op === 'quit') { quit(); return; }
    if (cmd.op !== 'run') {
      send({ id: cmd.id, ok: false, error: 'unknown op ' + cmd.op });
      return;
    }
    const p = (async () => {
      await slot();
      try {
        send(await runPage(browser, cmd));
      } catch (e) {
        send({ id: cmd.id, ok: false, error: String(e.message || e), result: null,
               console: [], errors: [] });
      } finally {
        release();
      }
    })();
    inflight.add(p);
    p.finally(() => inflight.delete(p));
  });
  rl.on('close', quit);
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + '\n');
  process.exit(2);
});
