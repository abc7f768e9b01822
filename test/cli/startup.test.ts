/**
 * Every `squadron` command imports every command module to register its options, so whatever a
 * command module imports at its top is loaded by `squadron get` as much as by `squadron up`. The
 * local stack (the CDK app it synthesises: aws-cdk-lib) and core/manifest (zod and the schemas)
 * took `squadron version` from 0.5 s to 1.5–1.9 s; they are loaded by the commands that use them.
 * This test starts the CLI as bin/squadron.js does and records each module it imports.
 */
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

const repo = resolve(import.meta.dirname, "..", "..");

const PROBE = `
import { register } from "tsx/esm/api";
const loaded = [];
register({ onImport: (url) => loaded.push(url) });
const { buildProgram } = await import("./cli/main.ts");
const program = await buildProgram();
process.stdout.write(JSON.stringify({ commands: program.commands.length, loaded }));
`;

function modulesLoadedToRegister(): { commands: number; loaded: string[] } {
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", PROBE], {
    cwd: repo,
    encoding: "utf8",
  });
  if (result.status !== 0) throw new Error(`the probe failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as { commands: number; loaded: string[] };
}

describe("squadron starts without loading what only some commands use", () => {
  it("registers every command without the local stack, the CDK, zod or the manifest schemas", () => {
    const { commands, loaded } = modulesLoadedToRegister();
    expect(commands).toBeGreaterThan(10);
    // The probe sees the CLI's own modules: it would see these too if they were imported.
    expect(loaded.some((url) => url.endsWith("/cli/commands/validate.ts"))).toBe(true);
    const heavy = loaded.filter((url) =>
      /\/node_modules\/(aws-cdk-lib|zod|@aws-sdk\/client-|dynalite|aws-local-stepfunctions)\/|\/(local\/stack|infra\/[^/]+|core\/manifest\/(schema|index))\.ts$/.test(
        url,
      ),
    );
    expect(heavy).toEqual([]);
  });
});
