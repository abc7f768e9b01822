import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { AgentTeam } from "../../../core/manifest/types.ts";
import { LocalDirectoryStore } from "../../../core/run-files/object-store.ts";
import { finalize } from "../../../runner/finalize/finalize.ts";
import { initWorkspace } from "../../../runner/workspace/init.ts";
import { tempDir } from "../../support/git-fixtures.ts";
import { agent } from "./team-fixture.ts";

const root = tempDir("squadron-cowork-");
afterAll(() => execFileSync("rm", ["-rf", root]));

function write(file: string, content: string) {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
}

function coworkTeam(): AgentTeam {
  return {
    apiVersion: "claude.amcheste.io/v1alpha1",
    kind: "AgentTeam",
    metadata: { name: "research", namespace: "analysts", labels: {}, annotations: {} },
    spec: {
      mode: "cowork",
      workspace: {
        inputs: [
          { mountPath: "/workspace/brief", files: { "brief.md": "# Brief\n", "data/q1.csv": "a,b\n1,2\n" } },
          { mountPath: "/workspace/reference", configMap: "market-data" },
          { mountPath: "/workspace/archive", s3Prefix: "s3://other-bucket/archive/2024/" },
        ],
        output: { mountPath: "/workspace/output", size: "5Gi" },
      },
      auth: {},
      lead: agent("lead", "lead", {
        skills: [{ name: "report-style", source: { configMap: "style-skill" } }],
      }),
      teammates: [agent("analyst", "teammate", { skills: [{ name: "csv", source: { inline: "# CSV\n" } }] })],
      coordination: { taskAssignment: "self-claim", peerMessaging: true },
      lifecycle: {
        timeout: "1h",
        timeoutSeconds: 3600,
        onComplete: "none",
        approvalGates: [],
        maxRestarts: 3,
      },
      qualityGates: { requireTests: false, requireLint: false, validationScript: "test -s output/report.md" },
      observability: {},
    },
  };
}

describe("cowork workspace", () => {
  const dataDir = path.join(root, "data");
  write(path.join(dataDir, "configmaps/analysts/market-data/prices.json"), '{"x":1}\n');
  write(path.join(dataDir, "configmaps/analysts/market-data/nested/notes.md"), "notes\n");
  write(path.join(dataDir, "configmaps/analysts/style-skill/SKILL.md"), "# Report style\n");
  write(path.join(dataDir, "s3/other-bucket/archive/2024/old.md"), "old\n");
  const store = new LocalDirectoryStore(dataDir);

  it("copies inline files, configMap and s3 prefixes into place, creates the output directory, and is idempotent", async () => {
    const runDir = path.join(root, "run");
    const team = coworkTeam();
    const first = await initWorkspace({ runDir, team, store });
    const second = await initWorkspace({ runDir, team, store });
    expect(second.cowork).toEqual(first.cowork);
    const ws = path.join(runDir, "workspace");
    expect(readFileSync(path.join(ws, "brief/data/q1.csv"), "utf8")).toBe("a,b\n1,2\n");
    expect(readFileSync(path.join(ws, "reference/nested/notes.md"), "utf8")).toBe("notes\n");
    expect(readFileSync(path.join(ws, "archive/old.md"), "utf8")).toBe("old\n");
    expect(first.cowork?.inputs.map((i) => i.files)).toEqual([
      ["brief.md", "data/q1.csv"],
      ["nested/notes.md", "prices.json"],
      ["old.md"],
    ]);
    expect(existsSync(path.join(ws, "output"))).toBe(true);
    expect(readFileSync(path.join(ws, ".claude/skills/report-style/SKILL.md"), "utf8")).toBe(
      "# Report style\n",
    );
    expect(readFileSync(path.join(ws, ".claude/skills/csv/SKILL.md"), "utf8")).toBe("# CSV\n");
    expect(first.agents.every((a) => a.cwd === ws)).toBe(true);
  });

  it("fails clearly on a missing configMap and on inline paths that leave the workspace", async () => {
    const team = coworkTeam();
    team.spec.workspace?.inputs.push({ mountPath: "/workspace/missing", configMap: "nope" });
    await expect(initWorkspace({ runDir: path.join(root, "run-missing"), team, store })).rejects.toThrow(
      /input .*configmaps\/analysts\/nope.* does not exist/,
    );
    const escaping = coworkTeam();
    escaping.spec.workspace = {
      inputs: [{ mountPath: "/workspace/in", files: { "../../etc/x": "no" } }],
      output: { mountPath: "/workspace/output", size: "5Gi" },
    };
    await expect(
      initWorkspace({ runDir: path.join(root, "run-escape"), team: escaping, store }),
    ).rejects.toThrow(/must be relative and stay inside/);
  });

  it("finalize runs the validation script and lists the outputs, leaving delivery to DeliverOutputs", async () => {
    const runDir = path.join(root, "run");
    const team = coworkTeam();
    const empty = await finalize({ runDir, team, runId: "c1" });
    expect(empty.ok).toBe(false);
    expect(empty.gates[0]).toMatchObject({ name: "validation", ok: false, exitCode: 1 });

    write(path.join(runDir, "workspace/output/report.md"), "# Findings\n");
    write(path.join(runDir, "workspace/output/charts/q1.svg"), "<svg/>\n");
    const result = await finalize({ runDir, team, runId: "c1" });
    expect(result.ok, result.error).toBe(true);
    expect(result.outputs).toEqual({ mountPath: "/workspace/output", files: ["charts/q1.svg", "report.md"] });
    // The runner writes nothing to the object store: it holds no write access to the bucket.
    expect(existsSync(path.join(dataDir, "runs"))).toBe(false);
  });
});
