/**
 * kagents v0.8 artifact routing (`teammates[].outputs[]` / `inputs[]`) on the local stack, the
 * way a user meets it: manifests POSTed to the API, real runner processes, scripted agents. A
 * producer/consumer pair in kagents' own shape (its output-routing sample) where the consumer
 * copies what it found staged into its deliverables; a producer that ends without its declared
 * output fails and its consumer never starts; a producer whose "output" is a symbolic link to
 * another run's file fails the same way and the file's bytes reach nobody.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import type { ProcessEvent } from "../../local/stack.ts";
import { startTestStack, type TestStack } from "./local-stack-harness.ts";

const NS = "cowork-agents";
const FINDINGS = "# Findings\nThe market grew 12%.\n";
const SECRET = "another run's confidential numbers\n";

let t: TestStack;
let secretFile: string;
const processes: ProcessEvent[] = [];

function scripted(name: string, script: unknown[], extra: Record<string, unknown> = {}) {
  return { name, cli: "scripted", model: "sonnet", prompt: `You are ${name}.`, script, ...extra };
}

/** kagents' output-routing sample (config/samples/output-routing-team.yaml) with scripted agents. */
function team(name: string, producerScript: unknown[]) {
  return {
    apiVersion: "kagents.dev/v1alpha1",
    kind: "AgentTeam",
    metadata: { name, namespace: NS },
    spec: {
      workspace: { output: { mountPath: "/workspace/output", size: "1Gi" } },
      lead: scripted("lead", [{ call: "finish", args: { summary: "coordinated" } }]),
      teammates: [
        scripted("researcher", producerScript, {
          outputs: [{ path: "/workspace/output/findings.md", description: "Research findings." }],
        }),
        scripted(
          "writer",
          [
            // What the consumer saw, as it saw it: the staged bytes and their modes.
            { run: ["cp", "stage/research/findings.md", "output/seen.md"] },
            { exec: "stat -c '%a' stage/research/findings.md stage/research > output/modes.txt" },
            { call: "finish", args: { summary: "summarised" } },
          ],
          {
            inputs: [{ from: "researcher", artifact: "findings.md", mountPath: "/workspace/stage/research" }],
          },
        ),
      ],
      lifecycle: { timeout: "10m", maxRestarts: 0, onComplete: "notify" },
    },
  };
}

async function post(manifest: unknown) {
  const res = await t.api("POST", `/api/namespaces/${NS}/teams`, stringify(manifest), {
    contentType: "application/yaml",
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

const agentOf = (view: any, name: string) => view.teammates.find((a: any) => a.name === name);
const startedAgents = (runId: string) =>
  processes
    .filter((p) => p.runId === runId && p.mode === "agent" && p.phase === "started")
    .map((p) => p.agent);

beforeAll(async () => {
  t = await startTestStack({ maxConcurrentRuns: 4 });
  t.stack.events.on("process", (e: ProcessEvent) => processes.push(e));
  // A file of "another run" on the same local shared file system.
  const other = join(t.stack.paths.runs, "other-run-00000000", "workspace", "output");
  mkdirSync(other, { recursive: true });
  secretFile = join(other, "secret.md");
  writeFileSync(secretFile, SECRET);

  await post(
    team("market-brief", [
      { write: { path: "output/findings.md", content: FINDINGS } },
      { call: "finish", args: { summary: "findings written" } },
    ]),
  );
  await post(team("forgot-output", [{ call: "finish", args: { summary: "wrote nothing" } }]));
  await post(
    team("link-escape", [
      { run: ["ln", "-s", secretFile, "output/findings.md"] },
      { call: "finish", args: { summary: "linked" } },
    ]),
  );
}, 60_000);

afterAll(async () => {
  await t?.cleanup();
});

describe("artifact routing between teammates", { timeout: 120_000 }, () => {
  it("stages the producer's artifact read-only before the consumer starts, and records it", async () => {
    const { view } = await t.follow(NS, "market-brief");
    expect(view.phase, view.message).toBe("Completed");
    expect(agentOf(view, "writer").dependsOn).toEqual(["researcher"]);
    const out = join(t.stack.paths.objects, "runs", NS, "market-brief", view.runId, "output");
    // The consumer read the producer's bytes at {mountPath}/{artifact}.
    expect(readFileSync(join(out, "seen.md"), "utf8")).toBe(FINDINGS);
    // Read-only while the consumer ran: the file 0444, its directory 0555.
    expect(readFileSync(join(out, "modes.txt"), "utf8").split("\n").filter(Boolean)).toEqual(["444", "555"]);
    expect(view.artifacts).toEqual([
      {
        name: "findings.md",
        path: "/workspace/output/findings.md",
        producedBy: "researcher",
        producedAt: expect.any(String),
        size: Buffer.byteLength(FINDINGS),
        description: "Research findings.",
        deliveredTo: [
          {
            consumer: "writer",
            mountPath: "/workspace/stage/research",
            size: Buffer.byteLength(FINDINGS),
            deliveredAt: expect.any(String),
          },
        ],
      },
    ]);
    // The consumer started after the producer's runner had exited.
    const run = processes.filter((p) => p.runId === view.runId && p.mode === "agent");
    const producerExit = run.findIndex((p) => p.agent === "researcher" && p.phase === "exited");
    const consumerStart = run.findIndex((p) => p.agent === "writer" && p.phase === "started");
    expect(producerExit).toBeGreaterThanOrEqual(0);
    expect(consumerStart).toBeGreaterThan(producerExit);
  });

  it("fails a producer that ends without its declared output; its consumer never starts", async () => {
    const { view } = await t.follow(NS, "forgot-output");
    const researcher = agentOf(view, "researcher");
    expect(researcher).toMatchObject({ phase: "Failed", reason: "OutputMissing" });
    expect(researcher.message).toBe(
      "researcher ended without its declared outputs: /workspace/output/findings.md does not exist.",
    );
    expect(view.events).toContainEqual(
      expect.objectContaining({ type: "Warning", reason: "OutputMissing", agent: "researcher" }),
    );
    expect(agentOf(view, "writer")).toMatchObject({
      phase: "Failed",
      reason: "DependencyFailed",
      startedAt: null,
    });
    expect(startedAgents(view.runId)).not.toContain("writer");
    expect(view.artifacts).toEqual([]);
  });

  it("refuses a producer's output that is a symbolic link to another run's file", async () => {
    const { view } = await t.follow(NS, "link-escape");
    const researcher = agentOf(view, "researcher");
    expect(researcher).toMatchObject({ phase: "Failed", reason: "OutputMissing" });
    expect(researcher.message).toMatch(/\/workspace\/output\/findings\.md is a symbolic link/);
    expect(startedAgents(view.runId)).not.toContain("writer");
    expect(view.artifacts).toEqual([]);
    const runWorkspace = join(t.stack.paths.runs, view.runId, "workspace");
    expect(existsSync(join(runWorkspace, "stage", "research", "findings.md"))).toBe(false);
    // Nothing the run delivered holds the other run's bytes.
    const out = join(t.stack.paths.objects, "runs", NS, "link-escape", view.runId, "output");
    if (existsSync(join(out, "findings.md")))
      expect(readFileSync(join(out, "findings.md"), "utf8")).not.toBe(SECRET);
  });
});
