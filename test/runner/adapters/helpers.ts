import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TurnInput } from "../../../runner/adapters/types.ts";

export const FIXTURES = fileURLToPath(new URL("../../fixtures/cli/", import.meta.url));
export const FAKE_CLI = join(FIXTURES, "fake-cli.mjs");

export async function tempDir(prefix = "squadron-adapter-"): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** A turn input that makes fake-cli.mjs replay `fixture`, recording what it saw into `record`. */
export function fakeTurn(
  cwd: string,
  fixture: string,
  extra: Partial<TurnInput> & { fakeEnv?: Record<string, string> } = {},
): TurnInput & { record: string } {
  const record = join(cwd, "record.jsonl");
  const { fakeEnv, ...rest } = extra;
  return {
    agent: { name: "backend", model: "claude-opus-4-6", permissionMode: "acceptEdits", prompt: "Do it" },
    prompt: "Do the task",
    cwd,
    ...rest,
    env: {
      FAKE_CLI_FIXTURE: join(FIXTURES, fixture),
      FAKE_CLI_RECORD: record,
      ...fakeEnv,
      ...(rest.env ?? {}),
    },
    record,
  };
}

export async function readRecord(path: string): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(path, "utf8").catch(() => "");
  return text
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
