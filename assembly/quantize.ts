// Blockwise 8-bit storage of optimizer slots (docs/int8-state.md). Each block of up to 256
// elements keeps one float32 absmax `a` and one byte per element: a float-like code of x / a with
// 3 mantissa bits (bitsandbytes' dynamic map needs a 256-entry table, i.e. a scalar binary search
// per element, because wasm SIMD has no gather; this code is a handful of integer ops per lane
// and measured as accurate on Adam moments, see the doc).
//   signed (first moments): bit 7 sign, bits 0..6 k in [0, 121]; k = 0 is zero, else |x| / a is
//     2^((k - 1) / 8 - 15) to 3 mantissa bits: binades 2^-15 .. 1. Smaller values flush to zero.
//   unsigned (second moments): k in [0, 249] over binades 2^-31 .. 1; a non-zero |x| / a never
//     becomes zero (it takes k = 1), so a rounded-away v cannot turn m / sqrt(v) into m / eps.
// Rounding is on the float32 bits of y = |x| * fl(1 / a): to nearest within a binade (ties away
// from zero), or stochastic for the slots of a step that are slow EMAs (Adam's v, Lion's momentum,
// accumulators): the bits below the kept mantissa are the probability of rounding up, against a
// draw from a hash of the element's index and a per-step seed. A slow EMA (v with beta2 = 0.999
// moves 0.1% a step) would otherwise never leave its code, whose half-step is 3%; measured in
// docs/int8-state.md. The hash makes it deterministic: SIMD and scalar, resumed and uninterrupted
// runs give the same bits. Restores always round to nearest.
// A block whose absmax is below 2^-126 (subnormal) is stored as zeros.
//
// A slot is one allocation: [scratch: 256 float32][absmax: one float32 per block, padded to 16
// bytes][codes: one byte per element]. Blocks never straddle a segment (`seg` elements: the whole
// variable, or one row for LazyAdam), so a sparse update of some rows requantizes only their blocks.
// Optimizer drivers (*_int8.ts) dequantize a block into the scratch, run the optimizer's own
// float32 kernel on it, and requantize: one pass over memory, the update math written once.
import { useSimd } from './simd';

export const QBLOCK: i32 = 256; // elements per block
const SCRATCH_BYTES: usize = 1024;
const SIGNED_BIAS: i32 = 895; // k + 895 = (127 - 15) * 8 + (k - 1): biased exponent and mantissa
const SIGNED_MAX: i32 = 121;
const UNSIGNED_BIAS: i32 = 767; // (127 - 31) * 8 - 1
const UNSIGNED_MAX: i32 = 249;
const MIN_NORMAL: f32 = 1.1754943508222875e-38;

/** The scratch (256 float32) of a slot. */
// @ts-ignore: decorator
@inline
export function qScratch(slot: usize): usize {
  return slot;
}

/** Where a slot's absmax array starts. */
// @ts-ignore: decorator
@inline
export function qAbsmax(slot: usize): usize {
  return slot + SCRATCH_BYTES;
}

/** Where a slot's codes start: after the absmax of every block, padded to 16 bytes. */
// @ts-ignore: decorator
@inline
export function qCodes(slot: usize, n: i32, seg: i32): usize {
  const blocks = <usize>(n / seg) * <usize>((seg + QBLOCK - 1) / QBLOCK);
  return slot + SCRATCH_BYTES + ((blocks * 4 + 15) & ~15);
}

