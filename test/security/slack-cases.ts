/**
 * Slack interactivity attacks (issue 14, point 4 and the authorization suite), against DynamoDB
 * Local: forged, stale, tampered, wrong-user, name-spoofed, other-workspace and malformed clicks
 * must be refused (4xx, or 200 saying "not allowed"/"already") and leave the gate Pending; one
 * honest click decides it once, its replay changes nothing, and a workspace-qualified approver
 * decides only from that workspace. Shared by test/lambdas/slack-attacks.test.ts and
 * bench/security.bench.ts (no vitest import here).
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import fc from "fast-check";
import { awaitApproval } from "../../core/control/approvals.ts";
import { prepareRun } from "../../core/control/lifecycle.ts";
import { handleSlackInteraction } from "../../core/control/slack-approvals.ts";
import { APPROVE_ACTION_ID, encodeGateRef } from "../../core/control/slack-interaction.ts";
import { slackSignature } from "../../core/control/slack-signature.ts";
import { createTeamRun } from "../../core/control/team-runs.ts";
import { parseTeam } from "../../core/manifest/parse.ts";
import { event, harness, teamYaml } from "../lambdas/harness.ts";
import { mutate, mutationArb } from "./api-fuzz.ts";
import type { SuiteFigures } from "./api-suite.ts";

const SECRET = "signing";
const GATE = "spawn-backend-api";
const NS = "dev-agents";

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
    actions: [{ action_id: APPROVE_ACTION_ID, value: encodeGateRef({ namespace: NS, team, gate: GATE }) }],
    ...extra,
  };
}

export interface SlackFigures extends SuiteFigures {
  /** Of `tried`, the property-based mutated clicks. */
  fuzzed: number;
  /** Who the honest click's gate records as its decider. */
  decidedBy?: string;
}

