// docs/custom-kernel.md, run from a clean checkout: the example AssemblyScript kernel is compiled
// with the asc command line the page documents (only the output path changes), checked to write
// nothing into the shared memory, loaded the documented way, and trained against a float64
// reference of AdaBelief (the paper's formulas); SIMD and scalar paths must agree bit for bit.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import asc from 'assemblyscript/asc';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ready, defaultHeap, kernelModule, instantiateKernels, Arena, Variable, deserialize } from '../build/index.js';
import { importTs, repoFile } from './helpers/load-ts.mjs';
import { baseCombos, conformance } from './helpers/conformance.mjs';
import { rng } from './helpers/random.mjs';

await ready();

const doc = readFileSync(repoFile('docs', 'custom-kernel.md'), 'utf8');
const block = (marker, lang) => {
  const m = doc.match(new RegExp(`<!-- ${marker} -->\\s*\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``));
  assert.ok(m, `docs/custom-kernel.md has the block marked '${marker}'`);
  return m[1];
};

// ---------------------------------------------------------------- compile with the documented command

const command = block('asc-command', 'sh').replace(/\\\n/g, ' ').trim().split(/\s+/);
const tmp = mkdtempSync(join(tmpdir(), 'wasm-optim-kernel-'));
const wasmFile = join(tmp, 'adabelief.wasm');
const args = command.slice(2).map((a, i, all) => {
  if (i === 0) return repoFile(a); // the entry, made absolute so the cwd does not matter
  if (all[i - 1] === '--outFile') return wasmFile;
  return a;
});
const t0 = performance.now();
const compiled = await asc.main(args);
const compileMs = performance.now() - t0;
const bytes = compiled.error ? null : readFileSync(wasmFile);
rmSync(tmp, { recursive: true, force: true });

const example = await importTs(readFileSync(repoFile('examples/custom-kernel/adabelief.ts'), 'utf8'), 'adabelief');
const { AdaBelief, loadAdaBeliefKernel, setAdaBeliefSimd } = example;

test(`the documented asc command compiles the example (${compileMs.toFixed(0)} ms) with the release target's flags`, () => {
  assert.equal(command.slice(0, 2), ['npx', 'asc']);
  assert.ok(!compiled.error, `asc failed: ${compiled.stderr?.toString()}`);
  // The same flags as asconfig.json's release target, which builds the library's own kernels.
  const release = JSON.parse(readFileSync(repoFile('asconfig.json'), 'utf8')).targets.release;
  const expected = {
    '--importMemory': release.importMemory, '--noExportMemory': release.noExportMemory, '--noAssert': release.noAssert,
  };
  for (const [flag, on] of Object.entries(expected)) assert.is(args.includes(flag), on, flag);
  const after = (flag) => args[args.indexOf(flag) + 1];
  assert.is(after('--runtime'), release.runtime);
  assert.is(after('--use'), release.use[0]);
  assert.is(after('--enable'), release.enable[0]);
  assert.ok(args.includes(`-O${release.optimizeLevel}`));
});

test('the section-id check on the page passes: only env.memory is imported, no data segment, no start function', async () => {
  const code = block('tested: section-ids', 'js');
  const failures = [];
  const origAssert = console.assert;
  console.assert = (ok, ...msg) => ok || failures.push(msg.join(' ') || 'assertion');
  try {
    new Function('bytes', code)(bytes);
  } finally {
    console.assert = origAssert;
  }
  assert.equal(failures, []);
  const module = new WebAssembly.Module(bytes);
  assert.equal(WebAssembly.Module.exports(module).map((e) => e.name).sort(), ['adabelief', 'adabeliefScalar']);
  // and the check does catch a module that would write at instantiation: a data segment (id 11)
  const sectionIds = new Function('bytes', `${code.split('const module')[0]} return sectionIds(bytes);`);
  assert.equal(sectionIds(bytes), [1, 2, 3, 7, 10]);
  const withData = Uint8Array.from([...bytes, 11, 7, 1, 0, 0x41, 0, 0x0b, 1, 42]); // one byte at 0
  assert.ok(WebAssembly.validate(withData));
  assert.ok(sectionIds(withData).includes(11));
});

test('the excerpts on the page are verbatim copies of the example files', () => {
  const re = /<!-- excerpt: (\S+) -->\s*```ts\n([\s\S]*?)```/g;
  let count = 0;
  for (const [, file, code] of doc.matchAll(re)) {
    assert.ok(readFileSync(repoFile(file), 'utf8').includes(code), `the excerpt of ${file} is not in the file any more`);
    count++;
  }
  assert.is(count, 3);
});

test('instantiating the kernel against the library memory writes nothing into it', async () => {
  const memory = defaultHeap().memory;
  const w = new Variable(new Float32Array(4096).fill(1.5), { name: 'bystander' });
  const before = new Uint8Array(memory.buffer).slice();
  await loadAdaBeliefKernel(bytes);
  assert.ok(Buffer.from(before).equals(Buffer.from(new Uint8Array(memory.buffer))), 'memory changed at instantiation');
  w.dispose();
});

// ---------------------------------------------------------------- the update against a float64 reference

/** AdaBelief as the paper writes it (bias-corrected m and s, eps inside s and after the sqrt). */
const adabelief = {
  defaults: { learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-16 },
  slots: () => ({ m: 0, s: 0 }),
  update(g, w, st, lr, t, o) {
    const bc1 = 1 - o.beta1 ** t;
    const bc2 = 1 - o.beta2 ** t;
    for (let i = 0; i < w.length; i++) {
      st.m[i] = o.beta1 * st.m[i] + (1 - o.beta1) * g[i];
      const d = g[i] - st.m[i];
      st.s[i] = o.beta2 * st.s[i] + (1 - o.beta2) * d * d + o.epsilon;
      w[i] -= (lr * (st.m[i] / bc1)) / (Math.sqrt(st.s[i] / bc2) + o.epsilon);
    }
  },
};

test('AdaBelief matches its float64 reference under every base-class option combination', () => {
  for (const b of baseCombos()) conformance(AdaBelief, adabelief, { learningRate: 0.01, ...b });
  conformance(AdaBelief, adabelief, { learningRate: 0.02, beta1: 0.5, beta2: 0.99, epsilon: 1e-8 });
  conformance(AdaBelief, adabelief, {}, { steps: 10, seed: 3 }); // the defaults
});

/** Trains sizes 1..1023 for 12 steps; the gradient is a wasm view at a 4-mod-16 offset (unaligned for v128). */
function train(simd, { heap = defaultHeap(), growAt = -1 } = {}) {
  setAdaBeliefSimd(simd);
  try {
    const r = rng(11);
    const sizes = [1, 3, 5, 17, 1023];
    const vars = sizes.map((n, k) => new Variable(r.f32(n), { name: `w${k}` }, heap));
    const gbufs = sizes.map((n, k) => new Variable(new Float32Array(n + 1), { name: `g${k}` }, heap));
    const opt = new AdaBelief({ learningRate: 0.01, beta1: 0.8, beta2: 0.99, epsilon: 1e-8 });
    const grads = [];
    let big = null;
    for (let step = 0; step < 12; step++) {
      if (step === growAt) big = Variable.zeros([1 << 18], { name: 'grow-the-memory' }, heap);
      const gs = sizes.map((n) => r.f32(n, 0.5));
      grads.push(gs);
      gbufs.forEach((b, k) => b.value.set(gs[k], 1));
      opt.applyGradients(vars.map((v, k) => [gbufs[k].value.subarray(1), v]));
    }
    return { vars, opt, grads, dispose: () => [opt, ...vars, ...gbufs, big].forEach((x) => x?.dispose()) };
  } finally {
    setAdaBeliefSimd(true);
  }
}

test('SIMD and scalar kernels give bit-identical results (unaligned gradients, another heap, memory growth mid-training)', () => {
  const a = train(true);
  // The scalar run uses a fresh one-page heap (its own kernel instance) that must grow after step 5.
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
  const b = train(false, { heap: new Arena(memory, instantiateKernels(kernelModule(), memory)), growAt: 5 });
  assert.ok(memory.buffer.byteLength > 65536, 'the memory grew during the second run');
  a.vars.forEach((v, k) => {
    for (const [x, y, what] of [
      [v.value, b.vars[k].value, 'w'],
      [a.opt.getSlot(v, 'm').value, b.opt.getSlot(b.vars[k], 'm').value, 'm'],
      [a.opt.getSlot(v, 's').value, b.opt.getSlot(b.vars[k], 's').value, 's'],
    ]) {
      for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) assert.unreachable(`${v.name} ${what}[${i}]: SIMD ${x[i]} != scalar ${y[i]}`);
    }
  });
  // and both match the reference after growth
  const r = rng(11);
  a.vars.forEach((v, k) => {
    const w = Float64Array.from(r.f32(v.size));
    const st = { m: new Float64Array(v.size), s: new Float64Array(v.size) };
    const o = { beta1: 0.8, beta2: 0.99, epsilon: 1e-8 };
    a.grads.forEach((gs, step) => adabelief.update(Float64Array.from(gs[k]), w, st, Math.fround(0.01), step + 1, o));
    b.vars[k].value.forEach((x, i) => assert.ok(Math.abs(x - w[i]) <= 2e-5 * Math.abs(w[i]) + 2e-6, `${v.name}[${i}]: ${x} vs ${w[i]}`));
  });
  a.dispose();
  b.dispose();
});

