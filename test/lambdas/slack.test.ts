import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { approvalRequestBlocks, SlackApiError, SlackClient } from "../../core/control/slack-client.ts";
import {
  APPROVE_ACTION_ID,
  DENY_ACTION_ID,
  encodeGateRef,
  parseSlackInteraction,
  SlackPayloadError,
} from "../../core/control/slack-interaction.ts";
import { slackSignature, verifySlackSignature } from "../../core/control/slack-signature.ts";
import { blockActionsBody } from "./support.ts";

const secret = "8f742231b10e8888abcd99yyyzzz85a5";
const now = 1_700_000_000;

function signed(body: string, ts = now, key = secret) {
  return {
    "X-Slack-Request-Timestamp": String(ts),
    "X-Slack-Signature": slackSignature(key, String(ts), body),
  };
}

describe("Slack request signature", () => {
  const body = "payload=%7B%22type%22%3A%22block_actions%22%7D";

  it("accepts a correctly signed request", () => {
    expect(
      verifySlackSignature({ signingSecret: secret, headers: signed(body), rawBody: body, nowSeconds: now }),
    ).toEqual({
      ok: true,
    });
  });

  it("matches Slack's documented example signature", () => {
    // From https://api.slack.com/authentication/verifying-requests-from-slack
    const example =
      "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    expect(slackSignature("8f742231b10e8888abcd99yyyzzz85a5", "1531420618", example)).toBe(
      "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
    );
  });

  it("rejects a tampered body", () => {
    const r = verifySlackSignature({
      signingSecret: secret,
      headers: signed(body),
      rawBody: `${body}x`,
      nowSeconds: now,
    });
    expect(r).toMatchObject({ ok: false, reason: "bad-signature" });
  });

  it("rejects a signature made with another secret", () => {
    const r = verifySlackSignature({
      signingSecret: secret,
      headers: signed(body, now, "another-secret"),
      rawBody: body,
      nowSeconds: now,
    });
    expect(r).toMatchObject({ ok: false, reason: "bad-signature" });
  });

  it("rejects a stale timestamp even with a valid signature (replay)", () => {
    const old = now - 5 * 60 - 1;
    const r = verifySlackSignature({
      signingSecret: secret,
      headers: signed(body, old),
      rawBody: body,
      nowSeconds: now,
    });
    expect(r).toMatchObject({ ok: false, reason: "stale-timestamp" });
    const future = now + 301;
    expect(
      verifySlackSignature({
        signingSecret: secret,
        headers: signed(body, future),
        rawBody: body,
        nowSeconds: now,
      }),
    ).toMatchObject({ ok: false, reason: "stale-timestamp" });
  });

  it("rejects a request replayed with a fresh timestamp but the old signature", () => {
    const headers = { ...signed(body, now - 200), "X-Slack-Request-Timestamp": String(now) };
    expect(
      verifySlackSignature({ signingSecret: secret, headers, rawBody: body, nowSeconds: now }),
    ).toMatchObject({
      ok: false,
      reason: "bad-signature",
    });
  });

  it("rejects missing headers and a malformed signature", () => {
    expect(
      verifySlackSignature({ signingSecret: secret, headers: {}, rawBody: body, nowSeconds: now }),
    ).toMatchObject({
      ok: false,
      reason: "missing-headers",
    });
    expect(
      verifySlackSignature({
        signingSecret: secret,
        headers: { "x-slack-request-timestamp": String(now) },
        rawBody: body,
        nowSeconds: now,
      }),
    ).toMatchObject({ ok: false, reason: "missing-headers" });
    expect(
      verifySlackSignature({
        signingSecret: secret,
        headers: { "x-slack-request-timestamp": String(now), "x-slack-signature": "v0=short" },
        rawBody: body,
        nowSeconds: now,
      }),
    ).toMatchObject({ ok: false, reason: "bad-signature" });
    expect(
      verifySlackSignature({ signingSecret: secret, headers: null, rawBody: body, nowSeconds: now }),
    ).toMatchObject({ ok: false, reason: "missing-headers" });
  });
});

