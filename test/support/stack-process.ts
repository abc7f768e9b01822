/**
 * The local stack in a process of its own, for tests that kill it (-9) and start it again on the
 * same data directory: `tsx test/support/stack-process.ts <dataDir>`. Prints one JSON line
 * ({endpoint, token, pid, recovery}) once it serves, then serves until it is killed or stopped
 * (SIGTERM stops it as Ctrl-C would).
 */
import { startLocalStack } from "../../local/stack.ts";
import { DEFINITION_CACHE, envWithoutAgentKeys, FAST_RUNNER_ENV } from "../e2e/local-stack-harness.ts";

const dataDir = process.argv[2];
if (!dataDir) throw new Error("usage: stack-process.ts <dataDir>");
const stack = await startLocalStack({
  dataDir,
  port: 0,
  cacheDir: DEFINITION_CACHE,
  env: envWithoutAgentKeys(),
  stopGraceMs: 1000,
  runnerEnv: FAST_RUNNER_ENV,
});
process.on("SIGTERM", () => {
  void stack.stop().then(() => process.exit(0));
});
process.stdout.write(
  `${JSON.stringify({ endpoint: stack.endpoint, token: stack.token, pid: process.pid, recovery: stack.recovery })}\n`,
);