test('variables in another heap get their own kernel instance (same results)', () => {
  const memory = new WebAssembly.Memory({ initial: 2, maximum: 65536 });
  const heap = new Arena(memory, instantiateKernels(kernelModule(), memory));
  const init = rng(5).f32(37);
  const g = rng(6).f32(37);
  const wDefault = new Variable(init, { name: 'w' });
  const wForeign = new Variable(init, { name: 'w' }, heap);
  const o1 = new AdaBelief({ learningRate: 0.05 });
  const o2 = new AdaBelief({ learningRate: 0.05 });
  for (let s = 0; s < 5; s++) {
    o1.applyGradients([[g, wDefault]]);
    o2.applyGradients([[g, wForeign]]);
  }
  assert.equal(Array.from(wForeign.value), Array.from(wDefault.value));
  assert.not.equal(Array.from(wDefault.value), Array.from(init));
  for (const x of [o1, o2, wDefault, wForeign]) x.dispose();
});

test('the usage example on the page runs and prints what it says', async () => {
  let code = block('tested-usage', 'ts');
  const printed = code.match(/console\.log\(.*\); \/\/ (\[.*\])/);
  assert.ok(printed, 'the example shows its output');
  // The page imports the example module and reads the wasm from the path the command wrote; here
  // the module is the one loaded above and the bytes are the ones just compiled.
  const swaps = [
    [/import \{ AdaBelief, loadAdaBeliefKernel \} from '\.\/adabelief\.js';/, 'const { AdaBelief, loadAdaBeliefKernel } = globalThis.__customKernel;'],
    [/await readFile\('examples\/custom-kernel\/build\/adabelief\.wasm'\)/, 'globalThis.__customKernel.bytes'],
  ];
  for (const [from, to] of swaps) {
    assert.ok(from.test(code), `the usage example still contains ${from}`);
    code = code.replace(from, to);
  }
  globalThis.__customKernel = { AdaBelief, loadAdaBeliefKernel, bytes };
  const logs = [];
  const orig = console.log;
  console.log = (...a) => logs.push(a);
  try {
    await importTs(code, 'custom-kernel-usage');
  } finally {
    console.log = orig;
    delete globalThis.__customKernel;
  }
  assert.equal(logs[0][0], JSON.parse(printed[1]));
});

