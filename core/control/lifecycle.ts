import {
  type AgentItem,
  type CleanupPayload,
  type CleanupResult,
  type DeliverOutputsResult,
  type LaunchResources,
  LEAD_FAILED,
  type PreparePayload,
  type PrepareResult,
} from "../../state-machines/contract.ts";
import { agentFargateSize, type FargateSize } from "../fargate-sizes.ts";
import { effectiveDependsOn, isStageGateHolder, stageGateOf } from "../manifest/pipeline.ts";
import type { AgentSpec, AgentTeam } from "../manifest/types.ts";
import { humanFailure } from "../status/failure-reason.ts";
import type { TeamPhase } from "../status/phases.ts";
import { isTerminalTeamPhase } from "../status/phases.ts";
import { normalEvent, recordRunEnd, warningEvent } from "../status/status.ts";
import type { TeamStatus } from "../status/types.ts";
import type { TeamRunRecord, TeamRunRef } from "../store/items.ts";
import { boundedText } from "./bounded-text.ts";
import type { CleanupFailureSink } from "./cleanup-failures.ts";
import { deliverOnComplete } from "./delivery.ts";
import type { ControlDeps } from "./deps.ts";
import { teamSteps } from "./phase-walk.ts";
import { TEAMMATE_FAILED } from "./team-progress.ts";
import { recordEvent } from "./team-runs.ts";

export const TEAM_DIR = "/mnt/team";

/**
 * The deployment's runner size when Prepare is not told one (local mode, tests): the defaults of
 * `runnerCpu` / `runnerMemoryMiB` in infra/config.ts.
 */
export const DEFAULT_RUNNER_SIZE: FargateSize = { cpu: 1024, memoryMiB: 4096 };

/**
 * What an agent's container gets. ECS: a valid Fargate size (RunTask's cpu/memory overrides must
 * be one), the deployment's own where the manifest says nothing, else the cheapest valid size at
 * or above the request (core/fargate-sizes.ts). EKS: the manifest's quantities as requests, or the
 * deployment's size.
 */
export function launchResources(
  agent: AgentSpec,
  runner: FargateSize = DEFAULT_RUNNER_SIZE,
): LaunchResources {
  const size = agentFargateSize(agent.resources, runner);
  return {
    ecsCpu: String(size.cpu),
    ecsMemory: String(size.memoryMiB),
    k8sCpu: agent.resources?.cpu ?? String(runner.cpu / 1024),
    k8sMemory: agent.resources?.memory ?? `${runner.memoryMiB}Mi`,
  };
}

/** Lead and teammates, dependencies (pipeline stages included) first; validation rules out cycles. */
export function topologicalAgents(team: AgentTeam): AgentSpec[] {
  const all = [team.spec.lead, ...team.spec.teammates];
  const byName = new Map(all.map((a) => [a.name, a]));
  const out: AgentSpec[] = [];
  const seen = new Set<string>();
  const visit = (a: AgentSpec) => {
    if (seen.has(a.name)) return;
    seen.add(a.name);
    for (const dep of effectiveDependsOn(team.spec, a)) {
      const d = byName.get(dep);
      if (d) visit(d);
    }
    out.push(a);
  };
  all.forEach(visit);
  return out;
}

/**
 * The per-agent Map items. In a pipeline an agent's dependencies are its upstream stages'
 * teammates; a stage gate is held by the stage's first teammate (its ApprovalGate state asks and
 * waits), while the stage's other teammates wait for the gate's decision in WaitForDependencies,
 * which therefore runs for them even in a first stage with nothing upstream.
 */
export function agentItems(team: AgentTeam, runner: FargateSize = DEFAULT_RUNNER_SIZE): AgentItem[] {
  const gates = new Set(team.spec.lifecycle.approvalGates.map((g) => g.event));
  return topologicalAgents(team).map((a) => {
    const dependsOn = effectiveDependsOn(team.spec, a);
    const stageGate = stageGateOf(team.spec, a.name);
    const holder = isStageGateHolder(team.spec, a.name);
    const spawnGate = gates.has(`spawn-${a.name}`) ? `spawn-${a.name}` : null;
    return {
      name: a.name,
      role: a.role,
      cli: a.cli,
      dependsOn,
      waitForDependencies: dependsOn.length > 0 || (stageGate !== undefined && !holder),
      approvalGate: holder ? (stageGate as string) : spawnGate,
      maxRestarts: a.role === "lead" ? 0 : team.spec.lifecycle.maxRestarts,
      resources: launchResources(a, runner),
    };
  });
}