/** dst[0..len) = dequantized codes[0..len) with absmax a. */
export function qDequantBlock(codes: usize, a: f32, dst: usize, len: i32, signed: bool): void {
  const va = f32x4.splat(a);
  const e = useSimd ? len & ~15 : 0;
  let i = 0;
  // A code's float has 16 zero low bits: its high half, (k + bias) << 4 with the sign at bit 15,
  // is built in u16 lanes, 8 at a time, then interleaved with zeros into float lanes.
  const bias = i16x8.splat(<i16>(signed ? SIGNED_BIAS : UNSIGNED_BIAS));
  const mag = i16x8.splat(<i16>(signed ? 0x7f : 0xff));
  const zero = i16x8.splat(0);
  for (; i < e; i += 16) {
    const raw = v128.load(codes + <usize>i);
    const o = dst + (<usize>i << 2);
    const h0 = highHalves(signed ? i16x8.extend_low_i8x16_s(raw) : i16x8.extend_low_i8x16_u(raw), bias, mag, zero, signed);
    const h1 = highHalves(signed ? i16x8.extend_high_i8x16_s(raw) : i16x8.extend_high_i8x16_u(raw), bias, mag, zero, signed);
    v128.store(o, f32x4.mul(i8x16.shuffle(zero, h0, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23), va));
    v128.store(o + 16, f32x4.mul(i8x16.shuffle(zero, h0, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31), va));
    v128.store(o + 32, f32x4.mul(i8x16.shuffle(zero, h1, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23), va));
    v128.store(o + 48, f32x4.mul(i8x16.shuffle(zero, h1, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31), va));
  }
  const b = signed ? SIGNED_BIAS : UNSIGNED_BIAS;
  for (; i < len; i++) {
    const c = <i32>load<u8>(codes + <usize>i);
    const k = signed ? c & 0x7f : c;
    const bits = k == 0 ? 0 : ((k + b) << 20) | (signed ? (c & 0x80) << 24 : 0);
    store<f32>(dst + (<usize>i << 2), reinterpret<f32>(bits) * a);
  }
}

/**
 * The high 16 bits of the floats of 8 codes (u16 lanes); 0 for a zero code. Signed codes come
 * sign-extended (the code's sign is then bit 15, the float's), unsigned ones zero-extended.
 */
// @ts-ignore: decorator
@inline
function highHalves(c: v128, bias: v128, mag: v128, zero: v128, signed: bool): v128 {
  const k = v128.and(c, mag);
  let h = i16x8.shl(i16x8.add(k, bias), 4);
  if (signed) h = v128.or(h, v128.and(c, i16x8.splat(<i16>0x8000)));
  return v128.andnot(h, i16x8.eq(k, zero));
}

/** The 16 codes at `codes` as two vectors of float high halves (qDecodeLanes turns them into floats). */
// @ts-ignore: decorator
@inline
export function qHalvesLow(raw: v128, signed: bool): v128 {
  return highHalves(signed ? i16x8.extend_low_i8x16_s(raw) : i16x8.extend_low_i8x16_u(raw), i16x8.splat(<i16>(signed ? SIGNED_BIAS : UNSIGNED_BIAS)), i16x8.splat(<i16>(signed ? 0x7f : 0xff)), i16x8.splat(0), signed);
}

// @ts-ignore: decorator
@inline
export function qHalvesHigh(raw: v128, signed: bool): v128 {
  return highHalves(signed ? i16x8.extend_high_i8x16_s(raw) : i16x8.extend_high_i8x16_u(raw), i16x8.splat(<i16>(signed ? SIGNED_BIAS : UNSIGNED_BIAS)), i16x8.splat(<i16>(signed ? 0x7f : 0xff)), i16x8.splat(0), signed);
}

/** Lanes 0-3 of 8 high halves, as floats times the absmax va (the values qDequantBlock stores). */
// @ts-ignore: decorator
@inline
export function qDecode0(h: v128, va: v128): v128 {
  return f32x4.mul(i8x16.shuffle(i16x8.splat(0), h, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23), va);
}

/** Lanes 4-7 of 8 high halves, as floats times va. */
// @ts-ignore: decorator
@inline
export function qDecode1(h: v128, va: v128): v128 {
  return f32x4.mul(i8x16.shuffle(i16x8.splat(0), h, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31), va);
}