export async function runSlackAttacks(options: {
  table: { client: DynamoDBClient; tableName: string };
  /** How many mutated clicks (default 100). */
  fuzzPayloads?: number;
}): Promise<SlackFigures> {
  const h = harness(options.table);
  const figures: SlackFigures = { tried: 0, refused: 0, defects: [], fuzzed: 0 };
  const slackOptions = { signingSecret: async () => SECRET, defaultApprovers: [] as string[] };

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
    handleSlackInteraction(
      h.deps,
      event("POST", "/webhooks/slack", { body, token: null, headers }),
      slackOptions,
    );
  const gate = async (name: string) =>
    (await h.deps.store.getRun({ namespace: NS, name })).status.gates[GATE];

  async function expectRefused(label: string, team: string, res: { statusCode: number; body: string }) {
    figures.tried += 1;
    const refused =
      res.statusCode >= 400 && res.statusCode < 500
        ? true
        : res.statusCode === 200 && /not allowed|already|not a gate|not found|no /i.test(res.body);
    const state = (await gate(team))?.state;
    if (refused && state === "Pending") figures.refused += 1;
    else figures.defects.push(`${label}: ${res.statusCode} ${res.body.slice(0, 80)} gate ${state}`);
  }

  await gateRun("slack-a", '"U-ALICE", "T-ACME/U-BOB"');
  const honest = payloadBody(clickPayload("slack-a", { id: "U-ALICE", username: "alice", team_id: "T1" }));

  await expectRefused("no signature", "slack-a", await send(honest, {}));
  await expectRefused("wrong secret", "slack-a", await send(honest, signed(honest, undefined, "guess")));
  await expectRefused(
    "stale (10 min)",
    "slack-a",
    await send(honest, signed(honest, Math.floor(Date.now() / 1000) - 600)),
  );
  await expectRefused(
    "from the future (10 min)",
    "slack-a",
    await send(honest, signed(honest, Math.floor(Date.now() / 1000) + 600)),
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
  const withValue = (value: string) =>
    payloadBody({
      ...clickPayload("slack-a", { id: "U-ALICE" }),
      actions: [{ action_id: APPROVE_ACTION_ID, value }],
    });
  const malformed: Array<[string, string]> = [
    ["empty body", ""],
    ["payload not JSON", "payload=%7Bnot"],
    ["payload null", payloadBody(null)],
    ["payload a list", payloadBody([1, 2])],
    [
      "not block_actions",
      payloadBody({ ...clickPayload("slack-a", { id: "U-ALICE" }), type: "view_submission" }),
    ],
    ["actions not a list", payloadBody({ ...clickPayload("slack-a", { id: "U-ALICE" }), actions: { a: 1 } })],
    ["actions of null", payloadBody({ ...clickPayload("slack-a", { id: "U-ALICE" }), actions: [null, 3] })],
    ["user a string", payloadBody({ ...clickPayload("slack-a", { id: "U-ALICE" }), user: "U-ALICE" })],
    ["user id __proto__", payloadBody(clickPayload("slack-a", { id: "__proto__" }))],
    [
      "5,000-character team name",
      withValue(encodeGateRef({ namespace: NS, team: "t".repeat(5000), gate: GATE })),
    ],
    [
      "namespace with a slash",
      withValue(encodeGateRef({ namespace: "dev/../prod", team: "slack-a", gate: GATE })),
    ],
    ["gate value not JSON", withValue("{not json")],
    ["gate of another team", withValue(encodeGateRef({ namespace: NS, team: "slack-nobody", gate: GATE }))],
  ];
  for (const [label, body] of malformed)
    await expectRefused(label, "slack-a", await send(body, signed(body)));
  // Property-based: a non-approver's signed click with one field (at any depth) set to a hostile
  // value, deleted, or given a prototype-named key: never a 5xx, the gate still Pending.
  const mallory = JSON.stringify(clickPayload("slack-a", { id: "U-MALLORY", username: "U-ALICE" }));
  for (const mutation of fc.sample(mutationArb, { numRuns: options.fuzzPayloads ?? 100, seed: 14 })) {
    const body = payloadBody(JSON.parse(mutate(mallory, mutation)));
    const res = await send(body, signed(body));
    figures.tried += 1;
    figures.fuzzed += 1;
    const state = (await gate("slack-a"))?.state;
    if (res.statusCode < 500 && state === "Pending") figures.refused += 1;
    else
      figures.defects.push(
        `fuzzed click ${JSON.stringify(mutation).slice(0, 120)}: ${res.statusCode} gate ${state}`,
      );
  }

  // One honest click decides it once...
  figures.tried += 1;
  const first = await send(honest, signed(honest));
  const decided = await gate("slack-a");
  figures.decidedBy = decided?.decidedBy;
  if (first.statusCode === 200 && decided?.state === "Approved" && decided.decidedBy === "U-ALICE (alice)")
    figures.refused += 1;
  else
    figures.defects.push(`honest click: ${first.statusCode} gate ${decided?.state} by ${decided?.decidedBy}`);
  // ...and a replay of the same signed request (within Slack's 5 minutes) changes nothing more.
  figures.tried += 1;
  const replay = await send(honest, signed(honest));
  const successes = h.sfn.of("SendTaskSuccess").filter((c) => c.taskToken === "tok-slack-a");
  if (replay.statusCode === 200 && /already/.test(replay.body) && successes.length === 1)
    figures.refused += 1;
  else
    figures.defects.push(`replay: ${replay.statusCode} ${replay.body} (${successes.length} SendTaskSuccess)`);

  // A workspace-qualified approver decides from that workspace.
  await gateRun("slack-b", '"T-ACME/U-BOB"');
  figures.tried += 1;
  const fromAcme = payloadBody({
    ...clickPayload("slack-b", { id: "U-BOB", team_id: "T-ACME" }),
    team: { id: "T-ACME" },
  });
  const acme = await send(fromAcme, signed(fromAcme));
  if (acme.statusCode === 200 && (await gate("slack-b"))?.state === "Approved") figures.refused += 1;
  else
    figures.defects.push(
      `workspace-qualified approver from T-ACME: ${acme.statusCode} ${acme.body.slice(0, 80)}`,
    );
  return figures;
}
