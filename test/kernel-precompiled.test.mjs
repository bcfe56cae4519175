// Precompiling: kernel.toBytes() and `npx wasm-optim compile` give the module; fromModule() runs
// it ('precompiled') with the same bits as the compiled and fallback paths.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ready, Variable, kernel } from '../build/index.js';
import { repoFile } from './helpers/load-ts.mjs';
import { rng } from './helpers/random.mjs';

await ready();

// The definition as source text: the CLI test writes it into a module file.
const SPEC = `{
  name: 'rms', arrays: { w: 'inout', g: 'in', v: 'inout' }, scalars: ['rho', 'lr', 'eps'],
  body: ({ w, g, v }, { rho, lr, eps }) => {
    const v1 = v.mul(rho).add(g.mul(g).mul(rho.neg().add(1)));
    return { v: v1, w: w.sub(g.mul(lr).div(v1.sqrt().add(eps))) };
  },
}`;
const spec = (compile = true) => ({ ...(0, eval)(`(${SPEC})`), compile });

function runAll(k, n) {
  const r = rng(5);
  const vars = [r.f32(n), r.f32(n), r.f32(n).map(Math.abs)].map((x) => new Variable(x));
  for (let t = 0; t < 3; t++) k.run({ w: vars[0], g: vars[1], v: vars[2] }, { rho: 0.9, lr: 0.01, eps: 1e-7 });
  return vars.map((v) => new Uint32Array(v.value.slice().buffer));
}

test('toBytes() is a valid module; fromModule() runs it as "precompiled" with the same bits as compiled and fallback', () => {
  const compiled = kernel(spec());
  const bytes = compiled.toBytes();
  assert.ok(WebAssembly.validate(bytes));
  const pre = kernel(spec(false));
  assert.is(pre.mode, 'fallback');
  assert.is(pre.fromModule(new WebAssembly.Module(bytes)), pre);
  assert.is(pre.mode, 'precompiled');
  const fallback = kernel(spec(false));
  for (const n of [1, 7, 4099]) {
    const a = runAll(compiled, n), b = runAll(pre, n), c = runAll(fallback, n);
    for (let k = 0; k < 3; k++) {
      assert.equal(b[k], a[k], `precompiled n=${n} ${k}`);
      assert.equal(c[k], a[k], `fallback n=${n} ${k}`);
    }
  }
});

test('toBytes() returns a copy', () => {
  const k = kernel(spec());
  const b = k.toBytes();
  b[0] = 1;
  assert.is(k.toBytes()[0], 0);
});

test('npx wasm-optim compile <module> --out <dir> writes each exported kernel as <name>.wasm (the toBytes() bytes)', () => {
  // Inside the package, so the fixture's `import 'wasm-optim'` resolves through its exports map.
  const dir = repoFile('build', '.test-ts');
  mkdirSync(dir, { recursive: true });
  const fixture = join(dir, `kernels-${process.pid}.mjs`);
  writeFileSync(fixture, `import { kernel } from 'wasm-optim';
export const rms = kernel(${SPEC});
export const norm = kernel({ name: 'norm2', arrays: { x: 'in' }, reduce: 'sumOfSquares', body: ({ x }) => x });
export const notAKernel = 3;
`);
  const out = mkdtempSync(join(tmpdir(), 'wasm-optim-cli-'));
  try {
    const log = execFileSync(process.execPath, [repoFile('bin', 'wasm-optim.mjs'), 'compile', fixture, '--out', out], { encoding: 'utf8' });
    assert.match(log, /rms\.wasm\s+\d+ bytes\s+\(export rms\)/);
    assert.match(log, /norm2\.wasm/);
    assert.equal(new Uint8Array(readFileSync(join(out, 'rms.wasm'))), kernel(spec()).toBytes());
    const k = kernel(spec(false)).fromModule(new WebAssembly.Module(readFileSync(join(out, 'rms.wasm'))));
    assert.is(k.mode, 'precompiled');
    assert.throws(() => kernel(spec(false)).fromModule(new WebAssembly.Module(readFileSync(join(out, 'norm2.wasm')))), /compiled from a different kernel/);
    const bad = (args) => {
      try {
        execFileSync(process.execPath, [repoFile('bin', 'wasm-optim.mjs'), ...args], { encoding: 'utf8', stdio: 'pipe' });
      } catch (e) {
        return e.stderr;
      }
      return '';
    };
    assert.match(bad(['build', fixture]), /unknown command 'build'/);
    assert.match(bad(['compile']), /compile needs a module/);
    assert.match(bad(['compile', repoFile('package.json')]), /cannot import/);
    assert.match(bad(['compile', repoFile('test', 'helpers', 'random.mjs')]), /exports no kernel\(\)/);
  } finally {
    rmSync(out, { recursive: true, force: true });
    rmSync(fixture, { force: true });
  }
});

test('package.json names the CLI', () => {
  const pkg = JSON.parse(readFileSync(repoFile('package.json'), 'utf8'));
  assert.is(pkg.bin['wasm-optim'], 'bin/wasm-optim.mjs');
  assert.ok(pkg.files.includes('bin/'));
});

test.run();