/** Floats q*4 .. q*4+3 (q a constant 0..3) of the 16 codes `raw`, times the absmax va. */
// @ts-ignore: decorator
@inline
export function qDecodeQ(raw: v128, q: i32, va: v128, signed: bool): v128 {
  const h = q < 2 ? qHalvesLow(raw, signed) : qHalvesHigh(raw, signed);
  return q & 1 ? qDecode1(h, va) : qDecode0(h, va);
}

/**
 * The rounding offset (20 bits) of element `index` under `seed`: the top bits of a multiplicative
 * (Fibonacci) hash of index ^ seed, one multiply per lane. Over an element's steps the seed varies,
 * so its draws are spread over [0, 2^20) and the rounding is unbiased (tested); across a block's
 * elements they are evenly spread (a Weyl sequence), which is all dithering needs.
 */
// @ts-ignore: decorator
@inline
function roundingBits(index: u32, seed: u32): u32 {
  return ((index ^ seed) * 0x9e3779b1) >> 12;
}

// @ts-ignore: decorator
@inline
export function roundingBitsX4(index: v128, seed: v128): v128 {
  return i32x4.shr_u(i32x4.mul(v128.xor(index, seed), i32x4.splat(0x9e3779b1)), 12);
}

/**
 * Quantizes src[0..len) into codes[0..len), writing the block's absmax to *absmax. Reads src only:
 * src may be the slot's scratch. Rounds stochastically when `stochastic` (element i draws with the
 * hash of `base + i` under `seed`), otherwise to nearest.
 */
export function qQuantBlock(src: usize, codes: usize, absmax: usize, len: i32, signed: bool, stochastic: bool, seed: u32, base: u32): void {
  const e = useSimd ? len & ~15 : 0;
  // The absmax, as the integer max of the bits of |x|: they order as the values do (any NaN above
  // infinity), it is exact and order-free, so SIMD and scalar agree, and i32x4.max_s is many times
  // faster than f32x4.max in V8 (which must order NaN and -0).
  const absMask = i32x4.splat(0x7fffffff);
  let i = 0;
  let vm = i32x4.splat(0);
  for (; i < e; i += 4) vm = i32x4.max_s(vm, v128.and(v128.load(src + (<usize>i << 2)), absMask));
  qEncodeBlock(src, codes, absmax, qAbsBits(vm, src, e, len), len, signed, stochastic, seed, base);
}

/**
 * The bits of a block's absmax: the lane max of `vm` (the bits of |x| of src[0..from), maxed in
 * i32x4 lanes) and of |src[from..len)|.
 */
// @ts-ignore: decorator
@inline
export function qAbsBits(vm: v128, src: usize, from: i32, len: i32): i32 {
  let bits = max(max(i32x4.extract_lane(vm, 0), i32x4.extract_lane(vm, 1)), max(i32x4.extract_lane(vm, 2), i32x4.extract_lane(vm, 3)));
  for (let i = from; i < len; i++) bits = max(bits, load<i32>(src + (<usize>i << 2)) & 0x7fffffff);
  return bits;
}

/**
 * Encodes src[0..len) into codes[0..len) given the bits of its absmax (qAbsBits), storing the
 * absmax at *absmax; rounding as qQuantBlock.
 */
