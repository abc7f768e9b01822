/**
 * onComplete "deliver" end to end on the control plane local mode assembles (the synthesised
 * definition, Cleanup bound to the real domain code, DynamoDB Local, simulated agents): kagents'
 * own delivery-team sample, its webhook and Slack targets pointed at receivers on 127.0.0.1.
 */
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { DELIVERY_ATTEMPTS } from "../../core/control/delivery.ts";
import { SIGNATURE_HEADER, signWebhookBody } from "../../core/control/webhook.ts";
import { type ControlPlane, startControlPlane, teamReader } from "./control-plane.ts";

const NS = "cowork-agents";
const SIGNING_KEY = "delivery-test-signing-key";
const SLACK_PATH = "/services/T000/B000/secret-part-of-the-url";

interface Received {
  path: string;
  headers: IncomingMessage["headers"];
  raw: string;
}

/** A receiver on 127.0.0.1 answering every POST with `status` (Slack's incoming webhook: 200 "ok"). */
async function receiver(
  status: number,
  body = "",
): Promise<{ server: Server; url: string; got: Received[] }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      got.push({ path: req.url ?? "", headers: req.headers, raw: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(status, { "content-type": "text/plain" }).end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, got };
}

/** A port nothing listens on: bound, then closed (connection refused). */
async function closedPortUrl(): Promise<string> {
  const { server, url } = await receiver(200);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `${url}/hooks/down`;
}

let plane: ControlPlane;
let hook: Awaited<ReturnType<typeof receiver>>;
let slack: Awaited<ReturnType<typeof receiver>>;
let broken: Awaited<ReturnType<typeof receiver>>;

beforeAll(async () => {
  hook = await receiver(204);
  slack = await receiver(200, "ok");
  broken = await receiver(500, "rollup_error");
  plane = await startControlPlane({
    secrets: {
      "hook-signing": SIGNING_KEY,
      "slack-creds": JSON.stringify({ "slack-webhook-url": `${slack.url}${SLACK_PATH}` }),
      "broken-slack": JSON.stringify({ "slack-webhook-url": `${broken.url}${SLACK_PATH}` }),
    },
  });
}, 120_000);

afterAll(async () => {
  await plane?.close();
  for (const r of [hook, slack, broken]) {
    if (r) await new Promise<void>((resolve) => r.server.close(() => resolve()));
  }
});

const { getTeam } = teamReader(() => plane, NS);

/**
 * kagents' delivery-team sample as published (its writer's declared `outputs` included), with its
 * targets pointed at the local receivers.
 */
function deliveryTeam(name: string, delivery: Record<string, unknown>[]): Record<string, unknown> {
  const sample = parse(
    readFileSync(join(import.meta.dirname, "../../../shared/kagents-examples/delivery-team.yaml"), "utf8"),
  ) as {
    metadata: { name: string };
    spec: { teammates: Record<string, unknown>[]; lifecycle: Record<string, unknown> };
  };
  sample.metadata.name = name;
  sample.spec.lifecycle.delivery = delivery;
  return sample;
}

async function run(name: string, delivery: Record<string, unknown>[]) {
  plane.launcher.script(name, { writer: { files: { "workspace/output/digest.md": "# Weekly digest\n" } } });
  const res = await plane.api("POST", `/api/namespaces/${NS}/teams`, { body: deliveryTeam(name, delivery) });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const report = await plane.ended(res.body.runId as string);
  expect(report.status).toBe("SUCCEEDED");
  return { runId: res.body.runId as string, team: await getTeam(name) };
}

