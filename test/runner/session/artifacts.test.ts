/**
 * The runner's side of artifact routing (runner/session/artifacts.ts) in a coding team, with real
 * git worktrees: a producer's output is checked in its own worktree, the consumer's copy lands in
 * its worktree and is kept out of its branch (the runner commits what agents leave uncommitted).
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseTeam } from "../../../core/manifest/index.ts";
import type { AgentTeam } from "../../../core/manifest/types.ts";
import type { ArtifactDelivery, ArtifactStatus } from "../../../core/status/types.ts";
import { checkDeclaredOutputs, stageInputs } from "../../../runner/session/artifacts.ts";

let runDir: string;
let team: AgentTeam;

const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], {
    cwd,
    encoding: "utf8",
  });

beforeEach(() => {
  runDir = mkdtempSync(join(tmpdir(), "squadron-runner-artifacts-"));
  const repo = join(runDir, "repo");
  mkdirSync(repo);
  git(repo, "init", "-q", "-b", "main");
  writeFileSync(join(repo, "README.md"), "# app\n");
  git(repo, "add", "README.md");
  git(repo, "commit", "-q", "-m", "init");
  for (const name of ["researcher", "writer"])
    git(repo, "worktree", "add", "-q", "-b", name, join(runDir, "worktrees", name));
  team = parseTeam(
    JSON.stringify({
      apiVersion: "kagents.dev/v1alpha1",
      kind: "AgentTeam",
      metadata: { name: "coding" },
      spec: {
        repository: { url: repo },
        lead: { prompt: "Lead." },
        teammates: [
          { name: "researcher", prompt: "Research.", outputs: [{ path: "/workspace/docs/findings.md" }] },
          {
            name: "writer",
            prompt: "Write.",
            inputs: [{ from: "researcher", artifact: "findings.md", mountPath: "/workspace/stage" }],
          },
        ],
      },
    }),
  );
});

afterEach(() => {
  try {
    chmodSync(join(runDir, "worktrees", "writer", "stage"), 0o755);
  } catch {}
  rmSync(runDir, { recursive: true, force: true });
});

function recordingSink() {
  const recorded: {
    artifacts: ArtifactStatus[];
    deliveries: [string, string, ArtifactDelivery][];
    warnings: string[];
  } = {
    artifacts: [],
    deliveries: [],
    warnings: [],
  };
  return {
    recorded,
    sink: {
      recordArtifacts: async (a: ArtifactStatus[]) => void recorded.artifacts.push(...a),
      recordDelivery: async (p: string, n: string, d: ArtifactDelivery) =>
        void recorded.deliveries.push([p, n, d]),
      warn: async (reason: string, message: string) => void recorded.warnings.push(`${reason}: ${message}`),
    },
  };
}

describe("artifact routing in a coding team", () => {
  it("fails a producer whose output is missing from its worktree, then records it once written", async () => {
    const [researcher, writer] = team.spec.teammates;
    const { recorded, sink } = recordingSink();
    expect(await checkDeclaredOutputs(runDir, team, researcher!, sink)).toEqual({
      reason: "OutputMissing",
      message: "researcher ended without its declared outputs: /workspace/docs/findings.md does not exist.",
    });
    expect(recorded.warnings).toHaveLength(1);

    mkdirSync(join(runDir, "worktrees", "researcher", "docs"));
    writeFileSync(join(runDir, "worktrees", "researcher", "docs", "findings.md"), "found\n");
    expect(await checkDeclaredOutputs(runDir, team, researcher!, sink)).toBeUndefined();
    expect(recorded.artifacts).toMatchObject([
      {
        name: "findings.md",
        path: "/workspace/docs/findings.md",
        producedBy: "researcher",
        size: 6,
        deliveredTo: [],
      },
    ]);

    await stageInputs(runDir, team, writer!, sink);
    const writerTree = join(runDir, "worktrees", "writer");
    expect(readFileSync(join(writerTree, "stage", "findings.md"), "utf8")).toBe("found\n");
    expect(recorded.deliveries).toMatchObject([
      ["researcher", "findings.md", { consumer: "writer", mountPath: "/workspace/stage", size: 6 }],
    ]);
    // The copy is not the consumer's work: git does not see it, so it is never committed to its branch.
    expect(git(writerTree, "status", "--porcelain")).toBe("");
    // Staging again (a restarted consumer) does not repeat the exclude line.
    await stageInputs(runDir, team, writer!, sink);
    const exclude = readFileSync(join(runDir, "repo", ".git", "info", "exclude"), "utf8");
    expect(exclude.split("\n").filter((line) => line === "/stage/findings.md")).toHaveLength(1);
  });

  it("refuses to stage an artifact that is gone by the time its consumer starts (the agent must not start)", async () => {
    const writer = team.spec.teammates[1]!;
    const { recorded, sink } = recordingSink();
    await expect(stageInputs(runDir, team, writer, sink)).rejects.toThrow(
      /^Cannot stage researcher's "findings\.md" at \/workspace\/stage: \/workspace\/docs\/findings\.md does not exist$/,
    );
    expect(recorded.deliveries).toEqual([]);
  });
});
