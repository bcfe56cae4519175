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

/** Registers a class under its static `className` (optimizers and schedules alike). Returns it. */
export function registerClass<C extends SerializableClass>(cls: C): C {
  if (typeof (cls as unknown) !== 'function' || typeof cls.className !== 'string' || cls.className === '') {
    throw new TypeError('registerClass: the class needs a static `className` string');
  }
  if (typeof (cls.fromConfig as unknown) !== 'function') {
    throw new TypeError(`registerClass: ${cls.className} needs a static fromConfig(config)`);
  }
  classes.set(cls.className, cls);
  return cls;
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
  if (!isSerializedObject(obj)) throw new TypeError(`deserialize: expected { className, config } for the ${what}`);
  const cls = classes.get(obj.className);
  if (!cls) {
    throw new Error(`deserialize: unknown ${what} class '${obj.className}': register it with registerClass() first`);
  }
  return cls.fromConfig(obj.config);
}
