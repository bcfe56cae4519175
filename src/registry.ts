// Class registry so a saved `{ className, config }` rebuilds the right class, user classes included.

/** A JSON value, as found in configs. */
export type ConfigValue = number | string | boolean | null | ConfigValue[] | { [key: string]: ConfigValue };
export type Config = { [key: string]: ConfigValue };

/** What `serialize()` produces and `deserialize()` takes. */
export interface SerializedObject {
  className: string;
  config: Config;
}

/** A registrable class: a static `className` and a static `fromConfig`. */
export interface SerializableClass<T = unknown> {
  readonly className: string;
  fromConfig(config: Config): T;
}

const classes = new Map<string, SerializableClass>();

/**
 * Registers a class under its static `className` (optimizers and schedules alike). Returns it.
 * The class must declare its own `className`: an inherited one would silently take over its
 * parent's name (deserializing the parent's configs would then build the subclass). For the same
 * reason a name registered to a class is refused to a subclass or superclass of it. Registering
 * the same class again does nothing.
 */
export function registerClass<C extends SerializableClass>(cls: C): C {
  // Read once: a static getter cannot pass the check with one name and register another.
  const name: unknown = typeof (cls as unknown) === 'function' ? cls.className : undefined;
  if (typeof name !== 'string' || name === '') {
    throw new TypeError('registerClass: the class needs a static `className` string');
  }
  const label = (c: unknown): string => (c as { name?: unknown }).name ? String((c as { name: unknown }).name) : 'an anonymous class';
  if (!Object.prototype.hasOwnProperty.call(cls, 'className')) {
    throw new TypeError(`registerClass: ${label(cls)} needs its own static className (it inherits '${name}' from ${label(Object.getPrototypeOf(cls))})`);
  }
  if (typeof (cls.fromConfig as unknown) !== 'function') {
    throw new TypeError(`registerClass: ${name} needs a static fromConfig(config)`);
  }
  const taken = classes.get(name);
  if (taken !== undefined && taken !== cls && related(taken, cls)) {
    throw new Error(`registerClass: className '${name}' is already registered to ${label(taken)}; give ${label(cls)} its own static className`);
  }
  classes.set(name, cls);
  return cls;
}

/** True when one class extends the other. */
function related(a: object, b: object): boolean {
  for (let p: unknown = Object.getPrototypeOf(a); p; p = Object.getPrototypeOf(p)) if (p === b) return true;
  for (let p: unknown = Object.getPrototypeOf(b); p; p = Object.getPrototypeOf(p)) if (p === a) return true;
  return false;
}

export function getRegisteredClass(className: string): SerializableClass | undefined {
  return classes.get(className);
}

export function isSerializedObject(x: unknown): x is SerializedObject {
  return (
    typeof x === 'object' && x !== null && typeof (x as SerializedObject).className === 'string' &&
    typeof (x as SerializedObject).config === 'object' && (x as SerializedObject).config !== null
  );
}

/** Rebuilds an object from `{ className, config }` through the registry. */
export function deserialize(obj: SerializedObject, what = 'object'): unknown {
  // Each field is read once: a getter cannot pass the check with one value and be used with another.
  const className: unknown = obj !== null && typeof obj === 'object' ? obj.className : undefined;
  const config: unknown = obj !== null && typeof obj === 'object' ? obj.config : undefined;
  if (typeof className !== 'string' || config === null || typeof config !== 'object') {
    throw new TypeError(`deserialize: expected { className, config } for the ${what}`);
  }
  const cls = classes.get(className);
  if (!cls) {
    throw new Error(`deserialize: unknown ${what} class '${className}': register it with registerClass() first`);
  }
  return cls.fromConfig(config as Config);
}