export function qEncodeBlock(src: usize, codes: usize, absmax: usize, bits: i32, len: i32, signed: bool, stochastic: bool, seed: u32, base: u32): void {
  const e = useSimd ? len & ~15 : 0;
  const absMask = i32x4.splat(0x7fffffff);
  const a: f32 = bits > 0x7f800000 ? reinterpret<f32>(0x7fc00000) : reinterpret<f32>(bits); // one NaN whichever it was
  if (a < MIN_NORMAL) {
    // Zeros (or values float32 cannot scale by 1 / a): stored as zeros.
    store<f32>(absmax, 0);
    memory.fill(codes, 0, <usize>len);
    return;
  }
  store<f32>(absmax, a);
  const r: f32 = <f32>1 / a;
  const vr = f32x4.splat(r);
  const kbias = i16x8.splat(<i16>(signed ? SIGNED_BIAS : UNSIGNED_BIAS));
  const kmax = i16x8.splat(<i16>(signed ? SIGNED_MAX : UNSIGNED_MAX));
  // 16 elements at a time: t = (bits(|x| * r) + offset) >> 20 in i32 lanes, then in u16 lanes
  // k = min(t -sat bias, kmax) (the saturating subtraction is the clamp at 0), then bytes.
  let i = 0;
  // A block whose absmax is NaN or infinite (rare) is encoded by the scalar loop below, which gives
  // the same bits; with a finite absmax every x is finite, so a signed code's sign can ride along
  // in the product (encodeSigned16).
  if (bits < 0x7f800000) {
    if (stochastic) {
      if (signed) i = encodeStochastic(src, codes, e, vr, absMask, kbias, kmax, seed, base, true);
      else i = encodeStochastic(src, codes, e, vr, absMask, kbias, kmax, seed, base, false);
    } else {
      const half = i32x4.splat(1 << 19);
      if (signed) for (; i < e; i += 16) v128.store(codes + <usize>i, encodeSigned16(src + (<usize>i << 2), vr, half, half, half, half, kbias, kmax));
      else for (; i < e; i += 16) v128.store(codes + <usize>i, encodeUnsigned16(src + (<usize>i << 2), vr, absMask, half, half, half, half, kbias, kmax));
    }
  }
  const bias = signed ? SIGNED_BIAS : UNSIGNED_BIAS;
  const top = signed ? SIGNED_MAX : UNSIGNED_MAX;
  for (; i < len; i++) {
    const x = load<u32>(src + (<usize>i << 2));
    const y = reinterpret<u32>(reinterpret<f32>(x & 0x7fffffff) * r);
    const off: u32 = stochastic ? roundingBits(base + <u32>i, seed) : 1 << 19;
    let k = min(max(<i32>((y + off) >> 20) - bias, 0), top);
    if (signed) {
      if (k > 0) k |= <i32>((x >> 24) & 0x80);
    } else if (k == 0 && y != 0) k = 1; // a non-zero second moment never becomes zero
    store<u8>(codes + <usize>i, <u8>k);
  }
}

/** The SIMD part of a stochastic qEncodeBlock with a finite absmax (up to e). */
// @ts-ignore: decorator
@inline
function encodeStochastic(src: usize, codes: usize, e: i32, vr: v128, absMask: v128, kbias: v128, kmax: v128, seed: u32, base: u32, signed: bool): i32 {
  // (Signed blocks, Lion's, are one segment per variable: their bases are multiples of 256.)
  if ((base & 15) == 0) return encodeStochasticAligned(src, codes, e, vr, absMask, kbias, kmax, seed, base, signed, 16);
  if ((base & 7) == 0 && !signed) return encodeStochasticAligned(src, codes, e, vr, absMask, kbias, kmax, seed, base, signed, 8);
  let i = 0;
  const vs = i32x4.splat(seed);
  const four = i32x4.splat(4);
  let idx = i32x4.add(i32x4.splat(base), i32x4(0, 1, 2, 3));
  for (; i < e; i += 16) {
    const o0 = roundingBitsX4(idx, vs);
    idx = i32x4.add(idx, four);
    const o1 = roundingBitsX4(idx, vs);
    idx = i32x4.add(idx, four);
    const o2 = roundingBitsX4(idx, vs);
    idx = i32x4.add(idx, four);
    const o3 = roundingBitsX4(idx, vs);
    idx = i32x4.add(idx, four);
    const s = src + (<usize>i << 2);
    v128.store(codes + <usize>i, signed ? encodeSigned16(s, vr, o0, o1, o2, o3, kbias, kmax) : encodeUnsigned16(s, vr, absMask, o0, o1, o2, o3, kbias, kmax));
  }
  return i;
}

