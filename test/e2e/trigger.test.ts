import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hubSignature } from "../../core/triggers/signature.ts";
import { envWithoutAgentKeys, startTestStack, type TestStack } from "./local-stack-harness.ts";

/**
 * An AgentTeamTrigger on the local stack, over real HTTP: a signed POST to the public webhook
 * route creates a run from the template, WorkspaceInit writes the payload read-only at
 * payloadInjection.mountPath, and a (scripted) agent of the run reads it.
 */
const NS = "hooks-e2e";
const KEY = "e2e-hmac-key";

let t: TestStack;

beforeAll(async () => {
  // Locally a named secret is the environment variable SQUADRON_SECRET_<NAME> (docs/local.md);
  // its value is Secrets Manager's key/value form with kagents' key hmac-secret.
  t = await startTestStack({
    env: { ...envWithoutAgentKeys(), SQUADRON_SECRET_DEAL_HOOK: JSON.stringify({ "hmac-secret": KEY }) },
  });
  const template = {
    apiVersion: "kagents.dev/v1alpha1",
    kind: "AgentTeamTemplate",
    metadata: { name: "deal-team" },
    spec: {
      teammates: [
        {
          name: "helper",
          prompt: "Help.",
          cli: "scripted",
          script: [{ call: "finish", args: { summary: "ok" } }],
        },
      ],
      lifecycle: { timeout: "10m", onComplete: "none" },
    },
  };
  expect((await t.api("POST", `/api/namespaces/${NS}/templates`, template)).status).toBe(201);
  const trigger = {
    apiVersion: "kagents.dev/v1alpha1",
    kind: "AgentTeamTrigger",
    metadata: { name: "new-deal" },
    spec: {
      trigger: { webhook: { path: "/hooks/new-deal", secret: "deal-hook" } },
      templateRef: { name: "deal-team" },
      lead: {
        prompt: "Read the deal at /workspace/data/trigger-payload.json.",
        cli: "scripted",
        script: [
          // The lead works in the workspace: /workspace/data/... is data/... there.
          { run: ["cp", "data/trigger-payload.json", "output/seen.json"] },
          { call: "finish", args: { summary: "read the payload" } },
        ],
      },
      workspace: { output: { mountPath: "/workspace/output" } },
      payloadInjection: { mountPath: "/workspace/data/trigger-payload.json" },
      concurrencyPolicy: "Forbid",
    },
  };
  expect((await t.api("POST", `/api/namespaces/${NS}/triggers`, trigger)).status).toBe(201);
}, 120_000);

afterAll(async () => {
  await t?.cleanup();
});

describe("AgentTeamTrigger on the local stack", { timeout: 120_000 }, () => {
  const post = (body: string, headers: Record<string, string>) =>
    fetch(`${t.stack.endpoint}/hooks/${NS}/hooks/new-deal`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
    });

  it("refuses an unsigned request with 401 and creates nothing", async () => {
    const res = await post('{"deal":1}', {});
    expect(res.status).toBe(401);
    expect((await t.api("GET", `/api/namespaces/${NS}/teams`)).body.items).toEqual([]);
  });

  it("runs the template for a signed request; an agent reads the payload from its read-only file", async () => {
    const body = JSON.stringify({ action: "closed", deal: { id: 42, customer: "Acme; rm -rf / $(id)" } });
    const res = await post(body, { "X-Hub-Signature-256": hubSignature(body, KEY) });
    expect(res.status).toBe(202);
    const { run } = (await res.json()) as { run: string };
    const { view } = await t.follow(NS, run);
    expect(view.phase, view.message).toBe("Completed");
    const runDir = join(t.stack.paths.runs, view.runId);
    const payload = join(runDir, "workspace", "data", "trigger-payload.json");
    expect(readFileSync(payload, "utf8")).toBe(body);
    expect(statSync(payload).mode & 0o777).toBe(0o444);
    // What the agent read is the body, byte for byte, never interpreted.
    const seen = join(t.stack.paths.objects, "runs", NS, run, view.runId, "output", "seen.json");
    expect(readFileSync(seen, "utf8")).toBe(body);
    const trigger = await t.api("GET", `/api/namespaces/${NS}/triggers/new-deal`);
    expect(trigger.body.status.totalRuns).toBe(1);
    expect(trigger.body.events.map((e: { reason: string }) => e.reason)).toEqual(
      expect.arrayContaining(["Fired", "SignatureRejected"]),
    );
  });
});
