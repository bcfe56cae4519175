// kernel() in every runtime: a few kernels (AdaBelief, a where/sign/min/max/clamp mix, the four
// reductions) run on inputs from an integer hash, each on the path the runtime allows, plus the
// forced fallback and (given bytes or modules) the precompiled path. Returns digests of the final
// bits, so runtimes (and paths) can be compared exactly with Node's.
// Usage: kernelSubset(lib, { modules? }) where modules maps a kernel name to a WebAssembly.Module
// compiled ahead of time (workerd, edge: from `npx wasm-optim compile` / kernel.toBytes()).
import { digest, uniform } from './linear.mjs';

export const KERNEL_SPECS = {
  adabelief: {
    name: 'adabelief',
    arrays: { w: 'inout', g: 'in', m: 'inout', s: 'inout' },
    scalars: ['omb1', 'omb2', 'eps', 'stepSize', 'epsHat'],
    body: ({ w, g, m, s }, { omb1, omb2, eps, stepSize, epsHat }) => {
      const m1 = m.add(g.sub(m).mul(omb1));
      const d = g.sub(m1);
      const s1 = s.add(d.mul(d).sub(s).mul(omb2)).add(eps);
      return { m: m1, s: s1, w: w.sub(stepSize.mul(m1).div(s1.sqrt().add(epsHat))) };
    },
  },
  mix: {
    name: 'mix',
    arrays: { w: 'inout', g: 'in', m: 'inout', s: 'inout' },
    scalars: ['omb1', 'omb2', 'eps', 'stepSize', 'epsHat'],
    body: ({ w, g, m, s }, { omb1, stepSize, epsHat }, { where }) => ({
      w: where(g.abs().gt(0.5), w.sub(g.sign().mul(stepSize)), w.mulAdd(0.999, g.clamp(-0.1, 0.1).mul(epsHat))),
      m: m.max(g).min(omb1.add(1)).neg(),
      s: where(s.le(g), s.sqrt(), g.div(s.add(2))),
    }),
  },
};
export const REDUCTIONS = ['sum', 'sumOfSquares', 'max', 'maxAbs'];
const SIZES = [1, 5, 1023, 4101];
const SCALARS = { omb1: 0.1, omb2: 0.001, eps: 1e-8, stepSize: 0.01, epsHat: 1e-9 };

/** The kernels' files (name -> bytes) for precompiling, as the CLI writes them. */
export function kernelBytes(lib) {
  const out = {};
  for (const spec of Object.values(KERNEL_SPECS)) out[spec.name] = lib.kernel(spec).toBytes();
  for (const kind of REDUCTIONS) out[`r_${kind}`] = reduction(lib, kind, true).toBytes();
  return out;
}

export const reductionSpec = (kind) => ({ name: `r_${kind}`, arrays: { x: 'in', y: 'in' }, reduce: kind, body: ({ x, y }) => x.mul(y).sub(0.25) });

function reduction(lib, kind, compile) {
  return lib.kernel({ ...reductionSpec(kind), compile });
}

function runElementwise(lib, k) {
  const rand = uniform(5);
  const parts = [];
  for (const n of SIZES) {
    const vars = ['w', 'g', 'm', 's'].map((a) => new lib.Variable(new Float32Array(n).map(() => (a === 's' ? Math.abs(rand()) : rand()))));
    for (let t = 0; t < 3; t++) {
      vars[1].value.set(new Float32Array(n).map(() => rand()));
      k.run({ w: vars[0], g: vars[1].value, m: vars[2], s: vars[3] }, SCALARS);
    }
    parts.push(...vars.map((v) => v.value.slice()));
    vars.forEach((v) => v.dispose());
  }
  return digest(...parts);
}

function runReduction(lib, k) {
  const rand = uniform(9);
  return SIZES.map((n) => {
    const x = new lib.Variable(new Float32Array(n).map(() => rand()));
    const y = new lib.Variable(new Float32Array(n).map(() => rand()));
    const r = k.run({ x, y });
    x.dispose();
    y.dispose();
    return r;
  });
}

/** Runs everything; `lib` is the wasm-optim entry (already ready()). */
export function kernelSubset(lib, { modules = null } = {}) {
  const out = { modes: {}, elementwise: {}, reductions: {}, fallbackSame: true, simdSame: true, precompiledSame: null };
  const paths = (make) => {
    const k = make(true);
    const f = make(false);
    let p = null;
    if (modules && modules[k.name]) p = make(false).fromModule(modules[k.name]);
    return { k, f, p };
  };
  const check = (label, run, { k, f, p }) => {
    out.modes[label] = k.mode;
    const main = JSON.stringify(run(k));
    if (JSON.stringify(run(f)) !== main) out.fallbackSame = false;
    lib.setSimdEnabled(false);
    try {
      if (JSON.stringify(run(k)) !== main) out.simdSame = false;
    } finally {
      lib.setSimdEnabled(true);
    }
    if (p) out.precompiledSame = out.precompiledSame !== false && JSON.stringify(run(p)) === main;
    return JSON.parse(main);
  };
  for (const spec of Object.values(KERNEL_SPECS)) {
    out.elementwise[spec.name] = check(spec.name, (k) => runElementwise(lib, k), paths((compile) => lib.kernel({ ...spec, compile })));
  }
  for (const kind of REDUCTIONS) {
    out.reductions[kind] = check(`r_${kind}`, (k) => runReduction(lib, k), paths((compile) => reduction(lib, kind, compile)));
  }
  return out;
}
