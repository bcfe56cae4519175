// The Deno and Bun suites: the runtime runs subset-main.mjs through the package's exports map
// (`wasm-optim` and `wasm-optim/inline`), and every number must equal Node's, bit for bit
// (kernel() included: compiled there, with the fallback and the scalar loop giving the same bits).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as lib from 'wasm-optim';
import { bin, ensureBundles, lastJson, run, unavailable } from './harness.mjs';
import { conformanceSubset } from './subset.mjs';
import { fineTune } from './linear.mjs';
import { kernelSubset } from './kernel-subset.mjs';

let baseline;
function nodeBaseline() {
  if (!baseline) {
    const linear = fineTune(lib, { steps: 300 });
    baseline = {
      cases: conformanceSubset(lib),
      linear: Object.fromEntries(Object.entries(linear).map(([k, r]) => [k, { digest: r.digest, loss0: r.loss0, finalLoss: r.finalLoss }])),
      kernel: kernelSubset(lib),
    };
  }
  return baseline;
}

/** Registers the suite of `name`, run as `<bin> ...argsFor(entry)`. */
export function sameAsNode(name, argsFor) {
  const path = bin(name);
  const entries = ['wasm-optim', 'wasm-optim/inline'];
  if (!path) {
    unavailable(`${name} is not installed (node_modules/.bin/${name} missing)`, entries.map((entry) => `${name}: ${entry}`));
    return;
  }
  test.before(async () => {
    await lib.ready();
    ensureBundles();
  });
  test('Node itself passes the subset (reference, SIMD == scalar, state round trip)', () => {
    for (const c of nodeBaseline().cases) {
      assert.ok(c.referenceOk && c.simdEqualsScalar && c.stateRoundTrip, `node: ${JSON.stringify(c)}`);
    }
    const k = nodeBaseline().kernel;
    assert.ok(k.fallbackSame && k.simdSame, `node: kernel() paths ${JSON.stringify(k)}`);
  });
  for (const entry of entries) {
    test(`${name}: ${entry} gives Node's numbers bit for bit`, async () => {
      const res = await run(path, argsFor(entry), { timeoutMs: 30000 });
      const out = lastJson(res);
      assert.is(res.code, 0, res.err);
      assert.is(out.entry, entry);
      const node = nodeBaseline();
      assert.is(out.cases.length, node.cases.length);
      out.cases.forEach((c, i) => assert.equal(c, node.cases[i], `${out.runtime} ${c.case}`));
      assert.equal(out.linear, node.linear, `${out.runtime}: linear fine-tuning`);
      // kernel(): compiled here too, fallback and scalar loop the same bits, all equal to Node's.
      assert.ok(Object.values(out.kernel.modes).every((m) => m === 'compiled'), `${out.runtime}: kernel modes ${JSON.stringify(out.kernel.modes)}`);
      assert.ok(out.kernel.fallbackSame && out.kernel.simdSame, `${out.runtime}: kernel paths ${JSON.stringify(out.kernel)}`);
      assert.equal(out.kernel, node.kernel, `${out.runtime}: kernel() results`);
      console.log(`  ${out.runtime} (${entry}): ${out.cases.length} cases + linear fine-tuning + kernel() identical to Node (${res.ms} ms)`);
    });
  }
}
