#!/usr/bin/env node
/*
 * Drives the example pages in headless Debian Chromium (playwright-core from
 * the root node_modules) the way a person would: type, click, read.
 *
 *   node tests/examples_browser/scenarios.js <scenario> <base url>
 *
 * Scenarios: echo, chat, multiplex, stats. Prints one JSON line:
 * {"ok": true, ...facts} or {"ok": false, "error": "...", "errors": [...]},
 * and exits 0 / 1. A page error (uncaught exception) or an error on the
 * console (an invalid pattern attribute, a failed resource load such as a
 * missing favicon) fails the scenario.
 * Exits 2 when Chromium or playwright-core is missing: a failure, never a skip.
 */
'use strict';

const path = require('path');

const CHROMIUM_ARGS = ['--no-sandbox', '--headless', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-dev-shm-usage'];
const T = 15000;

async function newPage(browser, url, pageErrors) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push('console: ' + m.text() + ' ' + JSON.stringify(m.location()));
  });
  await page.goto(url, { timeout: T });
  return page;
}

const scenarios = {
  async echo(browser, base, errors) {
    const page = await newPage(browser, base + '/', errors);
    const transport = await (await page.waitForFunction(() => window.echoReady, null, { timeout: T })).jsonValue();
    await page.fill('#text', 'hello from chromium');
    await page.click('button');
    await page.waitForFunction(() => window.lastEcho === 'hello from chromium', null, { timeout: T });
    const logText = await page.textContent('#log');
    // The page's transport picker: the same round trip over every transport
    // (the iframe ones load the example's local sockjs-client: no CDN).
    const picked = [];
    for (const t of ['xhr-streaming', 'eventsource', 'iframe-htmlfile', 'xhr-polling', 'jsonp-polling']) {
      await page.selectOption('#transports', t);
      await page.waitForFunction((name) => window.echoReady === name, t, { timeout: T });
      await page.fill('#text', 'over ' + t);
      await page.click('button');
      await page.waitForFunction((text) => window.lastEcho === text, 'over ' + t, { timeout: T });
      picked.push(t);
    }
    return { transport, picked, logHasEcho: logText.includes('received: hello from chromium') };
  },

  async chat(browser, base, errors) {
    const ann = await newPage(browser, base + '/?nick=ann&room=kitchen', errors);
    const bob = await newPage(browser, base + '/?nick=bob&room=kitchen', errors);
    for (const p of [ann, bob]) await p.waitForFunction(() => window.chatOpen, null, { timeout: T });
    await ann.click('#join-button');
    await ann.waitForFunction(() => window.chatRoom === 'kitchen', null, { timeout: T });
    await bob.click('#join-button');
    await bob.waitForFunction(() => window.chatRoom === 'kitchen', null, { timeout: T });
    await ann.waitForFunction(() => window.chatLog.includes('bob joined'), null, { timeout: T });
    await ann.fill('#text', 'hi bob');
    await ann.click('#say-button');
    await bob.waitForFunction(() => window.chatLog.includes('ann: hi bob'), null, { timeout: T });
    await bob.fill('#text', 'hello ann');
    await bob.click('#say-button');
    await ann.waitForFunction(() => window.chatLog.includes('bob: hello ann'), null, { timeout: T });
    const members = await ann.$$eval('#members li', (lis) => lis.map((li) => li.textContent));
    // A third page in another room hears nothing of the kitchen.
    const carl = await newPage(browser, base + '/?nick=carl&room=garden', errors);
    await carl.waitForFunction(() => window.chatOpen, null, { timeout: T });
    await carl.click('#join-button');
    await carl.waitForFunction(() => window.chatRoom === 'garden', null, { timeout: T });
    await ann.fill('#text', 'kitchen only');
    await ann.click('#say-button');
    await bob.waitForFunction(() => window.chatLog.includes('ann: kitchen only'), null, { timeout: T });
    const carlLog = await carl.evaluate(() => window.chatLog.slice());
    // The room field's pattern is a valid expression under the 'v' flag
    // that current browsers compile it with, and the browser checks it.
    const roomCheck = await carl.evaluate(() => {
      const room = document.getElementById('room');
      let compiles = true;
      try { new RegExp('^(?:' + room.pattern + ')$', 'v'); } catch (e) { compiles = false; }
      const before = room.value;
      room.value = 'no spaces!';
      const badValid = room.checkValidity();
      room.value = 'my-room_2';
      const goodValid = room.checkValidity();
      room.value = before;
      return { compiles, badValid, goodValid };
    });
    // Bob leaves: Ann sees it.
    await bob.context().close();
    await ann.waitForFunction(() => window.chatLog.includes('bob left'), null, { timeout: T });
    return {
      annLog: await ann.evaluate(() => window.chatLog.slice()),
      roomCheck,
      bobSawAnn: true, members, carlLog,
    };
  },

  async multiplex(browser, base, errors) {
    const page = await newPage(browser, base + '/', errors);
    await page.waitForFunction(() => window.muxLog && window.muxLog.ann.includes('Ann says hi!'), null, { timeout: T });
    await page.waitForFunction(() => window.muxLog.carl.includes('[closed]'), null, { timeout: T });
    await page.fill('#input-bob', 'slow');
    await page.press('#input-bob', 'Enter');
    await page.fill('#input-ann', 'quick');
    await page.press('#input-ann', 'Enter');
    await page.waitForFunction(() => window.muxLog.bob.includes('Bob, reversed: wols'), null, { timeout: T });
    const log = await page.evaluate(() => window.muxLog);
    // Which forms take input: the closed channel's does not.
    const enabled = await page.evaluate(() => {
      const out = {};
      for (const n of ['ann', 'bob', 'carl']) {
        const form = document.getElementById('form-' + n);
        out[n] = !form.querySelector('input').disabled && !form.querySelector('button').disabled;
      }
      return out;
    });
    return Object.assign({}, log, { enabled });
  },

  async stats(browser, base, errors) {
    const page = await newPage(browser, base + '/', errors);
    await page.waitForFunction(() => window.statsSamples.length >= 1, null, { timeout: T });
    await page.click('#open5');
    await page.waitForFunction(() => document.getElementById('nclients').textContent === '5', null, { timeout: T });
    await page.click('#chatter');
    await page.waitForFunction(() => {
      const s = window.statsSamples[window.statsSamples.length - 1].stats;
      return s.sessions_active === 5 && s.packets_recv_ps > 0;
    }, null, { timeout: T });
    // The canvas has been drawn on: some pixel is not blank.
    const painted = await page.evaluate(() => {
      const c = document.getElementById('chart');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) n++;
      return n;
    });
    await page.click('#closeall');
    await page.waitForFunction(() => {
      const s = window.statsSamples[window.statsSamples.length - 1].stats;
      return s.sessions_active === 0;
    }, null, { timeout: T });
    const samples = await page.evaluate(() => window.statsSamples.map((p) => p.stats));
    // Idle again: every line lies at 0, on top of each other. Each series'
    // colour must still show on the chart, and every figure reads plainly.
    const colours = await page.evaluate(() => {
      const c = document.getElementById('chart');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const want = { sessions_active: [0xcc, 0x33, 0x33], connections_active: [0x33, 0x66, 0xcc],
        packets_sent_ps: [0x33, 0x99, 0x33], packets_recv_ps: [0xcc, 0x99, 0x00], connections_ps: [0x99, 0x33, 0x99] };
      const seen = {};
      for (const k of Object.keys(want)) seen[k] = 0;
      for (let i = 0; i < d.length; i += 4) {
        if (d[i + 3] < 250) continue;
        for (const k of Object.keys(want)) {
          const [r, g, b] = want[k];
          if (Math.abs(d[i] - r) < 8 && Math.abs(d[i + 1] - g) < 8 && Math.abs(d[i + 2] - b) < 8) seen[k]++;
        }
      }
      return seen;
    });
    const figures = await page.$$eval('#table td:nth-child(2), .legend b', (cells) => cells.map((c) => c.textContent));
    return { painted, samples, colours, figures, rows: await page.$$eval('#table tr', (r) => r.length) };
  },
};

async function main() {
  const [name, base] = process.argv.slice(2);
  if (!scenarios[name] || !base) {
    process.stderr.write('usage: scenarios.js <' + Object.keys(scenarios).join('|') + '> <base url>\n');
    process.exit(2);
  }
  let chromium;
  try {
    chromium = require(path.join(__dirname, '..', '..', 'node_modules', 'playwright-core')).chromium;
  } catch (e) {
    process.stderr.write('playwright-core missing (run npm ci): ' + e.message + '\n');
    process.exit(2);
  }
  const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
  let browser;
  try {
    browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS, timeout: 30000 });
  } catch (e) {
    process.stderr.write('cannot start ' + executablePath + ': ' + e.message + '\n');
    process.exit(2);
  }
  const errors = [];
  let out;
  try {
    const facts = await scenarios[name](browser, base, errors);
    out = Object.assign({ ok: errors.length === 0, errors }, { facts });
  } catch (e) {
    out = { ok: false, error: String(e && e.message || e), errors };
  } finally {
    await browser.close().catch(() => {});
  }
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(out.ok ? 0 : 1);
}

main();
