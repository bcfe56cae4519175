// `npm run demo:web`: bundles the browser demo with esbuild and serves it on 127.0.0.1, with a subset
// of the real MNIST digits (the first 4,000 training images of examples/data/mnist.mjs's split and
// its 2,000 held-out ones, 4.7 MB as bytes) at /digits.bin; without the `mnist` package it says so
// and the page trains on generated digits.
// Options: --port N (default 8080; 0 picks a free port). Open the printed URL; `?epochs=1` is quicker.
import { build } from 'esbuild';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeDigits } from '../data/digits-bytes.mjs';
import { loadMnist, MnistMissingError } from '../data/mnist.mjs';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const i = process.argv.indexOf('--port');
const port = i > 0 ? Number(process.argv[i + 1]) : 8080;

const bundle = await build({
  entryPoints: [here('app.mjs')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  write: false,
  logLevel: 'warning',
});
const app = bundle.outputFiles[0].contents;

// The bundle's wasm-optim loads ./optim.wasm relative to /app.js; tfjs loads its wasm from /tfjs/.
const tfjsWasm = here('../../node_modules/@tensorflow/tfjs-backend-wasm/dist/');
let digits = null;
try {
  digits = encodeDigits(loadMnist({ train: 4000 }));
} catch (e) {
  if (!(e instanceof MnistMissingError)) throw e;
  console.log(`note: ${e.message}\nThe page will train on generated digits.`);
}
const files = {
  '/': () => readFile(here('index.html')),
  '/app.js': () => app,
  '/optim.wasm': () => readFile(here('../../build/optim.wasm')),
};
if (digits) files['/digits.bin'] = () => digits;
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.wasm': 'application/wasm', '.bin': 'application/octet-stream' };

const server = createServer(async (req, res) => {
  const path = new URL(req.url, 'http://localhost').pathname;
  try {
    let body;
    if (path === '/favicon.ico') return res.writeHead(204).end();
    if (files[path]) body = await files[path]();
    else if (/^\/tfjs\/[\w.-]+\.wasm$/.test(path)) body = await readFile(tfjsWasm + path.slice('/tfjs/'.length));
    else return res.writeHead(404).end('not found');
    res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? TYPES['.html'], 'cache-control': 'no-store' });
    res.end(body);
  } catch (e) {
    res.writeHead(500).end(String(e.message));
  }
});
server.on('error', (e) => {
  console.error(e.code === 'EADDRINUSE' ? `port ${port} is in use: try --port 0 (any free port)` : e.message);
  process.exit(1);
});
server.listen(port, '127.0.0.1', () => {
  console.log(`wasm-optim web demo: http://127.0.0.1:${server.address().port}/  (Ctrl+C to stop)`);
});
