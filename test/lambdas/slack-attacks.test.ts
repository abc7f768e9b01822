import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { awaitApproval } from "../../core/control/approvals.ts";
import { prepareRun } from "../../core/control/lifecycle.ts";
import { handleSlackInteraction } from "../../core/control/slack-approvals.ts";
import { APPROVE_ACTION_ID, encodeGateRef } from "../../core/control/slack-interaction.ts";
import { slackSignature } from "../../core/control/slack-signature.ts";
import { createTeamRun } from "../../core/control/team-runs.ts";
import { parseTeam } from "../../core/manifest/parse.ts";
import { event, type Harness, harness, newTable, teamYaml } from "./harness.ts";

/**
 * Slack webhook attacks (issue 14, point 4 and the authorization suite): every case must be refused
 * (4xx, or 200 with "not allowed"/"already") and leave the gate as it was; a single honest click
 * decides it once. Prints tried / refused correctly / defects.
 */

const SECRET = "signing";
const GATE = "spawn-backend-api";

function signed(body: string, at = Math.floor(Date.now() / 1000), secret = SECRET) {
  return {
    "X-Slack-Request-Timestamp": String(at),
    "X-Slack-Signature": slackSignature(secret, String(at), body),
  };
}

function payloadBody(payload: unknown): string {
  return `payload=${encodeURIComponent(JSON.stringify(payload))}`;
}

function clickPayload(team: string, user: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    type: "block_actions",
    user,
    team: { id: "T1" },
    actions: [
      { action_id: APPROVE_ACTION_ID, value: encodeGateRef({ namespace: "dev-agents", team, gate: GATE }) },
    ],
    ...extra,
  };
}