describe("Slack interaction payloads", () => {
  const ref = { namespace: "default", team: "q3", gate: "spawn-email-drafter" };

  it("parses an approve and a deny click into a decision on the referenced gate", () => {
    const approve = parseSlackInteraction(blockActionsBody(APPROVE_ACTION_ID, encodeGateRef(ref)));
    expect(approve).toEqual({
      decision: "approve",
      gate: ref,
      user: { id: "U123", teamId: "T1", name: "alice" },
      channelId: "C1",
      messageTs: "1700000000.000100",
      responseUrl: "https://hooks.slack.com/actions/T1/1/abc",
    });
    expect(parseSlackInteraction(blockActionsBody(DENY_ACTION_ID, encodeGateRef(ref))).decision).toBe("deny");
  });

  it("refuses bodies that are not approval clicks", () => {
    expect(() => parseSlackInteraction("")).toThrow(SlackPayloadError);
    expect(() => parseSlackInteraction("payload=%7Bnot-json")).toThrow(/not JSON/);
    expect(() =>
      parseSlackInteraction(`payload=${encodeURIComponent('{"type":"view_submission"}')}`),
    ).toThrow(/unsupported interaction type/);
    expect(() => parseSlackInteraction(blockActionsBody("other", encodeGateRef(ref)))).toThrow(
      /no approve or deny/,
    );
    expect(() => parseSlackInteraction(blockActionsBody(APPROVE_ACTION_ID, "taskToken-abc"))).toThrow(
      /gate reference/,
    );
  });

  it("puts the gate reference, never a task token, into the buttons", () => {
    const { blocks } = approvalRequestBlocks({ gate: ref, agent: "email-drafter" });
    const text = JSON.stringify(blocks);
    expect(text).toContain(JSON.stringify(encodeGateRef(ref)).slice(1, -1));
    expect(text).not.toMatch(/token/i);
  });
});

describe("Slack Web API client against a local fake Slack", () => {
  let server: Server;
  let baseUrl: string;
  const calls: Array<{ path: string; auth: string | undefined; body: Record<string, unknown> }> = [];

  const readBody = async (req: IncomingMessage) => {
    let data = "";
    for await (const chunk of req) data += chunk;
    return data;
  };

  beforeAll(async () => {
    server = createServer(async (req, res) => {
      const body = JSON.parse(await readBody(req)) as Record<string, unknown>;
      calls.push({ path: req.url ?? "", auth: req.headers.authorization, body });
      res.setHeader("content-type", "application/json");
      if (body.channel === "C-missing") {
        res.end(JSON.stringify({ ok: false, error: "channel_not_found" }));
        return;
      }
      res.end(JSON.stringify({ ok: true, channel: body.channel, ts: "1700000000.000100", message: {} }));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("posts and updates messages with the bot token and reports Slack errors", async () => {
    const client = new SlackClient({ token: async () => "xoxb-test", baseUrl });
    const ref = await client.postMessage({ channel: "C1", text: "hello" });
    expect(ref).toEqual({ channel: "C1", ts: "1700000000.000100" });
    await client.updateMessage({ channel: "C1", ts: ref.ts, text: "done" });
    expect(calls.map((c) => c.path)).toEqual(["/api/chat.postMessage", "/api/chat.update"]);
    expect(calls[0]?.auth).toBe("Bearer xoxb-test");
    expect(calls[1]?.body).toMatchObject({ channel: "C1", ts: "1700000000.000100", text: "done" });
    await expect(client.postMessage({ channel: "C-missing", text: "x" })).rejects.toThrow(SlackApiError);
    await expect(client.postMessage({ channel: "C-missing", text: "x" })).rejects.toThrow(
      /channel_not_found/,
    );
  });
});
