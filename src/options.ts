// Option names: every constructor refuses a key it does not know, so a typo or a Keras snake_case
// name is an error instead of a silently ignored option (Keras raises on unknown arguments too).

const camel = (s: string): string => s.replace(/_+([a-z0-9])/g, (_, c: string) => c.toUpperCase());

interface OptionHolder {
  readonly optionNames?: readonly string[];
}

/**
 * The option names a class accepts: `base` plus the `optionNames` each class of its chain
 * declares as its own static property.
 */
function allowedOptions(cls: unknown, base: readonly string[]): Set<string> {
  const names = new Set(base);
  for (let c = cls; typeof c === 'function'; c = Object.getPrototypeOf(c)) {
    if (Object.prototype.hasOwnProperty.call(c, 'optionNames')) {
      for (const n of (c as OptionHolder).optionNames ?? []) names.add(n);
    }
  }
  return names;
}

/**
 * Throws a TypeError naming the first key of `options` that `cls` (with `base`) does not accept,
 * with "did you mean" for a snake_case spelling of an accepted name.
 */
export function checkOptionNames(cls: unknown, where: string, options: object, base: readonly string[]): void {
  const allowed = allowedOptions(cls, base);
  for (const key of Object.keys(options)) {
    if (allowed.has(key)) continue;
    const meant = camel(key);
    if (meant !== key && allowed.has(meant)) {
      throw new TypeError(`${where}: unknown option '${key}' (did you mean ${meant}?)`);
    }
    const own = typeof cls === 'function' && !Object.prototype.hasOwnProperty.call(cls, 'optionNames')
      ? ` (a subclass lists the options it adds in \`static optionNames\`)`
      : '';
    throw new TypeError(`${where}: unknown option '${key}'; expected one of ${[...allowed].join(', ')}${own}`);
  }
}
