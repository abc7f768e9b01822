import { APPROVAL_DENIED, type ApprovalGatePayload } from "../../state-machines/contract.ts";
import { annotatedApprovals } from "../manifest/approval-annotations.ts";
import { allApprovalGates, STAGE_GATE_PREFIX } from "../manifest/pipeline.ts";
import type { AgentTeam, ApprovalGateSpec } from "../manifest/types.ts";
import { isTerminalTeamPhase } from "../status/phases.ts";
import { normalEvent, warningEvent } from "../status/status.ts";
import type { GateStatus } from "../status/types.ts";
import type { TeamRunRecord, TeamRunRef } from "../store/items.ts";
import { releaseGateWaiters } from "./dependencies.ts";
import type { ControlDeps } from "./deps.ts";
import { METRIC } from "./metric-names.ts";
import { agentStep, markTeamRunning } from "./phase-walk.ts";
import { recordEvent } from "./team-runs.ts";

type Deps = Pick<ControlDeps, "store" | "runs" | "tokens" | "notifier" | "logger" | "metrics">;

/** A declared gate, or a pipeline stage's gate (declared or not). */
export function gateSpec(record: TeamRunRecord, gate: string): ApprovalGateSpec | undefined {
  return allApprovalGates(record.team.spec).find((g) => g.event === gate);
}

/** The agent a gate guards: `spawn-<agent>`. */
export function gateAgent(gate: string): string {
  return gate.startsWith("spawn-") ? gate.slice("spawn-".length) : gate;
}

async function resume(deps: Deps, token: string, gate: GateStatus, event: string): Promise<void> {
  if (gate.state === "Approved")
    await deps.tokens.succeed(token, { approvedBy: gate.decidedBy ?? "unknown" });
  else
    await deps.tokens.fail(token, APPROVAL_DENIED, `Gate ${event} denied by ${gate.decidedBy ?? "unknown"}`);
}

/**
 * ApprovalGate: marks the agent PendingApproval, keeps the token, and notifies approvers once per
 * gate: the write that sets `notifiedAt` is the one allowed to notify, so retries stay silent.
 */
export async function awaitApproval(deps: Deps, payload: ApprovalGatePayload): Promise<void> {
  const ref = { ...(await deps.runs.resolve(payload.runId)), runId: payload.runId };
  const now = new Date().toISOString();
  let claimed = false;
  const record = await deps.store.updateStatus(ref, (status) => {
    claimed = false;
    const gate = status.gates[payload.gate];
    const agent = status.agents[payload.agentName];
    if (!gate || !agent || isTerminalTeamPhase(status.phase)) return undefined;
    markTeamRunning(status);
    if (gate.state === "Pending") {
      const step = agentStep(agent.phase, "PendingApproval");
      if (step === "PendingApproval") {
        agent.phase = "PendingApproval";
        agent.pendingApproval = payload.gate;
      }
      if (!gate.notifiedAt) {
        gate.notifiedAt = now;
        claimed = true;
      }
    }
    return status;
  });
  const gate = await deps.store.recordGateWaiting(ref, payload.gate, payload.taskToken);
  if (gate.state !== "Pending") {
    // Decided before the execution got here (an early approval): resume at once.
    await resume(deps, payload.taskToken, gate, payload.gate);
    return;
  }
  if (!claimed) return;
  const spec = gateSpec(record, payload.gate);
  await recordEvent(
    deps,
    ref,
    normalEvent("ApprovalRequested", `${payload.agentName} waits for approval of ${payload.gate}.`, {
      agent: payload.agentName,
    }),
  );
  if (!spec) return;
  try {
    const sent = await deps.notifier.approvalRequested({
      team: record.team,
      runId: payload.runId,
      phase: record.status.phase,
      agent: payload.agentName,
      gate: spec,
    });
    if (sent.slack) await deps.runs.putSlackMessage(payload.runId, payload.gate, sent.slack);
  } catch (error) {
    // The gate still waits and can be decided through the API; say why nobody was asked.
    deps.logger?.error("approval notification failed", {
      gate: payload.gate,
      error: (error as Error).message,
    });
    await recordEvent(
      deps,
      ref,
      warningEvent(
        "NotificationFailed",
        `Could not notify approvers of ${payload.gate}: ${(error as Error).message}`,
      ),
    );
  }
}

