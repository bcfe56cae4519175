# workerd config for test/runtimes-workerd.test.mjs (run `npm run build` first).
# The kernels arrive as a wasm module binding (`import wasm from './optim.wasm'`), the way a
# Cloudflare Worker gets them: workerd forbids compiling wasm from bytes at runtime.
# The test overrides the socket address with --socket-addr http=127.0.0.1:<free port>.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "main", worker = .trainer) ],
  sockets = [ (name = "http", address = "127.0.0.1:8787", http = (), service = "main") ],
);

const trainer :Workerd.Worker = (
  modules = [
    (name = "worker.mjs", esModule = embed "worker.mjs"),
    (name = "linear.mjs", esModule = embed "../linear.mjs"),
    (name = "wasm-optim.js", esModule = embed "../../../build/bundle/wasm-optim.edge.js"),
    (name = "optim.wasm", wasm = embed "../../../build/bundle/optim.wasm"),
    # kernel(): the kernels of ../kernels.mjs, precompiled by `wasm-optim compile` (the test runs it first)
    (name = "kernel-subset.mjs", esModule = embed "../kernel-subset.mjs"),
    (name = "adabelief.wasm", wasm = embed "../../../build/kernels-test/adabelief.wasm"),
    (name = "mix.wasm", wasm = embed "../../../build/kernels-test/mix.wasm"),
    (name = "r_sum.wasm", wasm = embed "../../../build/kernels-test/r_sum.wasm"),
    (name = "r_sumOfSquares.wasm", wasm = embed "../../../build/kernels-test/r_sumOfSquares.wasm"),
    (name = "r_max.wasm", wasm = embed "../../../build/kernels-test/r_max.wasm"),
    (name = "r_maxAbs.wasm", wasm = embed "../../../build/kernels-test/r_maxAbs.wasm"),
  ],
  compatibilityDate = "2025-09-01",
);
