// Shared plumbing for the runtime suites (test/runtimes-*.test.mjs): finding runtime binaries,
// spawning them with a hard timeout, free ports on 127.0.0.1, and child processes that are always
// killed (SIGKILL: workerd can ignore SIGTERM), even when a test throws.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** In CI a runtime that cannot run fails its suite: a skip there would let `npm test` pass without it. */
export const IN_CI = process.env.CI === 'true';

// Test seam for test/runtimes-ci.test.mjs: runtimes named here (comma-separated) count as not installed.
const HIDDEN = new Set((process.env.WASM_OPTIM_TEST_HIDE_RUNTIMES ?? '').split(',').filter(Boolean));

/** Whether `name` is hidden by the test seam above. */
export const hidden = (name) => HIDDEN.has(name);

/** node_modules/.bin/<name>, or null when the runtime is not installed. */
export function bin(name) {
  const path = `${ROOT}node_modules/.bin/${name}`;
  return existsSync(path) && !hidden(name) ? path : null;
}

/**
 * Registers the tests `names` of a suite whose runtime is missing (`reason`): with CI=true each one
 * fails with the reason; elsewhere they are skipped and the reason is printed.
 */
export function unavailable(reason, names) {
  if (IN_CI) {
    for (const name of names) {
      test(name, () => assert.unreachable(`${reason}; CI=true requires this runtime suite to run, not to be skipped`));
    }
    return;
  }
  console.log(`skip: ${reason}; the suite does not run (with CI=true it fails)`);
  for (const name of names) test.skip(name, () => {});
}

const children = new Set();
process.once('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** Starts a long-running child (a server); kill it with `stop(child)`. Output is kept on child.out / child.err. */
export function start(cmd, args, options = {}) {
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], ...options });
  children.add(child);
  child.out = '';
  child.err = '';
  child.stdout.on('data', (d) => (child.out += d));
  child.stderr.on('data', (d) => (child.err += d));
  child.on('exit', () => children.delete(child));
  return child;
}

/** SIGKILL, then wait for the exit. */
export function stop(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', resolve);
    child.kill('SIGKILL');
  });
}

/** Runs a command to completion within `timeoutMs` (then SIGKILL). Resolves { code, out, err, ms }. */
export function run(cmd, args, { timeoutMs = 30000, ...options } = {}) {
  const t0 = Date.now();
  const child = start(cmd, args, options);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.err += `\n[killed after ${timeoutMs} ms]`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal, out: child.out, err: child.err, ms: Date.now() - t0 });
    });
  });
}

/** The last line of stdout parsed as JSON, with the whole output in the error when it is not. */
export function lastJson({ code, out, err }) {
  const line = out.trim().split('\n').pop();
  try {
    return JSON.parse(line);
  } catch {
    throw new Error(`expected a JSON line (exit ${code})\nstdout:\n${out.slice(-2000)}\nstderr:\n${err.slice(-2000)}`);
  }
}

/** A port that was free on 127.0.0.1 a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Polls `url` until it answers (any status), the child dies, or `timeoutMs` passes. */
export async function waitForHttp(url, child, timeoutMs = 15000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`the server exited (${child.exitCode ?? child.signalCode}) before answering\n${child.err.slice(-2000)}`);
    }
    try {
      await fetch(url, { signal: AbortSignal.timeout(1000) });
      return;
    } catch (e) {
      if (Date.now() > end) throw new Error(`${url} did not answer within ${timeoutMs} ms: ${e.message}\n${child?.err.slice(-2000) ?? ''}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

let bundled = false;

/**
 * Makes sure build/bundle/ and build/inline-wasm.js (the inline entry's embedded wasm) exist and are
 * newer than the rest of build/: reruns scripts/build-bundles.mjs when not (after a bare tsc run).
 */
export function ensureBundles() {
  if (bundled) return;
  const newest = (dir) =>
    readdirSync(dir, { withFileTypes: true }).reduce((t, e) => {
      if (e.isDirectory()) return e.name === 'bundle' ? t : Math.max(t, newest(`${dir}/${e.name}`));
      return /\.(js|wasm)$/.test(e.name) ? Math.max(t, statSync(`${dir}/${e.name}`).mtimeMs) : t;
    }, 0);
  const sizes = `${ROOT}build/bundle/sizes.json`;
  const stale =
    !existsSync(sizes) ||
    statSync(sizes).mtimeMs < newest(`${ROOT}build`) ||
    !existsSync(`${ROOT}build/inline-wasm.js`);
  if (stale) {
    const r = spawnSync(process.execPath, ['scripts/build-bundles.mjs'], { cwd: ROOT, encoding: 'utf8', timeout: 60000 });
    if (r.status !== 0) throw new Error(`scripts/build-bundles.mjs failed:\n${r.stdout}\n${r.stderr}`);
  }
  bundled = true;
}

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json', '.svg': 'image/svg+xml' };

/**
 * A static server on 127.0.0.1 (free port). `mounts` maps URL prefixes ending in '/' to
 * directories (the longest prefix wins), or exact paths to { body, type }. Resolves { url, close }.
 */
export async function serveStatic(mounts) {
  const { createServer: createHttp } = await import('node:http');
  const { readFile } = await import('node:fs/promises');
  const { extname, normalize } = await import('node:path');
  const server = createHttp(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    try {
      const exact = mounts[path];
      if (exact && typeof exact === 'object') {
        res.writeHead(200, { 'content-type': exact.type, 'cache-control': 'no-store' });
        return res.end(exact.body);
      }
      if (path === '/favicon.ico') return res.writeHead(204).end();
      const prefix = Object.keys(mounts)
        .filter((p) => typeof mounts[p] === 'string' && path.startsWith(p))
        .sort((a, b) => b.length - a.length)[0];
      if (!prefix) throw Object.assign(new Error('not found'), { code: 'ENOENT' });
      const rel = normalize(path.slice(prefix.length));
      if (rel.startsWith('..')) throw Object.assign(new Error('outside'), { code: 'ENOENT' });
      const body = await readFile(`${mounts[prefix]}/${rel}`);
      res.writeHead(200, { 'content-type': TYPES[extname(rel)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(body);
    } catch (e) {
      res.writeHead(e.code === 'ENOENT' || e.code === 'EISDIR' ? 404 : 500, { 'content-type': 'text/plain' });
      res.end(String(e.message));
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

export const CHROMIUM = '/usr/bin/chromium';

/** Headless Chromium (Debian's) through playwright-core, in a fresh profile; null when unavailable. */
export async function launchChromium() {
  if (hidden('chromium') || !existsSync(CHROMIUM) || !existsSync(`${ROOT}node_modules/playwright-core/package.json`)) return null;
  const { chromium } = await import('playwright-core');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const profile = mkdtempSync(`${tmpdir()}/wasm-optim-chromium-`);
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    context,
    close: async () => {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
