// A worker thread of conformanceAll() (conformance.mjs): runs conformance() for its share of an
// option cross in its own wasm instance and reports how many ran, or the first failure.
import { parentPort, workerData } from 'node:worker_threads';
import * as lib from '../../build/index.js';
import { conformance } from './conformance.mjs';

const { className, ref, list, runOptions } = workerData;
let ran = 0;
try {
  await lib.ready();
  const spec = (await import(ref[0]))[ref[1]];
  for (const options of list) {
    conformance(lib[className], spec, options, runOptions);
    ran++;
  }
  parentPort.postMessage({ ran });
} catch (e) {
  parentPort.postMessage({ ran, error: e instanceof Error ? e.message : String(e) });
}
