// Argument checks shared by every constructor and public method. Errors name the argument and
// say what was expected; callers run them before changing any state.

export interface NumberRule {
  min?: number;
  max?: number;
  /** min itself is not allowed */
  minExclusive?: boolean;
  /** max itself is not allowed */
  maxExclusive?: boolean;
  /** A safe integer (|value| < 2^53). */
  integer?: boolean;
  /**
   * The value is rounded to float32 where it is used (a kernel's f32 parameter, Math.fround): the
   * rounded value must also be finite and obey min/max (1e39 is finite but Infinity in float32;
   * 0.99999999 < 1 is 1 in float32). The original value is returned.
   */
  float32?: boolean;
}

function describe(rule: NumberRule): string {
  const parts: string[] = [rule.integer ? 'an integer' : 'a finite number'];
  if (rule.min !== undefined) parts.push(`${rule.minExclusive ? '>' : '>='} ${rule.min}`);
  if (rule.max !== undefined) parts.push(`${rule.maxExclusive ? '<' : '<='} ${rule.max}`);
  return parts.join(' ');
}

/**
 * What a bad value is, for error messages: numbers as themselves, anything else with its type
 * ("the string '0.01'", "the boolean true", "an object"). Reads no property of an object, so no
 * user getter runs while an error is being reported.
 */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'number':
      return String(value);
    case 'string':
      return `the string '${value.length > 40 ? `${value.slice(0, 40)}...` : value}'`;
    case 'boolean':
      return `the boolean ${value}`;
    case 'bigint':
      return `the bigint ${value}n`;
    case 'symbol':
      return 'a symbol';
    case 'undefined':
      return 'undefined';
    case 'function':
      return 'a function';
    default:
      return value === null ? 'null' : Array.isArray(value) ? 'an array' : 'an object';
  }
}

function outside(value: number, rule: NumberRule): boolean {
  return (
    (rule.min !== undefined && (rule.minExclusive ? value <= rule.min : value < rule.min)) ||
    (rule.max !== undefined && (rule.maxExclusive ? value >= rule.max : value > rule.max))
  );
}

/** Returns `value` when it is a number obeying `rule`, else throws naming `name`. */
export function checkNumber(name: string, value: unknown, rule: NumberRule = {}): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new TypeError(`${name} must be ${describe(rule)}, got ${describeValue(value)}`);
  }
  if ((rule.integer && !Number.isSafeInteger(value)) || outside(value, rule)) {
    const unsafe = rule.integer && Number.isInteger(value) ? ' (not a safe integer)' : '';
    throw new RangeError(`${name} must be ${describe(rule)}, got ${value}${unsafe}`);
  }
  if (rule.float32) {
    const f = Math.fround(value);
    if (!Number.isFinite(f) || outside(f, rule)) {
      throw new RangeError(`${name} must be ${describe(rule)} representable in float32, got ${value} (${f} in float32)`);
    }
  }
  return value;
}

/** Like checkNumber, but null/undefined pass through as null (an option that is off). */
export function optionalNumber(name: string, value: unknown, rule: NumberRule = {}): number | null {
  return value === undefined || value === null ? null : checkNumber(name, value, rule);
}

export function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be a boolean, got ${describeValue(value)}`);
  return value;
}

/** A shape as the message shows it: numbers joined, anything else described by type. */
function showShape(shape: readonly unknown[]): string {
  const bad = shape.findIndex((d) => typeof d !== 'number');
  return bad < 0 ? `[${shape.join(',')}]` : `an array whose element ${bad} is ${describeValue(shape[bad])}`;
}

/**
 * A variable shape: an array of positive integers; `[]` is a scalar (size 1), as in Keras and
 * tfjs. The array is read once (length, then each element) into a frozen copy that is returned,
 * so a Proxy or getter cannot change it between the check and its use.
 */
export function checkShape(name: string, shape: unknown): readonly number[] {
  const expected = `${name} must be an array of positive integers ([] for a scalar)`;
  if (!Array.isArray(shape)) throw new TypeError(`${expected}, got ${describeValue(shape)}`);
  const n: unknown = shape.length;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new RangeError(`${expected}, got an array of length ${describeValue(n)}`);
  const copy: unknown[] = [];
  for (let i = 0; i < n; i++) copy.push(shape[i]);
  for (const d of copy) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 1) throw new RangeError(`${expected}, got ${showShape(copy)}`);
  }
  return Object.freeze(copy as number[]);
}

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** The options object of a constructor (undefined -> {}), or a TypeError naming the class. */
export function checkOptions<T extends object>(where: string, options: T | undefined | null): T {
  if (options === undefined) return {} as T;
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`${where}: options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  return options;
}