test('config and state round-trip through the registry', () => {
  const w = new Variable(new Float32Array([1, 2, 3, 4, 5]), { name: 'cfg' });
  const opt = new AdaBelief({ learningRate: 0.1, beta1: 0.7, clipvalue: 0.5 });
  opt.applyGradients([[new Float32Array([1, -1, 0.5, 0.25, 2]), w]]);
  const again = deserialize({ className: 'AdaBelief', config: JSON.parse(JSON.stringify(opt.getConfig())) });
  assert.instance(again, AdaBelief);
  assert.equal(again.getConfig(), opt.getConfig());
  const w2 = new Variable(w.value, { name: 'cfg' });
  again.setState(opt.getState(), [w2]);
  const g = new Float32Array([0.3, 0.2, -0.1, 0, 1]);
  opt.applyGradients([[g, w]]);
  again.applyGradients([[g, w2]]);
  assert.equal(Array.from(w2.value), Array.from(w.value));
  for (const x of [opt, again, w, w2]) x.dispose();
});

test('bad options are refused, and training before the kernel is loaded says what to do', async () => {
  assert.throws(() => new AdaBelief({ beta1: 1 }), /beta1/);
  assert.throws(() => new AdaBelief({ beta2: -0.1 }), /beta2/);
  assert.throws(() => new AdaBelief({ epsilon: NaN }), /epsilon/);
  // A fresh copy of the module has no kernel loaded yet.
  const fresh = await importTs(readFileSync(repoFile('examples/custom-kernel/adabelief.ts'), 'utf8'), 'adabelief-unloaded');
  const w = new Variable(new Float32Array([1]), { name: 'unloaded' });
  const opt = new fresh.AdaBelief();
  assert.throws(() => opt.applyGradients([[new Float32Array([1]), w]]), /loadAdaBeliefKernel/);
  opt.dispose();
  w.dispose();
});

test.run();
