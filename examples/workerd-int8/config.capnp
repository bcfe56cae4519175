# workerd config for the int8 edge example (run it with `node examples/workerd-int8/run.mjs`, which
# writes build/workerd-int8/digits.bin first; `npm run build` makes build/bundle/).
# Cloudflare Workers give an isolate 128 MB for the JavaScript heap and WebAssembly memory together.
# workerd has no setting for that limit, so this config caps every WebAssembly memory of the process
# at 128 MiB (2048 pages of 64 KiB) with a V8 flag; run.mjs measures the rest (the process' resident
# memory) from outside. run.mjs overrides the socket address with --socket-addr http=127.0.0.1:<port>.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "main", worker = .fineTuner) ],
  sockets = [ (name = "http", address = "127.0.0.1:8788", http = (), service = "main") ],
  v8Flags = [ "--wasm-max-mem-pages=2048" ],
);

const fineTuner :Workerd.Worker = (
  modules = [
    (name = "worker.mjs", esModule = embed "worker.mjs"),
    (name = "mlp.mjs", esModule = embed "mlp.mjs"),
    (name = "digits-bytes.mjs", esModule = embed "../data/digits-bytes.mjs"),
    (name = "wasm-optim.js", esModule = embed "../../build/bundle/wasm-optim.edge.js"),
    (name = "optim.wasm", wasm = embed "../../build/bundle/optim.wasm"),
    (name = "digits.bin", data = embed "../../build/workerd-int8/digits.bin"),
  ],
  compatibilityDate = "2025-09-01",
);
