import { mkdirSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { CliTarget } from "./harness.ts";

/** The pinned Codex CLI (devDependency @openai/codex, the version runner/Dockerfile installs). */
export const CODEX_BIN = join(dirname(fileURLToPath(import.meta.url)), "../../node_modules/.bin/codex");

/** The key the stub is given; the stub accepts any key unless a test makes it refuse. */
export const STUB_KEY = "sk-squadron-stub";

/**
 * A private CODEX_HOME for one test (never the user's ~/.codex): codex keeps its sessions there,
 * so resumes work within the test and nothing leaks out. Update checks and analytics are off
 * (codex-rs/config: check_for_update_on_startup, [analytics] enabled). The model provider comes
 * from the adapter's own `-c` overrides (runner/adapters/codex.ts codexProviderOverrides), pointed
 * at the stub with OPENAI_BASE_URL, so the tests exercise the provider definition production uses.
 */
export async function codexHome(): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), "squadron-codex-home-"));
  writeCodexConfig(home);
  return home;
}

function writeCodexConfig(home: string): void {
  mkdirSync(home, { recursive: true });
  writeFileSync(
    join(home, "config.toml"),
    ["check_for_update_on_startup = false", "", "[analytics]", "enabled = false", ""].join("\n"),
  );
}

/**
 * Codex for the CLI-agnostic conformance harness (test/conformance/harness.ts `CliTarget`):
 * `env` makes `<home>/.codex` the CODEX_HOME and points the adapter's provider at the stub.
 */
export const codexTarget: CliTarget = {
  cli: "codex",
  executable: CODEX_BIN,
  model: "gpt-5-codex",
  env(stub, home) {
    const codex = join(home, ".codex");
    writeCodexConfig(codex);
    return { ...codexStubEnv(codex, stub.url), HOME: home };
  },
};

/** Environment that points codex at the stub through the adapter's provider. */
export function codexStubEnv(home: string, stubUrl: string): Record<string, string> {
  return { CODEX_HOME: home, OPENAI_BASE_URL: `${stubUrl}/v1`, OPENAI_API_KEY: STUB_KEY };
}
