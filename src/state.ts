// Binary checkpoints of optimizer state (docs/state-format.md). Layout, little-endian:
//   0  'WOPT' magic          4  u16 format version     6  u16 reserved (0)
//   8  u32 header length H  12  header: UTF-8 JSON { className, config, iterations, variables: [{ name, shape, quantized? }] }
//   12+H padded to 4: each variable in header order: its float32 values, or for an 8-bit slot
//     (quantized: { kind, rowSize }) its float32 absmax per block, then one code byte per element,
//     padded to 4 (version 2; version 1 has float32 values only and is still read)
//   last 4 bytes: CRC-32 of everything before them
// A reader checks magic, version, lengths and CRC before parsing anything, so corrupt or
// truncated bytes are refused with a clear error and nothing is touched.
import { blockCount, invalidCode, type QuantizedState, quantizedEntry } from './int8-code.js';
import { type Config } from './registry.js';
import { type PlateauState, readPlateau } from './state-input.js';
import { typedArrayTag, typedBuffer, typedByteOffset, typedLength } from './typed.js';

export const STATE_FORMAT_VERSION = 2;
/** Versions this build reads: 1 (float32 only) and 2 (8-bit slots). */
const READABLE_VERSIONS = [1, 2];
const MAGIC = 0x54504f57; // 'WOPT' read as a little-endian u32

/** What a checkpoint holds: getState() plus the optimizer's config. */
export interface StateSnapshot {
  className: string;
  config: Config;
  iterations: number;
  variables: Record<string, { shape: number[]; values: Float32Array | number[]; quantized?: QuantizedState }>;
  /** A ReduceLROnPlateau's progress (optional in the header; older checkpoints have none). */
  plateau?: PlateauState;
}

let table: Uint32Array | null = null;
function crc32(bytes: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = table[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function encodeState(s: StateSnapshot): Uint8Array {
  const names = Object.keys(s.variables);
  for (const n of names) {
    if (!allowedName(n)) throw new Error(`saveState: an optimizer variable is named '${n}', which a checkpoint cannot hold (a member of Object.prototype)`);
  }
  const header = new TextEncoder().encode(
    JSON.stringify({
      className: s.className,
      config: s.config,
      iterations: s.iterations,
      variables: names.map((name) => {
        const q = s.variables[name].quantized;
        return q ? { name, shape: s.variables[name].shape, quantized: { kind: q.kind, rowSize: q.rowSize } } : { name, shape: s.variables[name].shape };
      }),
      // JSON has no Infinity: an infinite `best` (no update yet) is written as a string.
      ...(s.plateau ? { plateau: { ...s.plateau, best: Number.isFinite(s.plateau.best) ? s.plateau.best : String(s.plateau.best) } } : {}),
    }),
  );
  const dataStart = (12 + header.length + 3) & ~3;
  const bytes = names.reduce((a, n) => a + dataBytes(s.variables[n]), 0);
  const out = new Uint8Array(dataStart + bytes + 4);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint16(4, STATE_FORMAT_VERSION, true);
  dv.setUint32(8, header.length, true);
  out.set(header, 12);
  let off = dataStart;
  for (const n of names) {
    const q = s.variables[n].quantized;
    if (q) {
      for (const x of q.absmax) {
        dv.setFloat32(off, x, true);
        off += 4;
      }
      out.set(q.codes, off);
      off += (q.codes.length + 3) & ~3;
      continue;
    }
    for (const x of s.variables[n].values) {
      dv.setFloat32(off, x, true);
      off += 4;
    }
  }
  dv.setUint32(off, crc32(out.subarray(0, off)), true);
  return out;
}

export function decodeState(input: Uint8Array, where: string): StateSnapshot {
  if (typedArrayTag(input) !== 'Uint8Array') throw new TypeError(`${where}: bytes must be a Uint8Array (from saveState())`);
  const fail = (why: string): never => {
    throw new Error(`${where}: not a valid wasm-optim checkpoint: ${why}`);
  };
  const length = typedLength(input);
  if (length < 16) fail(`only ${length} bytes (truncated?)`);
  // A plain view of the engine's buffer, offset and length: a subclass's getters or methods
  // (length, buffer, subarray) cannot make the checksum and the parse see different bytes.
  const bytes = new Uint8Array(typedBuffer(input), typedByteOffset(input), length);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== MAGIC) fail('wrong magic number (expected "WOPT")');
  const version = dv.getUint16(4, true);
  if (!READABLE_VERSIONS.includes(version)) {
    throw new Error(`${where}: checkpoint format version ${version} is not supported (this build reads versions ${READABLE_VERSIONS.join(' and ')})`);
  }
  const end = bytes.length - 4;
  if (dv.getUint32(end, true) !== crc32(bytes.subarray(0, end))) fail('checksum mismatch (corrupt or truncated)');
  const hlen = dv.getUint32(8, true);
  if (12 + hlen > end) fail('header length past the end');
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + hlen)));
  } catch {
    return fail('unreadable header');
  }
  if (!isPlainObject(header)) return fail('malformed header');
  const { className, config, iterations, variables: vars, plateau } = header as { className?: unknown; config?: unknown; iterations?: unknown; variables?: unknown; plateau?: unknown };
  if (typeof className !== 'string' || !isPlainObject(config) || !Array.isArray(vars)) fail('malformed header');
  if (className === '') fail('the class name is empty');
  if (typeof iterations !== 'number' || !Number.isSafeInteger(iterations) || iterations < 0) {
    fail(`iterations must be an integer from 0 to 2^53 - 1, got ${JSON.stringify(iterations)}`);
  }
  let off = (12 + hlen + 3) & ~3;
  // No prototype: a name such as '__proto__' can only ever be an own key here (and is refused below).
  const variables: StateSnapshot['variables'] = Object.create(null) as StateSnapshot['variables'];
  for (const v of vars as unknown[]) {
    const name: unknown = isPlainObject(v) ? (v as { name?: unknown }).name : undefined;
    const shape: unknown = isPlainObject(v) ? (v as { shape?: unknown }).shape : undefined;
    const quantized: unknown = isPlainObject(v) ? (v as { quantized?: unknown }).quantized : undefined;
    if (typeof name !== 'string' || !Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d > 0)) fail('malformed variable entry');
    const key = name as string;
    if (!allowedName(key)) fail(`variable name '${key}' is not allowed (empty, or a member of Object.prototype)`);
    if (Object.prototype.hasOwnProperty.call(variables, key)) fail(`variable '${key}' is listed twice`);
    const n = (shape as number[]).reduce((a, b) => a * b, 1);
    if (quantized !== undefined) {
      if (version < 2) fail(`variable '${key}' is quantized, which version ${version} does not have`);
      const q = readQuantizedData(bytes, dv, off, end, quantized, n, key, fail);
      off = q.next;
      variables[key] = quantizedEntry(shape as number[], q.state);
      continue;
    }
    if (off + n * 4 > end) fail(`data of '${key}' runs past the end`);
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) values[i] = dv.getFloat32(off + i * 4, true);
    off += n * 4;
    variables[key] = { shape: [...(shape as number[])], values };
  }
  if (off !== end) fail(`${end - off} unexpected bytes after the data`);
  const snapshot: StateSnapshot = { className: className as string, config: config as Config, iterations: iterations as number, variables };
  if (plateau !== undefined) {
    const p = isPlainObject(plateau) ? { ...(plateau as Record<string, unknown>) } : plateau;
    if (isPlainObject(p) && (p as { best?: unknown }).best === 'Infinity') (p as { best: number }).best = Infinity;
    if (isPlainObject(p) && (p as { best?: unknown }).best === '-Infinity') (p as { best: number }).best = -Infinity;
    try {
      snapshot.plateau = readPlateau(p, where);
    } catch (e) {
      fail(`malformed plateau state (${(e as Error).message})`);
    }
  }
  return snapshot;
}

