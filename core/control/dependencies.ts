import {
  APPROVAL_DENIED,
  DEPENDENCY_FAILED,
  type RecordAgentResultPayload,
  type RecordAgentResultResult,
  type WaitForDependenciesPayload,
} from "../../state-machines/contract.ts";
import { effectiveDependsOn, isStageGateHolder, stageGateOf } from "../manifest/pipeline.ts";
import type { AgentSpec } from "../manifest/types.ts";
import { isTerminalTeamPhase } from "../status/phases.ts";
import { normalEvent, warningEvent } from "../status/status.ts";
import type { TeamStatus } from "../status/types.ts";
import type { TeamRunRecord, TeamRunRef } from "../store/items.ts";
import { boundedText } from "./bounded-text.ts";
import type { ControlDeps } from "./deps.ts";
import { agentStep, markTeamRunning } from "./phase-walk.ts";
import { recordEvent } from "./team-runs.ts";

type Deps = Pick<ControlDeps, "store" | "runs" | "tokens" | "logger">;

function agentsOf(record: TeamRunRecord): AgentSpec[] {
  return [record.team.spec.lead, ...record.team.spec.teammates];
}

type Verdict =
  | { kind: "release" }
  | { kind: "fail"; error: typeof DEPENDENCY_FAILED | typeof APPROVAL_DENIED; cause: string }
  | { kind: "approval"; gate: string }
  | { kind: "wait" };

/**
 * The stage gate an agent waits for in WaitForDependencies: its stage's gate, unless the agent
 * holds it (then its own ApprovalGate state waits for it).
 */
function waitedGate(record: TeamRunRecord, agent: string): string | undefined {
  const spec = record.team.spec;
  return isStageGateHolder(spec, agent) ? undefined : stageGateOf(spec, agent);
}

/**
 * Whether an agent may start: all dependencies succeeded (and its stage gate, if it waits for
 * one, is approved), one failed for good or the gate was denied, the gate still has to be
 * decided, or not yet. A denied gate fails at once: the stage never starts.
 */
export function dependencyVerdict(status: TeamStatus, dependsOn: string[], gate?: string): Verdict {
  const decision = gate === undefined ? undefined : status.gates[gate];
  if (decision?.state === "Denied") {
    return {
      kind: "fail",
      error: APPROVAL_DENIED,
      cause: `Gate ${gate} denied by ${decision.decidedBy ?? "unknown"}`,
    };
  }
  for (const dep of dependsOn) {
    const a = status.agents[dep];
    if (a && (a.phase === "Failed" || a.phase === "Stopped")) {
      const why = a.message ?? a.reason ?? a.phase;
      return {
        kind: "fail",
        error: DEPENDENCY_FAILED,
        cause: `Dependency ${dep} ${a.phase === "Failed" ? "failed" : "was stopped"}: ${why}`,
      };
    }
  }
  if (!dependsOn.every((dep) => status.agents[dep]?.phase === "Succeeded")) return { kind: "wait" };
  if (gate !== undefined && decision?.state !== "Approved") return { kind: "approval", gate };
  return { kind: "release" };
}

/** Takes the agent's token (exactly one caller gets it) and resumes its WaitForDependencies. */
async function settle(deps: Deps, ref: TeamRunRef & { runId: string }, agent: string, verdict: Verdict) {
  if (verdict.kind === "wait") return false;
  if (verdict.kind === "approval") {
    // Upstream is done; the stage's gate holder asks the approvers. Show this agent waiting too.
    await deps.store.updateStatus(ref, (status) => {
      const a = status.agents[agent];
      if (
        !a ||
        isTerminalTeamPhase(status.phase) ||
        agentStep(a.phase, "PendingApproval") !== "PendingApproval"
      )
        return undefined;
      if (a.phase === "PendingApproval" && a.pendingApproval === verdict.gate) return undefined;
      a.phase = "PendingApproval";
      a.pendingApproval = verdict.gate;
      return status;
    });
    return false;
  }
  const token = await deps.store.takeWaitToken(ref, agent);
  if (!token) return false;
  if (verdict.kind === "release") {
    await deps.tokens.succeed(token, { released: true });
    await recordEvent(
      deps,
      ref,
      normalEvent("DependenciesMet", `All dependencies of ${agent} succeeded.`, { agent }),
    );
  } else {
    await deps.tokens.fail(token, verdict.error, verdict.cause);
    await recordEvent(
      deps,
      ref,
      warningEvent(verdict.error, `${agent} will not run. ${verdict.cause}`, { agent }),
    );
  }
  return true;
}

/**
 * WaitForDependencies: stores the token in the same single-item write that returns the run's
 * current phases. A dependency recorded before this write is seen here (and released at once);
 * one recorded after it finds the token. `takeWaitToken` makes exactly one of them resume.
 */
export async function waitForDependencies(deps: Deps, payload: WaitForDependenciesPayload): Promise<void> {
  const ref = { ...(await deps.runs.resolve(payload.runId)), runId: payload.runId };
  await deps.store.updateStatus(ref, (status) => {
    const agent = status.agents[payload.agentName];
    if (!agent || isTerminalTeamPhase(status.phase) || agent.phase !== "Pending") return undefined;
    markTeamRunning(status);
    agent.phase = "WaitingForDependencies";
    return status;
  });
  const record = await deps.store.putWaitToken(ref, payload.agentName, payload.taskToken);
  await settle(
    deps,
    ref,
    payload.agentName,
    dependencyVerdict(record.status, payload.dependsOn, waitedGate(record, payload.agentName)),
  );
}

