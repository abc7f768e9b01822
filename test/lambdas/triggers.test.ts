import { beforeAll, describe, expect, it } from "vitest";
import { MAX_TRIGGER_PAYLOAD_BYTES } from "../../core/triggers/fire.ts";
import { hubSignature } from "../../core/triggers/signature.ts";
import { call, event, type Harness, harness, newTable } from "./harness.ts";

/**
 * AgentTeamTrigger (kagents v0.8) through the API handler against DynamoDB Local: triggers are
 * applied like templates, and `POST /hooks/<namespace><path>` creates a run from the template
 * only for a request signed with the trigger secret's `hmac-secret`.
 */
const NS = "cowork-agents";
const API = `/api/namespaces/${NS}`;
const KEY = "s3cr3t-shared-with-the-sender";

const TEMPLATE = `apiVersion: kagents.dev/v1alpha1
kind: AgentTeamTemplate
metadata: {name: deal-onboarding-team}
spec:
  teammates:
    - {name: researcher, prompt: "Research the customer."}
  lifecycle: {timeout: 1h}
`;

/** kagents' published sample (config/samples/webhook-trigger.yaml) with another name, path and policy. */
function triggerYaml(name: string, path: string, policy: string, secret = "webhook-hmac-secret"): string {
  return `apiVersion: kagents.dev/v1alpha1
kind: AgentTeamTrigger
metadata:
  name: ${name}
  namespace: ${NS}
spec:
  trigger:
    webhook:
      path: ${path}
      secret: ${secret}
  templateRef:
    name: deal-onboarding-team
  auth:
    apiKeySecret: anthropic-api-key
  lead:
    model: opus
    prompt: |
      A new deal has closed. The deal payload is mounted at
      /workspace/data/trigger-payload.json.
  workspace:
    output:
      mountPath: /workspace/output
      size: 1Gi
  payloadInjection:
    mountPath: /workspace/data/trigger-payload.json
  concurrencyPolicy: ${policy}
`;
}

