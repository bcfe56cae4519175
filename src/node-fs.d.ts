// The one Node API the core touches, behind a dynamic import on Node only. Declared here so the
// core does not depend on @types/node (it also runs in browsers, Deno, Bun and workers).
declare module 'node:fs/promises' {
  export function readFile(path: URL): Promise<Uint8Array>;
}