/**
 * Prepare: the run's access point and task definition, the deadline timer, the run manifest for
 * the runner, and phase Initializing. Safe to retry: it reuses what an earlier attempt created.
 */
export async function prepareRun(
  deps: Pick<ControlDeps, "store" | "runs" | "workspaces" | "deadlines" | "runManifests" | "logger">,
  payload: PreparePayload,
  options: { teamDir?: string; runnerSize?: FargateSize } = {},
): Promise<PrepareResult> {
  const ref = { namespace: payload.namespace, name: payload.teamName };
  const record = await deps.store.getRun(ref);
  const details = await deps.runs.details(payload.runId);
  const workspace =
    details.workspace ??
    (await deps.workspaces.create({
      runId: payload.runId,
      namespace: ref.namespace,
      teamName: ref.name,
      team: record.team,
    }));
  if (!details.workspace) await deps.runs.putWorkspace(payload.runId, workspace);
  const startedAt = Date.parse(payload.startedAt) || Date.now();
  const deadline = new Date(startedAt + record.team.spec.lifecycle.timeoutSeconds * 1000);
  await deps.deadlines.arm(payload.runId, deadline);
  await deps.runManifests.write({
    runId: payload.runId,
    team: record.team,
    deadline: deadline.toISOString(),
  });
  const updated = await deps.store.updateStatus(ref, (status) => {
    if (status.phase !== "Pending") return undefined;
    status.phase = "Initializing";
    status.startedAt = new Date(startedAt).toISOString();
    status.executionArn = payload.executionArn;
    return status;
  });
  if (updated.status.phase === "Initializing") {
    await recordEvent(
      deps,
      { ...ref, runId: payload.runId },
      normalEvent("Initializing", "Workspace and agents are being prepared."),
    );
  }
  return {
    run: {
      runId: payload.runId,
      namespace: ref.namespace,
      teamName: ref.name,
      mode: record.team.spec.mode,
      taskDefinitionArn: workspace.taskDefinitionArn,
      accessPointId: workspace.accessPointId,
      posixUid: workspace.posixUid,
      teamDir: options.teamDir ?? TEAM_DIR,
      deadline: deadline.toISOString(),
      timeoutSeconds: Math.max(1, Math.floor((deadline.getTime() - Date.now()) / 1000)),
    },
    agents: agentItems(record.team, options.runnerSize),
  };
}

/** Moves a run to a terminal phase through the allowed steps; leaves an already ended run alone. */
export async function finishRun(
  deps: Pick<ControlDeps, "store">,
  ref: TeamRunRef,
  phase: TeamPhase,
  reason: string,
  message: string,
): Promise<{ record: TeamRunRecord; claimed: boolean }> {
  let record = await deps.store.getRun(ref);
  let claimed = false;
  if (isTerminalTeamPhase(record.status.phase)) return { record, claimed };
  const steps = teamSteps(record.status.phase, phase);
  const at = new Date().toISOString();
  for (const step of steps) {
    let wrote = false;
    record = await deps.store.updateStatus(ref, (status) => {
      wrote = false;
      if (isTerminalTeamPhase(status.phase)) return undefined;
      if (status.phase === step) return undefined;
      const next: TeamStatus = { ...status, phase: step };
      if (isTerminalTeamPhase(step)) {
        wrote = true;
        recordRunEnd(next, { reason, message, at, agentReason: "RunEnded" });
      }
      return next;
    });
    claimed ||= wrote;
  }
  return { record, claimed };
}

/**
 * Releases the run's resources; a failure is not swallowed into a log line: it becomes a Warning
 * event on the team (`squadron describe` shows it), the caller's metric (alarmed in infra), and
 * an error log. A leaked access point counts against the file system's access point quota, after
 * which no run can start, so it must reach an operator. Returns whether everything was released.
 */
