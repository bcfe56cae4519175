// wasm-optim/inline: the core API with optim.wasm embedded (base64), for bundlers that cannot
// copy assets. `ready()` and `readySync()` use the embedded bytes when given no source.
// Not for Cloudflare workerd or Vercel Edge in production: they forbid compiling wasm from bytes,
// so there import optim.wasm as a module and call `ready(module)` from the main entry.
// It re-exports the main entry's module, so both entries share one arena when mixed in an app.
import { WASM_BASE64 } from './inline-wasm.js';
import { isReady, ready as readyFrom, readySync as readySyncFrom, type WasmSource } from './wasm.js';

export * from './index.js';

function embedded(): Uint8Array<ArrayBuffer> {
  const text = atob(WASM_BASE64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/** Like the main entry's `ready()`, but with no argument it compiles the embedded optim.wasm. */
export function ready(source?: WasmSource): Promise<void> {
  return isReady() ? Promise.resolve() : readyFrom(source ?? embedded());
}

/** Like the main entry's `readySync()`, but with no argument it compiles the embedded optim.wasm. */
export function readySync(source?: WebAssembly.Module | BufferSource): void {
  if (!isReady()) readySyncFrom(source ?? embedded());
}
