/**
 * Dependency release through the whole local stack (`npm start`): dynalite, the API over HTTP,
 * the state machine in aws-local-stepfunctions, and real runner processes with scripted agents.
 * Measured from the dependency's recorded finish (`finishedAt`, taken when RecordAgentResult
 * begins, before its writes) to the spawn of the dependant's runner process (RunAgent starting).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { type ProcessEvent, startLocalStack } from "../local/stack.ts";
import { apiFor } from "../test/e2e/local-stack-harness.ts";
import { scripted } from "../test/support/scripted-team.ts";
import { type BenchFigure, percentile } from "./figure.ts";

const RUNNER_ENV = {
  SQUADRON_POLL_INTERVAL_MS: "100",
  SQUADRON_HEARTBEAT_MS: "1000",
  SQUADRON_USAGE_REPORT_MS: "200",
  SQUADRON_IDLE_GRACE_MS: "2000",
  SQUADRON_LEAD_FINISH_GRACE_MS: "1000",
  SQUADRON_STOP_GRACE_MS: "1000",
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
};
const TERMINAL = new Set(["Completed", "Failed", "TimedOut", "BudgetExceeded", "Cancelled"]);

/** Cowork mode with an inline input: no repository to clone, so the run is all control plane and agents. */
function team(name: string): string {
  return stringify({
    apiVersion: "squadron.dev/v1alpha1",
    kind: "AgentTeam",
    metadata: { name },
    spec: {
      workspace: {
        inputs: [{ mountPath: "/workspace/brief", files: { "brief.md": "Build and test.\n" } }],
        output: { mountPath: "/workspace/output" },
      },
      lead: scripted("lead", [{ call: "finish", args: { summary: "done" } }]),
      teammates: [
        scripted("backend-api", [{ exec: "sleep 1" }, { call: "finish", args: { summary: "built" } }]),
        scripted("test-coverage", [{ call: "finish", args: { summary: "tested" } }], {
          dependsOn: ["backend-api"],
        }),
      ],
      lifecycle: { timeout: "5m", onComplete: "none" },
    },
  });
}

export async function localStackDependencyFigures(teams = 3): Promise<BenchFigure[]> {
  const root = mkdtempSync(join(tmpdir(), "squadron-bench-deps-"));
  const stack = await startLocalStack({
    dataDir: join(root, "data"),
    port: 0,
    cacheDir: join(process.cwd(), ".cache", "local-definition"),
    runnerEnv: RUNNER_ENV,
    stopGraceMs: 1000,
    env: { ...process.env, ANTHROPIC_API_KEY: undefined },
  });
  // Wall-clock stamps taken as the spawn is reported, comparable with the stored finishedAt.
  const spawned = new Map<string, number>();
  stack.events.on("process", (e: ProcessEvent) => {
    if (e.phase === "started" && e.agent) spawned.set(`${e.runId}/${e.agent}`, Date.now());
  });
  const api = apiFor(stack.endpoint, stack.token);
  const call = (method: string, path: string, body?: string) =>
    api(method, path, body, { contentType: "application/yaml" });
  const latencies: number[] = [];
  try {
    const names = Array.from({ length: teams }, (_, i) => `deps-${i}`);
    for (const name of names) {
      const created = await call("POST", "/api/namespaces/default/teams", team(name));
      if (created.status !== 201)
        throw new Error(`apply ${name}: ${created.status} ${JSON.stringify(created.body)}`);
    }
    const deadline = Date.now() + 90_000;
    for (const name of names) {
      for (;;) {
        const { body } = await call("GET", `/api/namespaces/default/teams/${name}`);
        if (TERMINAL.has(body.phase)) {
          if (body.phase !== "Completed") throw new Error(`${name} ended ${body.phase}: ${body.message}`);
          const finished = body.teammates.find((a: { name: string }) => a.name === "backend-api")?.finishedAt;
          const start = spawned.get(`${body.runId}/test-coverage`);
          if (!finished || start === undefined) throw new Error(`${name}: no finish or spawn time`);
          latencies.push(start - Date.parse(finished));
          break;
        }
        if (Date.now() > deadline) throw new Error(`${name} did not finish within 90 s`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  } finally {
    await stack.stop();
    rmSync(root, { recursive: true, force: true });
  }
  const note = `${latencies.length} teams at once (2 shared cores, runner start-ups contend) through the local stack (dynalite, runner processes, scripted agents); from backend-api's finishedAt to test-coverage's runner spawn`;
  return [
    {
      name: "deps.local-stack.release-to-runagent.p50",
      value: Math.round(percentile(latencies, 50)),
      unit: "ms",
      target: 1000,
      better: "lower",
      note,
    },
    {
      name: "deps.local-stack.release-to-runagent.max",
      value: Math.round(Math.max(...latencies)),
      unit: "ms",
      target: 1000,
      better: "lower",
      note: `${note}; samples ${latencies.map((l) => Math.round(l)).join(", ")} ms`,
    },
  ];
}