export async function releaseOrWarn(
  deps: Pick<ControlDeps, "store" | "runs" | "workspaces" | "deadlines" | "logger" | "runJobs">,
  ref: TeamRunRef & { runId: string },
  sink?: CleanupFailureSink,
): Promise<boolean> {
  try {
    await releaseRunResources(deps, ref.runId);
    return true;
  } catch (error) {
    const message = (error as Error).message ?? String(error);
    deps.logger?.error("could not release run resources", { error: message });
    sink?.resourceCleanupFailed();
    try {
      await recordEvent(
        deps,
        ref,
        warningEvent(
          "ResourceCleanupFailed",
          `The run's access point, task definition or deadline could not be released: ${boundedText(message, 512)}`,
        ),
      );
    } catch (eventError) {
      deps.logger?.error("could not record the cleanup failure", { error: (eventError as Error).message });
    }
    return false;
  }
}

export type { CleanupFailureSink };

/** Releases the run's AWS resources, its deadline timer and (EKS) its Jobs; safe to call again. */
export async function releaseRunResources(
  deps: Pick<ControlDeps, "runs" | "workspaces" | "deadlines" | "logger" | "runJobs">,
  runId: string,
): Promise<void> {
  await deps.deadlines.disarm(runId);
  const { workspace } = await deps.runs.details(runId);
  if (workspace) await deps.workspaces.delete(workspace);
  // A Job still running would keep its agent working (and spending) after the run ended.
  const deleted = await deps.runJobs?.deleteRunJobs(runId);
  if (deleted) deps.logger?.info("deleted the run's Jobs left on the cluster", { runId, jobs: deleted });
}

/**
 * What a completed run delivered, said only as far as this run's state shows it: a cowork run's
 * DeliverOutputs result counts its files; a coding run got past Finalize, which fails when the
 * push or the pull request does.
 */
export function completionMessage(team: AgentTeam, outputs: DeliverOutputsResult | undefined): string {
  if (team.spec.mode === "cowork") {
    if (!outputs) return "Every agent finished.";
    return outputs.files > 0
      ? `Every agent finished; ${outputs.files} output file${outputs.files === 1 ? "" : "s"} delivered to ${outputs.location}.`
      : "Every agent finished; the run wrote no output files, so nothing was delivered.";
  }
  switch (team.spec.lifecycle.onComplete) {
    case "create-pr":
      return "Every agent finished; the merged branch was pushed and the pull request opened.";
    case "push-branch":
      return "Every agent finished; the merged branch was pushed.";
    case "notify":
      // A webhook that cannot be reached does not fail Finalize, so this says nothing of delivery.
      return "Every agent finished (onComplete: notify).";
    case "deliver":
      // The targets are sent after this phase is written; status.delivery says how each went.
      return "Every agent finished; the merged branch stays unpushed (onComplete: deliver sends notices only).";
    default:
      return "Every agent finished; onComplete is none, so nothing was delivered.";
  }
}

/**
 * The reason and message a failed run ends with: what the state machine caught, unless the lead's
 * runner said why the lead failed in terms of the team. A lead ended because a teammate failed for
 * good and nothing else could run (runner/session/teammate-failures.ts) makes the team's reason
 * TeammateFailed, its message naming the teammate, rather than "LeadFailed: the runner exited 1".
 */
function failureOf(before: TeamRunRecord, payload: CleanupPayload): { reason: string; message: string } {
  const error = payload.failure?.Error ?? "Failed";
  const lead = before.status.agents[before.team.spec.lead.name];
  if (error === LEAD_FAILED && lead?.reason === TEAMMATE_FAILED && lead.message) {
    return { reason: TEAMMATE_FAILED, message: lead.message };
  }
  // A short human reason (CloneFailed, MergeConflict, …), never States.* or a multi-line dump.
  return humanFailure(payload.failure?.Error, payload.failure?.Cause);
}

/** What the deadline handler says when it stops a run (guards.ts onDeadline) and Cleanup when a Task did. */
export function deadlineMessage(record: TeamRunRecord): string {
  return `The run reached its timeout of ${record.team.spec.lifecycle.timeout}.`;
}

