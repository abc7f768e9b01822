/**
 * The local stack's definition is the one CDK synthesises, synthesised in a child process (the
 * synth's modules held 400 MiB in the stack's process for as long as it ran) and cached by a hash
 * of its sources.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadTeamRunDefinition } from "../../local/definition.ts";
import { extractTeamRunDefinition } from "../../state-machines/synth.ts";

const cacheDir = mkdtempSync(join(tmpdir(), "squadron-definition-"));
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

describe("loadTeamRunDefinition", () => {
  it("synthesises CDK's definition apart from the stack, then serves it from the cache", async () => {
    const progress: string[] = [];
    const first = await loadTeamRunDefinition(cacheDir, (line) => progress.push(line));
    expect(first.cached).toBe(false);
    expect(progress.join("\n")).toMatch(/Synthesising the CDK app/);
    expect(first.definition).toEqual(extractTeamRunDefinition({ compute: "ecs" }));
    expect(readdirSync(cacheDir).filter((name) => name.endsWith(".json"))).toHaveLength(1);

    const again = await loadTeamRunDefinition(cacheDir);
    expect(again.cached).toBe(true);
    expect(again.definition).toEqual(first.definition);
  }, 180_000);
});
