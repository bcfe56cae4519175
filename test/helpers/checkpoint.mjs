// Hand-made checkpoints for tests: framed as docs/state-format.md says, with a valid CRC-32, so a
// test can reach the checks behind the checksum (any header, any floats, lengths that lie).

export function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * `header` as text or an object (JSON); `headerLength` and `trailing` bytes make broken ones.
 * `version`: the format version written (2, as saveState() writes; version 1 files are still read).
 */
export function frame(header, floats = [], { headerLength, trailing = 0, version = 2 } = {}) {
  const text = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const dataStart = (12 + text.length + 3) & ~3;
  const out = new Uint8Array(dataStart + floats.length * 4 + trailing + 4);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 0x54504f57, true);
  dv.setUint16(4, version, true);
  dv.setUint32(8, headerLength ?? text.length, true);
  out.set(text, 12);
  floats.forEach((x, i) => dv.setFloat32(dataStart + i * 4, x, true));
  const end = out.length - 4;
  dv.setUint32(end, crc32(out.subarray(0, end)), true);
  return out;
}