/**
 * A run's deadline is enforced twice: the deadline schedule stops the execution (TimedOut), and
 * every waiting or container Task has the time left as its TimeoutSecondsPath, so it fails with
 * States.Timeout at about the same moment (EventBridge Scheduler fires within a minute of its
 * time; Step Functions' Task timeout is to the second). Whichever comes first, the run timed out:
 * a States.Timeout at or after the deadline is TimedOut, never "the lead failed".
 */
function reachedDeadline(record: TeamRunRecord, payload: CleanupPayload): boolean {
  if (!payload.failure || !record.status.startedAt) return false;
  const deadline = Date.parse(record.status.startedAt) + record.team.spec.lifecycle.timeoutSeconds * 1000;
  // The Task's timeout is whole seconds counted from its own start: at most a second early.
  if (Date.now() < deadline - 2000) return false;
  const lead = record.status.agents[record.team.spec.lead.name];
  const texts = [payload.failure.Error, payload.failure.Cause, lead?.message];
  return texts.some((t) => t?.includes("States.Timeout"));
}

/** Cleanup: final phase (Completed, or Failed with the caught reason), completion time, terminal event. */
export async function cleanupRun(
  deps: Pick<ControlDeps, "store" | "runs" | "workspaces" | "runJobs" | "deadlines" | "notifier" | "logger">,
  payload: CleanupPayload,
  sink?: CleanupFailureSink,
): Promise<CleanupResult> {
  const ref = { namespace: payload.namespace, name: payload.teamName };
  const failed = payload.failure !== undefined;
  const before = await deps.store.getRun(ref);
  const failure = failed ? failureOf(before, payload) : undefined;
  const { record } = reachedDeadline(before, payload)
    ? await finishRun(deps, ref, "TimedOut", "TimedOut", deadlineMessage(before))
    : failure
      ? await finishRun(
          deps,
          ref,
          "Failed",
          failure.reason,
          `${failure.message} (details: squadron logs team ${payload.teamName} -n ${payload.namespace})`,
        )
      : await finishRun(deps, ref, "Completed", "Completed", completionMessage(before.team, payload.outputs));
  await releaseOrWarn(deps, { ...ref, runId: payload.runId }, sink);
  if (!isTerminalTeamPhase(before.status.phase)) {
    await announceEnd(deps, record, payload.outputs);
  }
  return { phase: record.status.phase };
}

export async function announceEnd(
  deps: Pick<ControlDeps, "store" | "notifier" | "logger">,
  record: TeamRunRecord,
  outputs?: DeliverOutputsResult,
): Promise<void> {
  const { phase, message } = record.status;
  const event =
    phase === "Completed"
      ? normalEvent("Completed", message ?? "The run completed.")
      : warningEvent(phase, message ?? `The run ended in ${phase}.`);
  await recordEvent(deps, { namespace: record.namespace, name: record.name, runId: record.runId }, event);
  try {
    await deps.notifier.teamEvent(record.team, {
      event: phase === "Completed" ? "completed" : "failed",
      phase,
      runId: record.runId,
      ...(message ? { message } : {}),
      costUsd: record.status.totalCostUsd,
    });
  } catch (error) {
    deps.logger?.warn("end-of-run webhook failed", { error: (error as Error).message });
  }
  // kagents runs onComplete only when the team completed; a failed or stopped run delivers nothing.
  if (phase === "Completed") {
    await deliverOnComplete(
      { store: deps.store, logger: deps.logger, delivery: deps.notifier.delivery },
      record,
      outputs,
    );
  }
}

/**
 * Stops a run from outside the state machine (budget, deadline): the phase is claimed first so
 * only one stopper acts, then the execution is stopped (which stops its `.sync` containers).
 */
export async function stopRun(
  deps: Pick<ControlDeps, "store" | "stopper" | "notifier" | "logger">,
  ref: TeamRunRef,
  phase: "BudgetExceeded" | "TimedOut",
  message: string,
): Promise<{ stopped: boolean; record: TeamRunRecord }> {
  const before = await deps.store.getRun(ref);
  if (isTerminalTeamPhase(before.status.phase)) return { stopped: false, record: before };
  const { record, claimed } = await finishRun(deps, ref, phase, phase, message);
  if (!claimed) return { stopped: false, record };
  if (record.status.executionArn)
    await deps.stopper.stop(record.status.executionArn, { error: phase, cause: message });
  await announceEnd(deps, record);
  return { stopped: true, record };
}
