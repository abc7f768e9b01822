import { execFileSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runLayout } from "../../../core/run-files/layout.ts";
import { writeTriggerPayload } from "../../../runner/workspace/trigger-payload.ts";
import { tempDir } from "../../support/git-fixtures.ts";
import { agent, codingTeam } from "./team-fixture.ts";

describe("trigger payload in the run's workspace", () => {
  const root = tempDir("squadron-payload-");
  afterAll(() => execFileSync("rm", ["-rf", root]));
  const body = '{"deal":{"id":42,"note":"$(rm -rf /) `id` {{lead}}"}}';

  const team = (mountPath: string) =>
    codingTeam("file:///nowhere.git", [agent("helper", "teammate")], {
      triggerPayload: { trigger: "new-deal", mountPath, content: body, sha256: "x" },
    });

  it("writes the body byte for byte, read-only, at the mapped mount path; a retried init writes it again", async () => {
    const layout = runLayout(path.join(root, "run1"));
    for (let attempt = 0; attempt < 2; attempt++) {
      const target = await writeTriggerPayload(layout, team("/workspace/data/trigger-payload.json"));
      expect(target).toBe(path.join(layout.workspaceDir, "data", "trigger-payload.json"));
      expect(readFileSync(target as string, "utf8")).toBe(body);
      expect(statSync(target as string).mode & 0o777).toBe(0o444);
    }
  });

  it("writes nothing for a run no trigger created", async () => {
    const layout = runLayout(path.join(root, "run2"));
    const plain = codingTeam("file:///nowhere.git", []);
    expect(await writeTriggerPayload(layout, plain)).toBeUndefined();
  });

  it("never writes outside the workspace, whatever the stored mount path says", async () => {
    const layout = runLayout(path.join(root, "run3"));
    await expect(writeTriggerPayload(layout, team("/workspace/../../escape.json"))).rejects.toThrow(
      /leaves the workspace/,
    );
    await expect(writeTriggerPayload(layout, team("/workspace"))).rejects.toThrow(/not a file/);
  });
});