describe("AgentTeamTrigger webhook route", () => {
  let h: Harness;
  const fire = (path: string, body: string, headers: Record<string, string> = {}) =>
    h.api(event("POST", `/hooks/${NS}${path}`, { body, token: null, headers }));
  const signed = (path: string, body: string, key = KEY, extra: Record<string, string> = {}) =>
    fire(path, body, { "X-Hub-Signature-256": hubSignature(body, key), ...extra });
  const runs = async () =>
    (await call(h, "GET", `${API}/teams`)).body.items as Array<{ name: string; phase: string }>;
  const triggerEvents = async (name: string) =>
    (await call(h, "GET", `${API}/triggers/${name}/events`)).body.items as Array<{
      type: string;
      reason: string;
      message: string;
    }>;

  beforeAll(async () => {
    h = harness(await newTable());
    h.secrets.set(`squadron/${NS}/triggers/webhook-hmac-secret`, KEY);
    // Secrets Manager's key/value form of kagents' Secret key hmac-secret.
    h.secrets.set(`squadron/${NS}/triggers/json-hmac-secret`, JSON.stringify({ "hmac-secret": KEY }));
    expect((await call(h, "POST", `${API}/templates`, { body: TEMPLATE })).status).toBe(201);
  });

  it("is applied like a template: created, replaced, listed and described with its webhook URL", async () => {
    const created = await call(h, "POST", `${API}/triggers`, {
      body: triggerYaml("allow", "/hooks/allow", "Allow"),
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: "allow",
      path: "/hooks/allow",
      url: `/hooks/${NS}/hooks/allow`,
      concurrencyPolicy: "Allow",
      status: { activeRun: null, totalRuns: 0 },
      trigger: { apiVersion: "kagents.dev/v1alpha1", kind: "AgentTeamTrigger" },
    });
    const again = await call(h, "POST", `${API}/triggers`, {
      body: triggerYaml("allow", "/hooks/allow", "Allow"),
    });
    expect(again.status).toBe(200);
    // A PUT names the trigger in its path: a manifest of another name is refused, field named.
    const renamed = await call(h, "PUT", `${API}/triggers/other-name`, {
      body: triggerYaml("allow", "/hooks/allow", "Allow"),
    });
    expect(renamed.status).toBe(400);
    expect(renamed.body).toMatchObject({
      error: "manifest name allow differs from the path's other-name",
      issues: [{ path: "metadata.name", message: "must be other-name" }],
    });
    const list = await call(h, "GET", `${API}/triggers`);
    expect(list.body.items.map((t: { name: string }) => t.name)).toContain("allow");
  });

  it("refuses a second trigger on a path another trigger of the namespace owns (409, path named)", async () => {
    const res = await call(h, "POST", `${API}/triggers`, {
      body: triggerYaml("thief", "/hooks/allow", "Allow"),
    });
    expect(res.status).toBe(409);
    expect(res.body.issues[0].path).toBe("spec.trigger.webhook.path");
    expect((await call(h, "GET", `${API}/triggers/thief`)).status).toBe(404);
  });

  it("creates a run from the template for a correctly signed request, with the payload for the agents", async () => {
    const body = JSON.stringify({ deal: { id: 42, customer: "Acme", note: "ünïcödé" } });
    const before = h.sfn.of("StartExecution").length;
    const res = await signed("/hooks/allow", body, KEY, {
      "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    });
    expect(res.statusCode).toBe(202);
    const answer = JSON.parse(res.body);
    expect(answer).toMatchObject({
      trigger: "allow",
      namespace: NS,
      concurrencyPolicy: "Allow",
      phase: "Pending",
    });
    expect(h.sfn.of("StartExecution").length).toBe(before + 1);
    const team = await call(h, "GET", `${API}/teams/${answer.run}`);
    expect(team.status).toBe(200);
    expect(team.body.teammates.map((t: { name: string }) => t.name)).toEqual(["researcher"]);
    const stored = await h.deps.store.getRun({ namespace: NS, name: answer.run });
    expect(stored.team.metadata.labels["squadron.dev/trigger"]).toBe("allow");
    expect(stored.team.spec.triggerPayload).toMatchObject({
      trigger: "allow",
      mountPath: "/workspace/data/trigger-payload.json",
      content: body,
    });
    // What the runner reads: the run manifest Prepare writes carries the payload as received.
    expect((await triggerEvents("allow")).map((e) => e.reason)).toContain("Fired");
    const view = await call(h, "GET", `${API}/triggers/allow`);
    expect(view.body.status).toMatchObject({ activeRun: answer.run, totalRuns: 1 });
  });

  it("answers 401 and creates nothing for forged, missing, malformed and replayed-with-changed-body signatures", async () => {
    const original = JSON.stringify({ deal: { id: 7 } });
    const changed = JSON.stringify({ deal: { id: 7, amount: 1e9 } });
    const cases: Array<[string, Record<string, string>, string]> = [
      ["forged (another key)", { "X-Hub-Signature-256": hubSignature(original, "guessed") }, original],
      ["missing", {}, original],
      ["malformed", { "X-Hub-Signature-256": "sha1=abc" }, original],
      ["truncated hex", { "X-Hub-Signature-256": hubSignature(original, KEY).slice(0, 40) }, original],
      [
        "a valid signature replayed on a changed body",
        { "X-Hub-Signature-256": hubSignature(original, KEY) },
        changed,
      ],
      // A bearer token is no substitute for the sender's signature.
      ["admin bearer token only", { Authorization: "Bearer admin" }, original],
    ];
    const runsBefore = (await runs()).length;
    const startsBefore = h.sfn.of("StartExecution").length;
    for (const [what, headers, body] of cases) {
      const res = await fire("/hooks/allow", body, headers);
      expect(res.statusCode, what).toBe(401);
      expect(JSON.parse(res.body).error).toBe("invalid or missing X-Hub-Signature-256");
    }
    expect((await runs()).length).toBe(runsBefore);
    expect(h.sfn.of("StartExecution").length).toBe(startsBefore);
    const rejected = (await triggerEvents("allow")).filter((e) => e.reason === "SignatureRejected");
    expect(rejected.length).toBe(cases.length);
    expect(rejected.every((e) => e.type === "Warning")).toBe(true);
  });

  it("verifies the bytes API Gateway delivers base64-encoded (binary media types)", async () => {
    const body = JSON.stringify({ deal: { id: 8 } });
    const e = event("POST", `/hooks/${NS}/hooks/allow`, {
      body: Buffer.from(body).toString("base64"),
      token: null,
      headers: { "X-Hub-Signature-256": hubSignature(body, KEY) },
    });
    const res = await h.api({ ...e, isBase64Encoded: true });
    expect(res.statusCode).toBe(202);
  });

  it("does not run a delivery twice: the same signed body (or delivery id) again is a 200 duplicate", async () => {
    const body = JSON.stringify({ deal: { id: 9 } });
    const first = await signed("/hooks/allow", body);
    expect(first.statusCode).toBe(202);
    const count = (await runs()).length;
    const replay = await signed("/hooks/allow", body);
    expect(replay.statusCode).toBe(200);
    expect(JSON.parse(replay.body)).toEqual({
      trigger: "allow",
      duplicate: true,
      run: JSON.parse(first.body).run,
    });
    expect((await runs()).length).toBe(count);
    expect((await triggerEvents("allow")).map((e) => e.reason)).toContain("DuplicateDelivery");
  });

  it("answers 413 above the payload bound and 400 for a signed body that is not JSON, creating nothing", async () => {
    const count = (await runs()).length;
    const big = JSON.stringify({ blob: "x".repeat(MAX_TRIGGER_PAYLOAD_BYTES) });
    expect((await signed("/hooks/allow", big)).statusCode).toBe(413);
    expect((await signed("/hooks/allow", "not json at all")).statusCode).toBe(400);
    expect((await runs()).length).toBe(count);
    const reasons = (await triggerEvents("allow")).map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(["PayloadTooLarge", "PayloadRejected"]));
  });

  it("answers 404 for a path no trigger has", async () => {
    expect((await signed("/hooks/nothing-here", "{}")).statusCode).toBe(404);
  });

  it("Forbid: 409 while the trigger's run is active, a new run once it has ended", async () => {
    expect(
      (
        await call(h, "POST", `${API}/triggers`, {
          body: triggerYaml("forbid", "/ci/forbid", "Forbid", "json-hmac-secret"),
        })
      ).status,
    ).toBe(201);
    const first = await signed("/ci/forbid", JSON.stringify({ n: 1 }));
    expect(first.statusCode).toBe(202);
    const active = JSON.parse(first.body).run as string;
    const count = (await runs()).length;
    const refused = await signed("/ci/forbid", JSON.stringify({ n: 2 }));
    expect(refused.statusCode).toBe(409);
    expect(JSON.parse(refused.body).error).toContain(active);
    expect((await runs()).length).toBe(count);
    expect((await triggerEvents("forbid")).map((e) => e.reason)).toContain("ConcurrencyForbidden");
    // The refused delivery was not remembered: sent again after the run ended, it runs.
    expect((await call(h, "DELETE", `${API}/teams/${active}`)).status).toBe(202);
    const later = await signed("/ci/forbid", JSON.stringify({ n: 2 }));
    expect(later.statusCode).toBe(202);
  });

  it("Replace: stops the active run through the cancel path, then starts the new one", async () => {
    expect(
      (await call(h, "POST", `${API}/triggers`, { body: triggerYaml("replace", "/ci/replace", "Replace") }))
        .status,
    ).toBe(201);
    const first = JSON.parse((await signed("/ci/replace", JSON.stringify({ n: 1 }))).body).run as string;
    const firstRecord = await h.deps.store.getRun({ namespace: NS, name: first });
    const stopsBefore = h.sfn.of("StopExecution").length;
    const second = await signed("/ci/replace", JSON.stringify({ n: 2 }));
    expect(second.statusCode).toBe(202);
    const secondName = JSON.parse(second.body).run as string;
    expect(secondName).not.toBe(first);
    const stops = h.sfn.of("StopExecution").slice(stopsBefore);
    expect(stops.map((s) => s.executionArn)).toEqual([firstRecord.status.executionArn]);
    expect((await call(h, "GET", `${API}/teams/${first}`)).body.phase).toBe("Cancelled");
    expect((await call(h, "GET", `${API}/teams/${secondName}`)).body.phase).toBe("Pending");
    expect((await triggerEvents("replace")).map((e) => e.reason)).toContain("Replaced");
  });

  it("Allow: a second fire while a run is active creates another run", async () => {
    const a = JSON.parse((await signed("/hooks/allow", JSON.stringify({ n: "a" }))).body).run;
    const b = JSON.parse((await signed("/hooks/allow", JSON.stringify({ n: "b" }))).body).run;
    expect(a).not.toBe(b);
    for (const name of [a, b])
      expect((await call(h, "GET", `${API}/teams/${name}`)).body.phase).toBe("Pending");
  });

  it("answers 503 with a Warning event when the secret cannot be read, and creates nothing", async () => {
    expect(
      (
        await call(h, "POST", `${API}/triggers`, {
          body: triggerYaml("nokey", "/ci/nokey", "Allow", "missing-secret"),
        })
      ).status,
    ).toBe(201);
    const count = (await runs()).length;
    expect((await signed("/ci/nokey", "{}")).statusCode).toBe(503);
    expect((await runs()).length).toBe(count);
    const events = await triggerEvents("nokey");
    expect(events[0]).toMatchObject({ type: "Warning", reason: "SecretUnavailable" });
  });

  it("deletes a trigger and frees its path", async () => {
    expect((await call(h, "DELETE", `${API}/triggers/nokey`)).status).toBe(204);
    expect((await signed("/ci/nokey", "{}")).statusCode).toBe(404);
    expect(
      (await call(h, "POST", `${API}/triggers`, { body: triggerYaml("reuse", "/ci/nokey", "Allow") })).status,
    ).toBe(201);
  });

  it("rejects an invalid trigger with every problem and its field path, storing nothing", async () => {
    const bad = triggerYaml("broken", "no-slash", "Sometimes")
      .replace("      secret: webhook-hmac-secret\n", "")
      .replace(
        "/workspace/data/trigger-payload.json\n  concurrencyPolicy",
        "/etc/passwd\n  concurrencyPolicy",
      );
    const res = await call(h, "POST", `${API}/triggers`, { body: bad });
    expect(res.status).toBe(400);
    const paths = res.body.issues.map((i: { path: string }) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        "spec.trigger.webhook.path",
        "spec.trigger.webhook.secret",
        "spec.payloadInjection.mountPath",
        "spec.concurrencyPolicy",
      ]),
    );
    expect((await call(h, "GET", `${API}/triggers/broken`)).status).toBe(404);
  });
});