/**
 * encodeStochastic for a base that is a multiple of `align` (16 or 8): the indices base + i + j
 * (j < align) have j as their bits below align, so (base + i + j) ^ seed = ((base + i) ^ (seed &
 * -align)) + (j ^ (seed & (align - 1))) without carries, and the hash's product splits into one
 * scalar product per `align` elements plus a constant per lane (mod 2^32): the draws of
 * roundingBitsX4, without a vector multiply.
 */
// @ts-ignore: decorator
@inline
function encodeStochasticAligned(src: usize, codes: usize, e: i32, vr: v128, absMask: v128, kbias: v128, kmax: v128, seed: u32, base: u32, signed: bool, align: u32): i32 {
  const hiSeed = seed & ~(align - 1);
  const lo = seed & (align - 1);
  const k0 = hashLanes(lo, 0);
  const k1 = hashLanes(lo, 4);
  const k2 = hashLanes(lo, align == 16 ? 8 : 0);
  const k3 = hashLanes(lo, align == 16 ? 12 : 4);
  let i = 0;
  for (; i < e; i += 16) {
    const b = base + <u32>i;
    const h0 = i32x4.splat((b ^ hiSeed) * 0x9e3779b1);
    const h1 = align == 16 ? h0 : i32x4.splat(((b + 8) ^ hiSeed) * 0x9e3779b1);
    const o0 = i32x4.shr_u(i32x4.add(h0, k0), 12);
    const o1 = i32x4.shr_u(i32x4.add(h0, k1), 12);
    const o2 = i32x4.shr_u(i32x4.add(h1, k2), 12);
    const o3 = i32x4.shr_u(i32x4.add(h1, k3), 12);
    const s = src + (<usize>i << 2);
    v128.store(codes + <usize>i, signed ? encodeSigned16(s, vr, o0, o1, o2, o3, kbias, kmax) : encodeUnsigned16(s, vr, absMask, o0, o1, o2, o3, kbias, kmax));
  }
  return i;
}

/** (((from + l) ^ lo) * 0x9e3779b1) for the lanes l = 0..3: their part of the hash's product. */
// @ts-ignore: decorator
@inline
function hashLanes(lo: u32, from: u32): v128 {
  return i32x4(<i32>((from ^ lo) * 0x9e3779b1), <i32>(((from + 1) ^ lo) * 0x9e3779b1), <i32>(((from + 2) ^ lo) * 0x9e3779b1), <i32>(((from + 3) ^ lo) * 0x9e3779b1));
}

/**
 * The unsigned codes of the 16 floats at s (see qQuantBlock) with the rounding offsets o0..o3, when
 * the block's absmax is finite (so y = |x| * r is finite).
 */
// @ts-ignore: decorator
@inline
function encodeUnsigned16(s: usize, vr: v128, absMask: v128, o0: v128, o1: v128, o2: v128, o3: v128, kbias: v128, kmax: v128): v128 {
  const y0 = f32x4.mul(v128.and(v128.load(s), absMask), vr);
  const y1 = f32x4.mul(v128.and(v128.load(s + 16), absMask), vr);
  const y2 = f32x4.mul(v128.and(v128.load(s + 32), absMask), vr);
  const y3 = f32x4.mul(v128.and(v128.load(s + 48), absMask), vr);
  const ta = i16x8.narrow_i32x4_u(i32x4.shr_u(i32x4.add(y0, o0), 20), i32x4.shr_u(i32x4.add(y1, o1), 20));
  const tb = i16x8.narrow_i32x4_u(i32x4.shr_u(i32x4.add(y2, o2), 20), i32x4.shr_u(i32x4.add(y3, o3), 20));
  // A non-zero y keeps at least k = 1: y >= 0, so its bits narrowed with unsigned saturation are
  // non-zero exactly when y != 0.
  const one = i16x8.splat(1);
  const ka = i16x8.max_u(i16x8.min_u(i16x8.sub_sat_u(ta, kbias), kmax), i16x8.min_u(i16x8.narrow_i32x4_u(y0, y1), one));
  const kb = i16x8.max_u(i16x8.min_u(i16x8.sub_sat_u(tb, kbias), kmax), i16x8.min_u(i16x8.narrow_i32x4_u(y2, y3), one));
  return i8x16.narrow_i16x8_u(ka, kb);
}