describe("onComplete: deliver", () => {
  it("sends one signed envelope to the webhook and one message to Slack, and records both", async () => {
    const { runId, team } = await run("weekly-digest", [
      {
        type: "webhook",
        url: `${hook.url}/hooks/team-completed?token=not-shown`,
        message: "Weekly digest finished.",
        credentialsSecret: "hook-signing",
      },
      {
        type: "slack",
        channel: "#weekly-digest",
        message: "Fresh digest is in. Artifact list below.",
        credentialsSecret: "slack-creds",
      },
    ]);
    expect(team.phase).toBe("Completed");

    expect(hook.got).toHaveLength(1);
    const [post] = hook.got;
    expect(post?.path).toBe("/hooks/team-completed?token=not-shown");
    expect(post?.headers[SIGNATURE_HEADER.toLowerCase()]).toBe(signWebhookBody(SIGNING_KEY, post?.raw ?? ""));
    const location = join(plane.paths.objects, "runs", NS, "weekly-digest", runId, "output", "digest.md");
    expect(JSON.parse(post?.raw ?? "")).toEqual({
      event: "team.completed",
      team: "weekly-digest",
      namespace: NS,
      phase: "Completed",
      runId,
      message: "Weekly digest finished.",
      artifacts: [{ name: "digest.md", size: "# Weekly digest\n".length, location }],
      timestamp: expect.any(String),
    });

    expect(slack.got).toHaveLength(1);
    expect(slack.got[0]?.path).toBe(SLACK_PATH);
    const message = JSON.parse(slack.got[0]?.raw ?? "");
    expect(message.channel).toBe("#weekly-digest");
    expect(message.text).toContain("Fresh digest is in. Artifact list below.");
    expect(message.text).toContain(`• digest.md (16 B, ${location})`);

    expect(team.delivery).toEqual([
      {
        type: "webhook",
        target: `${hook.url}/hooks/team-completed`,
        phase: "Delivered",
        httpStatus: 204,
        attempts: 1,
        signed: true,
        deliveredAt: expect.any(String),
      },
      {
        type: "slack",
        target: "slack #weekly-digest",
        phase: "Delivered",
        httpStatus: 200,
        attempts: 1,
        deliveredAt: expect.any(String),
      },
    ]);
    expect(team.events.filter((e) => e.reason === "DeliverySucceeded")).toHaveLength(2);
    expect(JSON.stringify(team)).not.toContain("secret-part-of-the-url");
    // The query string may carry a token: status and events show scheme, host and path only.
    expect(JSON.stringify([team.delivery, team.events])).not.toContain("not-shown");
  });

  it("a target that is down or answers 500 is Failed with a Warning event; the team stays Completed", async () => {
    const down = await closedPortUrl();
    const before = hook.got.length;
    const { team } = await run("digest-partly-down", [
      { type: "webhook", url: down, credentialsSecret: "hook-signing" },
      { type: "slack", channel: "#ops", credentialsSecret: "broken-slack" },
      { type: "webhook", url: `${hook.url}/hooks/ok` },
    ]);
    expect(team.phase).toBe("Completed");
    expect(team.reason).toBe("Completed");

    // Bounded retries: the 500 was tried DELIVERY_ATTEMPTS times, never more.
    expect(broken.got).toHaveLength(DELIVERY_ATTEMPTS);
    // The target that works still got its one (unsigned: the team names no key) message.
    expect(hook.got.slice(before).map((r) => [r.path, r.headers[SIGNATURE_HEADER.toLowerCase()]])).toEqual([
      ["/hooks/ok", undefined],
    ]);

    expect(team.delivery).toEqual([
      expect.objectContaining({
        type: "webhook",
        target: down,
        phase: "Failed",
        attempts: DELIVERY_ATTEMPTS,
        error: expect.stringMatching(/ECONNREFUSED/),
      }),
      expect.objectContaining({ type: "slack", target: "slack #ops", phase: "Failed", httpStatus: 500 }),
      expect.objectContaining({ type: "webhook", phase: "Delivered", httpStatus: 204, signed: false }),
    ]);
    const warnings = team.events.filter((e) => e.reason === "DeliveryFailed");
    expect(warnings.map((e) => e.type)).toEqual(["Warning", "Warning"]);
    expect(warnings.map((e) => e.message).join("\n")).toMatch(/slack #ops: HTTP 500 after 3 attempt/);
    expect(JSON.stringify(team)).not.toContain("secret-part-of-the-url");
  });

  it("a Slack secret without the slack-webhook-url key fails that target, naming the key, not the value", async () => {
    const { team } = await run("digest-bad-secret", [
      { type: "slack", channel: "#ops", credentialsSecret: "hook-signing" },
    ]);
    expect(team.phase).toBe("Completed");
    expect(team.delivery).toEqual([
      expect.objectContaining({
        type: "slack",
        phase: "Failed",
        attempts: 0,
        error: 'the secret "hook-signing" is not a JSON object with the key "slack-webhook-url"',
      }),
    ]);
    expect(JSON.stringify(team)).not.toContain(SIGNING_KEY);
  });
});