/** Bytes a variable takes in the data section. */
function dataBytes(e: { values: Float32Array | number[]; quantized?: QuantizedState }): number {
  const q = e.quantized;
  return q ? q.absmax.length * 4 + ((q.codes.length + 3) & ~3) : e.values.length * 4;
}

/** An 8-bit slot's absmax and codes at `off`, checked (kind, layout, lengths, codes, absmax >= 0). */
function readQuantizedData(bytes: Uint8Array, dv: DataView, off: number, end: number, raw: unknown, n: number, key: string, fail: (why: string) => never): { state: QuantizedState; next: number } {
  const kind: unknown = isPlainObject(raw) ? (raw as { kind?: unknown }).kind : undefined;
  const rowSize: unknown = isPlainObject(raw) ? (raw as { rowSize?: unknown }).rowSize : undefined;
  if (kind !== 'signed' && kind !== 'unsigned') return fail(`variable '${key}' has quantized kind ${JSON.stringify(kind)}`);
  if (typeof rowSize !== 'number' || !Number.isSafeInteger(rowSize) || rowSize < 1 || n % rowSize !== 0) return fail(`variable '${key}' has quantized rowSize ${JSON.stringify(rowSize)}`);
  const blocks = blockCount(n, rowSize);
  const next = off + blocks * 4 + ((n + 3) & ~3);
  if (next > end) fail(`data of '${key}' runs past the end`);
  const absmax = new Float32Array(blocks);
  for (let i = 0; i < blocks; i++) {
    absmax[i] = dv.getFloat32(off + i * 4, true);
    if (absmax[i] < 0 || Object.is(absmax[i], -0)) fail(`variable '${key}' has a negative absmax`);
  }
  const codes = bytes.slice(off + blocks * 4, off + blocks * 4 + n);
  const bad = invalidCode(codes, kind);
  if (bad >= 0) fail(`variable '${key}' has an invalid ${kind} code ${codes[bad]} at ${bad}`);
  return { state: { kind, rowSize, codes, absmax }, next };
}

/**
 * Names a checkpoint may hold: '__proto__', 'constructor', 'toString' ... would collide with
 * Object.prototype in any reader that indexes a plain object by name.
 */
function allowedName(name: string): boolean {
  return name !== '' && !(name in Object.prototype);
}

/** A JSON object: not null, not an array. */
function isPlainObject(x: unknown): boolean {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
