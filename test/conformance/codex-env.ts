import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

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
  await mkdir(home, { recursive: true });
  await writeFile(
    join(home, "config.toml"),
    ["check_for_update_on_startup = false", "", "[analytics]", "enabled = false", ""].join("\n"),
  );
  return home;
}

/** Environment that points codex at the stub through the adapter's provider. */
export function codexStubEnv(home: string, stubUrl: string): Record<string, string> {
  return { CODEX_HOME: home, OPENAI_BASE_URL: `${stubUrl}/v1`, OPENAI_API_KEY: STUB_KEY };
}