/**
 * The signed codes of the 16 floats at s (see qQuantBlock) with the rounding offsets o0..o3, when
 * the block's absmax is finite: y = x * r keeps the sign of x (float multiplication is symmetric,
 * so |y| is |x| * r bit for bit) and |y| <= 1 + ulp, so adding the offset never carries into bit 31:
 * t = (bits(y) + offset) >> 20 is the sign at bit 11 over the same 11 bits as from |x|. (A NaN
 * product would carry an arbitrary sign: such blocks take the scalar loop.)
 */
// @ts-ignore: decorator
@inline
function encodeSigned16(s: usize, vr: v128, o0: v128, o1: v128, o2: v128, o3: v128, kbias: v128, kmax: v128): v128 {
  const t0 = i32x4.shr_u(i32x4.add(f32x4.mul(v128.load(s), vr), o0), 20);
  const t1 = i32x4.shr_u(i32x4.add(f32x4.mul(v128.load(s + 16), vr), o1), 20);
  const t2 = i32x4.shr_u(i32x4.add(f32x4.mul(v128.load(s + 32), vr), o2), 20);
  const t3 = i32x4.shr_u(i32x4.add(f32x4.mul(v128.load(s + 48), vr), o3), 20);
  const ta = i16x8.narrow_i32x4_u(t0, t1);
  const tb = i16x8.narrow_i32x4_u(t2, t3);
  const mag = i16x8.splat(0x7ff);
  const k = i8x16.narrow_i16x8_u(
    i16x8.min_u(i16x8.sub_sat_u(v128.and(ta, mag), kbias), kmax),
    i16x8.min_u(i16x8.sub_sat_u(v128.and(tb, mag), kbias), kmax),
  );
  // Bits 4..11 of t as bytes: the sign at bit 7; kept only on non-zero codes.
  const hi = i8x16.narrow_i16x8_u(i16x8.shr_u(ta, 4), i16x8.shr_u(tb, 4));
  return v128.or(k, v128.andnot(v128.and(hi, i8x16.splat(<i8>0x80)), i8x16.eq(k, i8x16.splat(0))));
}

/** Quantizes n floats at src into a slot laid out in segments of seg elements (to nearest). */
export function quantizeSlot(slot: usize, src: usize, n: i32, seg: i32, signed: bool): void {
  const abs = qAbsmax(slot);
  const codes = qCodes(slot, n, seg);
  let bi: usize = 0;
  for (let s = 0; s < n; s += seg) {
    for (let b = 0; b < seg; b += QBLOCK) {
      const off = s + b;
      qQuantBlock(src + (<usize>off << 2), codes + <usize>off, abs + (bi << 2), min(QBLOCK, seg - b), signed, false, 0, 0);
      bi++;
    }
  }
}

/** Writes a slot's n dequantized floats to dst. */
export function dequantizeSlot(dst: usize, slot: usize, n: i32, seg: i32, signed: bool): void {
  const abs = qAbsmax(slot);
  const codes = qCodes(slot, n, seg);
  let bi: usize = 0;
  for (let s = 0; s < n; s += seg) {
    for (let b = 0; b < seg; b += QBLOCK) {
      const off = s + b;
      qDequantBlock(codes + <usize>off, load<f32>(abs + (bi << 2)), dst + (<usize>off << 2), min(QBLOCK, seg - b), signed);
      bi++;
    }
  }
}
