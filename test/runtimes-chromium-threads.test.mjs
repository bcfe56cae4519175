// ready({ threads }) in headless Chromium (docs/threads.md), with the browser bundle served from
// 127.0.0.1: a page without cross-origin isolation has no SharedArrayBuffer and falls back to one
// thread, saying why; a cross-origin-isolated page (COOP same-origin + COEP require-corp) runs two
// threads (a module Worker from build/bundle/thread-worker.js, optim-threads.wasm beside the
// bundle) with the page's main thread spinning instead of blocking (Atomics.wait is not allowed
// there), and AdamW + globalClipnorm gives the weights Node gives on one thread, bit for bit.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { CHROMIUM, ensureBundles, launchChromium, ROOT, unavailable } from './runtimes/harness.mjs';

const PAGE = `<!doctype html><meta charset="utf-8"><title>threads</title><script type="module">
import * as W from '/bundle/wasm-optim.browser.js';
window.result = (async () => {
  try {
    await W.ready({ threads: 2, minElements: 1024 });
    const n = 200003;
    const w = new W.Variable(Float32Array.from({ length: n }, (_, i) => Math.sin(i)));
    const g = new W.Variable(Float32Array.from({ length: n }, (_, i) => Math.cos(i * 1.3)));
    const opt = new W.AdamW({ globalClipnorm: 1, weightDecay: 0.01 });
    for (let s = 0; s < 3; s++) opt.applyGradients([[g.value, w]]);
    let h = 0x811c9dc5;
    const b = new Uint8Array(w.value.buffer, w.value.byteOffset, w.value.byteLength);
    for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 16777619) >>> 0;
    const out = { isolated: self.crossOriginIsolated, threads: W.threadCount(), reason: W.threadFallbackReason(), hash: h };
    W.shutdownThreads();
    return out;
  } catch (e) {
    return { error: String(e && e.stack || e) };
  }
})();
</script>`;

const TYPES = { '.js': 'text/javascript', '.wasm': 'application/wasm' };

let launchError = null;
const browser = await launchChromium().catch((e) => {
  launchError = e.message.split('\n')[0];
  return null;
});
if (!browser) {
  unavailable(launchError ? `Chromium could not be launched (${launchError})` : `Chromium needs ${CHROMIUM} (apt-get install chromium) and playwright-core`, ['chromium: threads']);
} else {
  let server;
  let base;
  test.before(async () => {
    ensureBundles();
    server = createServer(async (req, res) => {
      const path = new URL(req.url, 'http://x').pathname;
      // /isolated/ pages get the headers of cross-origin isolation, and so does every resource.
      const isolated = req.headers.referer?.includes('/isolated/') || path.startsWith('/isolated/');
      const headers = { 'cache-control': 'no-store', ...(isolated ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } : {}) };
      if (path === '/plain/' || path === '/isolated/') return res.writeHead(200, { ...headers, 'content-type': 'text/html' }).end(PAGE);
      const m = path.match(/^\/bundle\/([\w.-]+)$/);
      if (!m) return res.writeHead(404).end();
      try {
        const body = await readFile(`${ROOT}build/bundle/${m[1]}`);
        res.writeHead(200, { ...headers, 'content-type': TYPES[m[1].slice(m[1].lastIndexOf('.'))] ?? 'application/octet-stream' }).end(body);
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${server.address().port}`;
  });
  test.after(async () => {
    await browser.close();
    await new Promise((r) => server.close(r));
  });

  const open = async (where) => {
    const page = await browser.context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${base}/${where}/`);
    const result = await page.evaluate(() => Promise.race([window.result, new Promise((r) => setTimeout(() => r({ error: 'timed out after 60 s' }), 60000))]));
    await page.close();
    assert.equal(errors, []);
    assert.not(result.error, result.error);
    return result;
  };
  const node = () => {
    const r = spawnSync(process.execPath, [`${ROOT}test/runtimes/threads.mjs`, '0'], { encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    return JSON.parse(r.stdout.trim().split('\n').pop());
  };

  test('chromium, no cross-origin isolation: ready({ threads: 2 }) falls back to one thread and says why; results equal Node', async () => {
    const r = await open('plain');
    assert.is(r.isolated, false);
    assert.is(r.threads, 1);
    assert.match(r.reason, /SharedArrayBuffer is not available.*cross-origin isolation/);
    assert.is(r.hash, node().hash);
  });

  test('chromium, cross-origin isolated: two threads (module Worker, the page spins instead of blocking); AdamW + globalClipnorm equals Node on one thread bit for bit', async () => {
    const r = await open('isolated');
    assert.is(r.isolated, true);
    assert.is(r.threads, 2, JSON.stringify(r));
    assert.is(r.reason, null);
    assert.is(r.hash, node().hash);
  });
}

test.run();
