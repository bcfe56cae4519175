// Argument checks shared by every constructor and public method. Errors name the argument and
// say what was expected; callers run them before changing any state.

export interface NumberRule {
  min?: number;
  max?: number;
  /** min itself is not allowed */
  minExclusive?: boolean;
  /** max itself is not allowed */
  maxExclusive?: boolean;
  integer?: boolean;
}

function describe(rule: NumberRule): string {
  const parts: string[] = [rule.integer ? 'an integer' : 'a finite number'];
  if (rule.min !== undefined) parts.push(`${rule.minExclusive ? '>' : '>='} ${rule.min}`);
  if (rule.max !== undefined) parts.push(`${rule.maxExclusive ? '<' : '<='} ${rule.max}`);
  return parts.join(' ');
}

/** Returns `value` when it is a number obeying `rule`, else throws naming `name`. */
export function checkNumber(name: string, value: unknown, rule: NumberRule = {}): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new TypeError(`${name} must be ${describe(rule)}, got ${String(value)}`);
  }
  const bad =
    (rule.integer && !Number.isInteger(value)) ||
    (rule.min !== undefined && (rule.minExclusive ? value <= rule.min : value < rule.min)) ||
    (rule.max !== undefined && (rule.maxExclusive ? value >= rule.max : value > rule.max));
  if (bad) throw new RangeError(`${name} must be ${describe(rule)}, got ${value}`);
  return value;
}

/** Like checkNumber, but null/undefined pass through as null (an option that is off). */
export function optionalNumber(name: string, value: unknown, rule: NumberRule = {}): number | null {
  return value === undefined || value === null ? null : checkNumber(name, value, rule);
}

export function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be a boolean, got ${String(value)}`);
  return value;
}

/** A shape: a non-empty list of positive integers. Returns a frozen copy. */
export function checkShape(name: string, shape: unknown): readonly number[] {
  if (!Array.isArray(shape) || shape.length === 0) {
    throw new TypeError(`${name} must be a non-empty array of positive integers, got ${JSON.stringify(shape)}`);
  }
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 1) {
      throw new RangeError(`${name} must be a non-empty array of positive integers, got ${JSON.stringify(shape)}`);
    }
  }
  return Object.freeze([...shape] as number[]);
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