function failureOf(payload: RecordAgentResultPayload): { failed: boolean; error?: string; reason: string } {
  const { error } = payload.state;
  if (!error) return { failed: false, reason: "" };
  return {
    failed: true,
    error: error.Error,
    // Returned into the execution's state (each Map result): bounded, see bounded-text.ts.
    reason: boundedText(
      error.Cause ? `${error.Error}: ${lambdaErrorMessage(error.Cause) ?? error.Cause}` : error.Error,
    ),
  };
}

/**
 * A Lambda function's error reaches the state with the function's error as Cause, a JSON
 * `{"errorType","errorMessage","trace"}` (Step Functions developer guide, "Handling errors in
 * Step Functions workflows"): the message is the reason, the stack trace is noise.
 */
function lambdaErrorMessage(cause: string): string | undefined {
  if (!cause.startsWith("{")) return undefined;
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    return typeof parsed.errorMessage === "string" ? parsed.errorMessage : undefined;
  } catch {
    return undefined;
  }
}

/**
 * RecordAgentResult: records the attempt, decides on a restart, then releases or fails every
 * dependant that is already waiting (those that register later decide for themselves).
 */
export async function recordAgentResult(
  deps: Deps,
  payload: RecordAgentResultPayload,
): Promise<RecordAgentResultResult> {
  const ref = { ...(await deps.runs.resolve(payload.runId)), runId: payload.runId };
  const { failed, error, reason } = failureOf(payload);
  const ownFailure = error !== DEPENDENCY_FAILED && error !== APPROVAL_DENIED;
  const restart =
    failed && ownFailure && payload.role === "teammate" && payload.state.attempt < payload.maxRestarts;
  const at = new Date().toISOString();
  const name = payload.agentName;

  let record = await deps.store.getRun(ref);
  if (!failed) {
    // A runner that never reported Running still passes through Starting: one step per write.
    const step = agentStep(record.status.agents[name]?.phase ?? "Pending", "Succeeded");
    if (step && step !== "Succeeded") {
      record = await deps.store.updateStatus(ref, (status) => {
        const a = status.agents[name];
        if (!a || a.phase === "Succeeded" || a.phase === step) return undefined;
        markTeamRunning(status);
        a.phase = step;
        return status;
      });
    }
  }
  record = await deps.store.updateStatus(ref, (status) => {
    const a = status.agents[name];
    if (!a || isTerminalTeamPhase(status.phase)) return undefined;
    markTeamRunning(status);
    delete a.pendingApproval;
    if (payload.state.result?.taskArn) a.taskArn = payload.state.result.taskArn;
    if (!failed) {
      a.phase = "Succeeded";
      delete a.reason;
      delete a.message;
      a.finishedAt = at;
    } else if (restart) {
      a.phase = "Starting";
      a.restarts += 1;
      a.reason = "Restarting";
      a.message = reason;
    } else {
      // The runner may already have recorded why its agent failed (e.g. BudgetExceeded when the
      // CLI's own budget cap ended the turn); that says more than the container's exit.
      const runnerSaid = ownFailure && a.phase === "Failed" && a.reason ? a.reason : undefined;
      a.phase = "Failed";
      a.reason =
        error === APPROVAL_DENIED
          ? "ApprovalDenied"
          : error === DEPENDENCY_FAILED
            ? DEPENDENCY_FAILED
            : (runnerSaid ?? "AgentFailed");
      a.message = runnerSaid && a.message ? a.message : reason;
      a.finishedAt = at;
    }
    return status;
  });

  if (!failed)
    await recordEvent(deps, ref, normalEvent("AgentSucceeded", `${name} finished.`, { agent: name }));
  else if (restart) {
    await recordEvent(
      deps,
      ref,
      warningEvent(
        "AgentRestarting",
        `${name} failed (${reason}); restart ${payload.state.attempt + 1} of ${payload.maxRestarts}.`,
        { agent: name },
      ),
    );
  } else
    await recordEvent(deps, ref, warningEvent("AgentFailed", `${name} failed: ${reason}`, { agent: name }));

  if (!restart) await releaseDependants(deps, ref, name);
  return {
    attempt: restart ? payload.state.attempt + 1 : payload.state.attempt,
    outcome: failed ? "Failed" : "Succeeded",
    restart,
    reason,
  };
}

/** Settles every agent depending on `finished` whose token is stored. */
export async function releaseDependants(
  deps: Deps,
  ref: TeamRunRef & { runId: string },
  finished: string,
): Promise<void> {
  const record = await deps.store.getRun(ref);
  const spec = record.team.spec;
  const dependants = agentsOf(record).filter((a) => effectiveDependsOn(spec, a).includes(finished));
  await settleWaiters(deps, ref, record, dependants);
}

/**
 * A stage gate was decided: settles the stage's teammates that wait for it in
 * WaitForDependencies (the holder's ApprovalGate token is resumed by the decision itself).
 */
export async function releaseGateWaiters(
  deps: Deps,
  ref: TeamRunRef & { runId: string },
  gate: string,
): Promise<void> {
  const record = await deps.store.getRun(ref);
  const waiters = agentsOf(record).filter((a) => waitedGate(record, a.name) === gate);
  await settleWaiters(deps, ref, record, waiters);
}

async function settleWaiters(
  deps: Deps,
  ref: TeamRunRef & { runId: string },
  record: TeamRunRecord,
  agents: AgentSpec[],
): Promise<void> {
  const spec = record.team.spec;
  for (const agent of agents) {
    if (!record.tokens.waits[agent.name]) continue;
    const verdict = dependencyVerdict(
      record.status,
      effectiveDependsOn(spec, agent),
      waitedGate(record, agent.name),
    );
    await settle(deps, ref, agent.name, verdict);
  }
}
