import { createHmac } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ChannelGateNotifier } from "../../core/control/notifications.ts";
import {
  sendWebhook,
  signWebhookBody,
  WebhookDeliveryError,
  type WebhookPayload,
} from "../../core/control/webhook.ts";
import { parseTeam } from "../../core/manifest/parse.ts";
import { type ReceivedWebhook, startWebhookReceiver } from "../support/webhook-receiver.ts";

describe("signed webhook delivery against a local HTTP server", () => {
  let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let url: string;
  let failuresLeft = 0;
  let failStatus = 503;
  let received: ReceivedWebhook[] = [];

  beforeAll(async () => {
    receiver = await startWebhookReceiver(() => {
      if (failuresLeft <= 0) return { status: 204 };
      failuresLeft--;
      return { status: failStatus, body: "nope" };
    });
    ({ url, received } = receiver);
  });
  afterAll(() => receiver.close());
  beforeEach(() => {
    received.length = 0;
    failuresLeft = 0;
    failStatus = 503;
  });

  const payload: WebhookPayload = {
    event: "approval-required",
    team: "q3-report",
    namespace: "default",
    phase: "Running",
    gate: "spawn-email-drafter",
    timestamp: "2025-01-01T00:00:00.000Z",
  };
  const noSleep = async () => {};

  it("sends kagents' fields and a sha256 HMAC of the exact body", async () => {
    const delivery = await sendWebhook({ url, payload, secret: "s3cret", sleep: noSleep });
    expect(delivery).toEqual({ attempts: 1, status: 204 });
    const [got] = received;
    const body = JSON.parse(got?.body ?? "{}");
    expect(body).toMatchObject({
      event: "approval-required",
      team: "q3-report",
      namespace: "default",
      phase: "Running",
    });
    const expected = `sha256=${createHmac("sha256", "s3cret")
      .update(got?.body ?? "")
      .digest("hex")}`;
    expect(got?.signature).toBe(expected);
    expect(signWebhookBody("s3cret", got?.body ?? "")).toBe(expected);
  });

  it("sends no signature header without a secret", async () => {
    await sendWebhook({ url, payload, sleep: noSleep });
    expect(received[0]?.signature).toBeUndefined();
  });

  it("retries server errors with growing backoff, then succeeds", async () => {
    failuresLeft = 2;
    const delays: number[] = [];
    const delivery = await sendWebhook({
      url,
      payload,
      secret: "s",
      baseDelayMs: 100,
      sleep: async (ms) => {
        delays.push(ms);
      },
    });
    expect(delivery.attempts).toBe(3);
    expect(received).toHaveLength(3);
    expect(delays).toHaveLength(2);
    expect(delays[0]).toBeLessThanOrEqual(100);
    expect(delays[1]).toBeLessThanOrEqual(200);
    // Every retry carries the same body and signature.
    expect(new Set(received.map((r) => r.signature)).size).toBe(1);
  });

  it("gives up after the configured attempts with a clear error", async () => {
    failuresLeft = 10;
    const error = await sendWebhook({ url, payload, attempts: 3, sleep: noSleep }).catch((e) => e);
    expect(error).toBeInstanceOf(WebhookDeliveryError);
    expect(error.message).toMatch(/failed after 3 attempt\(s\): HTTP 503/);
    expect(received).toHaveLength(3);
  });

  it("does not retry a 4xx rejection", async () => {
    failuresLeft = 10;
    failStatus = 400;
    const error = await sendWebhook({ url, payload, attempts: 4, sleep: noSleep }).catch((e) => e);
    expect(error).toBeInstanceOf(WebhookDeliveryError);
    expect(error.attempts).toBe(1);
    expect(received).toHaveLength(1);
  });

  it("retries connection failures", async () => {
    const error = await sendWebhook({
      url: "http://127.0.0.1:1/unreachable",
      payload,
      attempts: 2,
      sleep: noSleep,
    }).catch((e) => e);
    expect(error).toBeInstanceOf(WebhookDeliveryError);
    expect(error.attempts).toBe(2);
  });

  describe("observability.webhook.events (kagents' filter) chooses the run-level events sent", () => {
    const teamWith = (events?: string[]) =>
      parseTeam(
        JSON.stringify({
          apiVersion: "kagents.dev/v1alpha1",
          kind: "AgentTeam",
          metadata: { name: "digest", namespace: "cowork" },
          spec: {
            workspace: { output: {} },
            lead: { prompt: "Lead." },
            observability: { webhook: { url, ...(events ? { events } : {}) } },
          },
        }),
      );
    const notifier = new ChannelGateNotifier({ webhookAttempts: 1 });
    const sendAll = async (team: ReturnType<typeof teamWith>) => {
      for (const event of ["budget-warning", "failed", "completed"]) {
        await notifier.teamEvent(team, { event, phase: "Running" });
      }
      return received.map((r) => JSON.parse(r.body).event);
    };

    it("kagents' names: only the subscribed events are POSTed", async () => {
      expect(await sendAll(teamWith(["team.completed", "budget.warning"]))).toEqual([
        "budget-warning",
        "completed",
      ]);
    });

    it("Squadron's names work too", async () => {
      expect(await sendAll(teamWith(["failed"]))).toEqual(["failed"]);
    });

    it("without events, every event is sent", async () => {
      expect(await sendAll(teamWith())).toEqual(["budget-warning", "failed", "completed"]);
    });
  });
});