describe("Slack interactivity attacks", () => {
  let h: Harness;
  const figures = { tried: 0, refused: 0, defects: [] as string[] };
  const options = { signingSecret: async () => SECRET, defaultApprovers: [] as string[] };

  beforeAll(async () => {
    h = harness(await newTable());
  });
  afterAll(() => {
    console.log(
      `slack attacks: ${figures.tried} tried / ${figures.refused} refused correctly / ${figures.defects.length} defects${figures.defects.length ? `: ${figures.defects.join("; ")}` : ""}`,
    );
  });

  async function gateRun(name: string, approvers: string) {
    const yaml = teamYaml(name).replace(
      'channel: "api"',
      `channel: "slack"\n        approvers: [${approvers}]`,
    );
    const record = await createTeamRun(h.deps, parseTeam(yaml));
    await prepareRun(h.deps, {
      runId: record.runId,
      namespace: record.namespace,
      teamName: record.name,
      executionArn: `arn:aws:states:us-east-1:123456789012:execution:squadron-team-run:${record.runId}`,
      startedAt: new Date().toISOString(),
    });
    await awaitApproval(h.deps, {
      action: "awaitApproval",
      taskToken: `tok-${name}`,
      runId: record.runId,
      agentName: "backend-api",
      gate: GATE,
    });
    return record;
  }

  const send = (body: string, headers: Record<string, string>) =>
    handleSlackInteraction(h.deps, event("POST", "/webhooks/slack", { body, token: null, headers }), options);

  const gateState = async (name: string) =>
    (await h.deps.store.getRun({ namespace: "dev-agents", name })).status.gates[GATE]?.state;

  async function expectRefused(label: string, team: string, res: { statusCode: number; body: string }) {
    figures.tried += 1;
    const refused =
      res.statusCode >= 400 && res.statusCode < 500
        ? true
        : res.statusCode === 200 && /not allowed|already|not a gate|no /i.test(res.body);
    const state = await gateState(team);
    if (refused && state === "Pending") figures.refused += 1;
    else figures.defects.push(`${label}: ${res.statusCode} ${res.body.slice(0, 80)} gate ${state}`);
    expect(res.statusCode, label).toBeLessThan(500);
    expect(state, label).toBe("Pending");
  }

  it("refuses forged, stale, wrong-user, name-spoofed, other-workspace and malformed clicks; an honest click decides once", async () => {
    await gateRun("slack-a", '"U-ALICE", "T-ACME/U-BOB"');
    const honest = payloadBody(clickPayload("slack-a", { id: "U-ALICE", username: "alice", team_id: "T1" }));

    await expectRefused("no signature", "slack-a", await send(honest, {}));
    await expectRefused("wrong secret", "slack-a", await send(honest, signed(honest, undefined, "guess")));
    await expectRefused(
      "stale (10 min)",
      "slack-a",
      await send(honest, signed(honest, Math.floor(Date.now() / 1000) - 600)),
    );
    const tampered = payloadBody(clickPayload("slack-a", { id: "U-MALLORY" }));
    await expectRefused("body swapped after signing", "slack-a", await send(tampered, signed(honest)));
    for (const [label, user] of [
      ["wrong user", { id: "U-MALLORY", username: "mallory" }],
      ["name spoofing (username)", { id: "U-MALLORY", username: "U-ALICE" }],
      ["name spoofing (name)", { id: "U-MALLORY", name: "U-ALICE" }],
      ["workspace-qualified approver from another workspace", { id: "U-BOB", team_id: "T-EVIL" }],
    ] as const) {
      const body = payloadBody({ ...clickPayload("slack-a", user), team: { id: "T-EVIL" } });
      await expectRefused(label, "slack-a", await send(body, signed(body)));
    }
    const malformed: Array<[string, string]> = [
      ["empty body", ""],
      ["payload not JSON", "payload=%7Bnot"],
      ["payload null", payloadBody(null)],
      ["payload a list", payloadBody([1, 2])],
      [
        "not block_actions",
        payloadBody({ ...clickPayload("slack-a", { id: "U-ALICE" }), type: "view_submission" }),
      ],
      [
        "actions not a list",
        payloadBody({ ...clickPayload("slack-a", { id: "U-ALICE" }), actions: { a: 1 } }),
      ],
      ["actions of null", payloadBody({ ...clickPayload("slack-a", { id: "U-ALICE" }), actions: [null, 3] })],
      ["user a string", payloadBody({ ...clickPayload("slack-a", { id: "U-ALICE" }), user: "U-ALICE" })],
      [
        "5,000-character team name",
        payloadBody({
          ...clickPayload("slack-a", { id: "U-ALICE" }),
          actions: [
            {
              action_id: APPROVE_ACTION_ID,
              value: encodeGateRef({ namespace: "dev-agents", team: "t".repeat(5000), gate: GATE }),
            },
          ],
        }),
      ],
      [
        "namespace with a slash",
        payloadBody({
          ...clickPayload("slack-a", { id: "U-ALICE" }),
          actions: [
            {
              action_id: APPROVE_ACTION_ID,
              value: encodeGateRef({ namespace: "dev/../prod", team: "slack-a", gate: GATE }),
            },
          ],
        }),
      ],
    ];
    for (const [label, body] of malformed)
      await expectRefused(label, "slack-a", await send(body, signed(body)));

    const first = await send(honest, signed(honest));
    expect(first.statusCode).toBe(200);
    expect(await gateState("slack-a")).toBe("Approved");
    const gate = (await h.deps.store.getRun({ namespace: "dev-agents", name: "slack-a" })).status.gates[GATE];
    expect(gate?.decidedBy).toBe("U-ALICE (alice)");
    // A replay of the same signed request (within Slack's 5 minutes) changes nothing more.
    figures.tried += 1;
    const replay = await send(honest, signed(honest));
    const successes = h.sfn.of("SendTaskSuccess").filter((c) => c.taskToken === "tok-slack-a");
    if (replay.statusCode === 200 && /already/.test(replay.body) && successes.length === 1)
      figures.refused += 1;
    else figures.defects.push(`replay: ${replay.statusCode} ${replay.body}`);
    expect(successes).toHaveLength(1);
    expect(figures.defects).toEqual([]);
  });

  it("a workspace-qualified approver decides only from that workspace", async () => {
    await gateRun("slack-b", '"T-ACME/U-BOB"');
    const body = payloadBody({
      ...clickPayload("slack-b", { id: "U-BOB", team_id: "T-ACME" }),
      team: { id: "T-ACME" },
    });
    expect((await send(body, signed(body))).statusCode).toBe(200);
    expect(await gateState("slack-b")).toBe("Approved");
  });
});
