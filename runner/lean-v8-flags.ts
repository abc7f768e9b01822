/**
 * V8 flags for Squadron's own I/O-bound processes: the runner (local/runner-process.ts) and the
 * team MCP server (runner/mcp/launch.ts). Each waits on a CLI, the team files or the store, and
 * there is one of each per agent, so what V8 spends to make hot code fast buys them nothing but
 * resident memory (issue 14, item 16):
 * - `--max-semi-space-size=1`: a 1 MiB young generation instead of up to 16 MiB.
 * - `--no-opt --no-sparkplug` (`node --v8-options`: `--opt` is TurboFan, `--sparkplug` the
 *   baseline compiler): the interpreter only. Measured on 32 agent runners, once an agent had
 *   run long enough for TurboFan to compile its hot functions, it had touched 3.5 MiB more of
 *   the `node` binary (the compiler's own code) and grown its code space. Its peak went from
 *   59.6 to 53.5 MiB (p50) and 63.4 to 54.8 MiB (max); team servers reached 61 MiB the same way.
 *   The CPU of the batch did not rise (60.7 CPU s against 63.4): in processes this short,
 *   compiling costs what it saves.
 * Not `--lite-mode`: it removes WebAssembly, and Node's fetch (undici's llhttp is WebAssembly)
 * then throws "WebAssembly is not defined", so Finalize could not open a pull request nor a
 * runner send a webhook.
 */
export const LEAN_V8_FLAGS: readonly string[] = ["--max-semi-space-size=1", "--no-opt", "--no-sparkplug"];