export class GateDecisionError extends Error {
  override name = "GateDecisionError";
  constructor(
    message: string,
    readonly status: 403 | 404 | 409,
  ) {
    super(message);
  }
}

export interface DecideInput {
  ref: TeamRunRef;
  gate: string;
  decision: "approve" | "deny";
  decidedBy: string;
  /** Slack user ids (or principal names) checked against the gate's approvers; null skips the check. */
  allowed?: (spec: ApprovalGateSpec) => boolean;
}

/**
 * Approve or deny a gate, from the API or Slack. Exactly once: the store hands the task token to
 * the one caller whose decision took effect; a second click gets `changed: false`.
 */
export async function decideGate(
  deps: Deps,
  input: DecideInput,
): Promise<{ changed: boolean; gate: GateStatus; record: TeamRunRecord }> {
  const record = await deps.store.getRun(input.ref);
  const spec = gateSpec(record, input.gate);
  if (!spec || !record.status.gates[input.gate]) {
    throw new GateDecisionError(
      `Team run ${input.ref.namespace}/${input.ref.name} has no approval gate "${input.gate}".`,
      404,
    );
  }
  if (input.allowed && !input.allowed(spec)) {
    throw new GateDecisionError(`${input.decidedBy} is not allowed to decide gate ${input.gate}.`, 403);
  }
  const outcome = await deps.store.decideGate(
    input.ref,
    input.gate,
    input.decision === "approve" ? "Approved" : "Denied",
    input.decidedBy,
  );
  if (!outcome.changed) return { changed: false, gate: outcome.gate, record };
  observeApprovalWait(deps, outcome.gate);
  const ref = { ...input.ref, runId: record.runId };
  const agent = gateAgent(input.gate);
  if (outcome.taskToken) await resume(deps, outcome.taskToken, outcome.gate, input.gate);
  // A stage gate also releases (or, denied, fails) the stage's other teammates.
  if (input.gate.startsWith(STAGE_GATE_PREFIX)) await releaseGateWaiters(deps, ref, input.gate);
  await recordEvent(
    deps,
    ref,
    input.decision === "approve"
      ? normalEvent("ApprovalGranted", `${input.gate} approved by ${input.decidedBy}.`, { agent })
      : warningEvent("ApprovalDenied", `${input.gate} denied by ${input.decidedBy}.`, { agent }),
  );
  try {
    const { slackMessages } = await deps.runs.details(record.runId);
    const slack = slackMessages[input.gate];
    if (slack) {
      await deps.notifier.approvalDecided({
        team: record.team,
        runId: record.runId,
        phase: record.status.phase,
        agent,
        gate: spec,
        decision: input.decision === "approve" ? "approved" : "denied",
        decidedBy: input.decidedBy,
        slack,
      });
    }
  } catch (error) {
    deps.logger?.warn("could not update the Slack message", { error: (error as Error).message });
  }
  return { changed: true, gate: outcome.gate, record };
}

/**
 * ApprovalWaitSeconds: from the moment the gate was reached and the approvers asked (`notifiedAt`)
 * to the decision that took effect. A decision given before the gate was reached made nobody
 * wait, so it is no sample.
 */
function observeApprovalWait(deps: Deps, gate: GateStatus): void {
  if (!gate.notifiedAt || !gate.decidedAt) return;
  const seconds = (Date.parse(gate.decidedAt) - Date.parse(gate.notifiedAt)) / 1000;
  if (Number.isFinite(seconds) && seconds >= 0)
    deps.metrics?.add(METRIC.approvalWaitSeconds, "Seconds", seconds);
}

/**
 * kagents' approval annotations on an applied manifest (`approved.kagents.dev/<event>: "true"`,
 * or the older `approved.claude.amcheste.io/` prefix): each approves its gate through the same
 * decision as `squadron approve`, so a gate is approved once however often the manifest is
 * applied, and the decision names who applied it and through which annotation.
 */
export async function approveAnnotatedGates(
  deps: Deps,
  ref: TeamRunRef,
  team: Pick<AgentTeam, "metadata">,
  appliedBy: string,
): Promise<string[]> {
  const approved: string[] = [];
  for (const { event, annotation } of annotatedApprovals(team.metadata)) {
    const result = await decideGate(deps, {
      ref,
      gate: event,
      decision: "approve",
      decidedBy: `${appliedBy} (annotation ${annotation})`,
    });
    if (result.changed) approved.push(event);
  }
  return approved;
}
