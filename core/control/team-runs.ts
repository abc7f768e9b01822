import { randomBytes } from "node:crypto";
import { effectiveDependsOn } from "../manifest/pipeline.ts";
import type { AgentTeam } from "../manifest/types.ts";
import { isTerminalTeamPhase } from "../status/phases.ts";
import { pipelineStatus } from "../status/pipeline-status.ts";
import { normalEvent, readyLabel } from "../status/status.ts";
import type { TeamEvent, TeamStatus } from "../status/types.ts";
import { NotFoundError } from "../store/errors.ts";
import {
  type EventRecord,
  type PublicTeamRun,
  publicView,
  type TeamRunRecord,
  type TeamRunRef,
} from "../store/items.ts";
import type { ControlDeps } from "./deps.ts";

/** `<name>-<8 hex>`: a valid execution name (≤ 80 chars of [a-z0-9-]), new for every run. */
export function newRunId(name: string): string {
  return `${name}-${randomBytes(4).toString("hex")}`;
}

export function refOf(record: { namespace: string; name: string; runId: string }) {
  return { namespace: record.namespace, name: record.name, runId: record.runId };
}

/** Appends an event; history is best effort and must never fail the change it describes. */
export async function recordEvent(
  deps: Pick<ControlDeps, "store" | "logger">,
  ref: TeamRunRef & { runId: string },
  event: TeamEvent,
): Promise<void> {
  try {
    await deps.store.appendEvent(ref, event);
  } catch (error) {
    deps.logger?.warn("could not append event", { reason: event.reason, error: (error as Error).message });
  }
}

/**
 * Stores a validated team as a new run and starts its execution (name = run id). The run-id
 * pointer is written first so the execution's Lambdas can always find the run; when the run is
 * not stored (the name is taken, the manifest too large) the pointer is removed again. A
 * transaction would do both at once, but local mode's embedded store (dynalite) has no
 * TransactWriteItems.
 */
export async function createTeamRun(
  deps: Pick<ControlDeps, "store" | "runs" | "starter" | "logger"> & Partial<Pick<ControlDeps, "stopper">>,
  team: AgentTeam,
): Promise<TeamRunRecord> {
  const ref = { namespace: team.metadata.namespace, name: team.metadata.name };
  // A delete that arrives while this create is in flight answers 409 "being created" (not 404).
  await deps.store.markCreating(ref);
  try {
    return await createMarkedTeamRun(deps, team, ref);
  } finally {
    await deps.store.clearCreating(ref).catch(() => undefined);
  }
}

async function createMarkedTeamRun(
  deps: Pick<ControlDeps, "store" | "runs" | "starter" | "logger"> & Partial<Pick<ControlDeps, "stopper">>,
  team: AgentTeam,
  ref: TeamRunRef,
): Promise<TeamRunRecord> {
  const runId = newRunId(ref.name);
  await deps.runs.put(runId, ref);
  let record: TeamRunRecord;
  try {
    record = await deps.store.createRun(team, { runId });
  } catch (error) {
    await deps.runs.remove(runId, ref).catch((cleanup: Error) => {
      deps.logger?.warn("could not remove the pointer of a run that was not created", {
        runId,
        error: cleanup.message,
      });
    });
    throw error;
  }
  await recordEvent(deps, refOf(record), normalEvent("Created", `Team run ${runId} created.`));
  try {
    const { executionArn } = await deps.starter.start({
      runId,
      namespace: ref.namespace,
      teamName: ref.name,
    });
    const started = await deps.store.updateStatus(ref, (status) => {
      status.executionArn ??= executionArn;
      return status;
    });
    // Cancelled between the store write and the start (a racing delete found no execution to
    // stop): stop the execution now, so a cancelled team never runs on.
    if (isTerminalTeamPhase(started.status.phase) && deps.stopper) {
      await deps.stopper.stop(executionArn, {
        error: "Cancelled",
        cause: started.status.message ?? "Cancelled.",
      });
    }
    return started;
  } catch (error) {
    const message = `Could not start the execution: ${(error as Error).message}`;
    await deps.store.updateStatus(ref, (status) => {
      if (isTerminalTeamPhase(status.phase)) return undefined;
      return {
        ...status,
        phase: "Failed",
        reason: "StartFailed",
        message,
        completedAt: new Date().toISOString(),
      };
    });
    await recordEvent(deps, refOf(record), { ...normalEvent("StartFailed", message), type: "Warning" });
    throw error;
  }
}

/**
 * DELETE: stops the execution (which stops its containers) and marks the run Cancelled. A run
 * that already ended is left as it is, so deleting twice does no harm.
 */
export async function cancelTeamRun(
  deps: Pick<ControlDeps, "store" | "stopper" | "logger">,
  ref: TeamRunRef,
  by: string,
): Promise<TeamRunRecord> {
  const current = await deps.store.getRun(ref).catch(async (error) => {
    if (error instanceof NotFoundError && (await deps.store.isCreating(ref))) {
      throw new BeingCreatedError(ref);
    }
    throw error;
  });
  if (isTerminalTeamPhase(current.status.phase)) return current;
  const message = `Cancelled by ${by}.`;
  const record = await deps.store.cancelRun(ref, message);
  if (record.status.executionArn) {
    await deps.stopper.stop(record.status.executionArn, { error: "Cancelled", cause: message });
  }
  await recordEvent(deps, refOf(record), normalEvent("Cancelled", message));
  return record;
}

/**
 * DELETE, as Kubernetes deletes an object: a team that has ended is removed, so its name is free
 * for a new run, while its run (status, events; logs and outputs are keyed by run id anyway) stays
 * readable by run id for the retention period. A team still running is stopped first (phase
 * Cancelled, as {@link cancelTeamRun}) and kept until its run has ended, so the execution's own
 * cleanup still finds it; deleting it again then removes it.
 */
export async function deleteTeam(
  deps: Pick<ControlDeps, "store" | "stopper" | "logger">,
  ref: TeamRunRef,
  by: string,
): Promise<{ record: PublicTeamRun; removed: boolean }> {
  const current = await deps.store.getRun(ref).catch(async (error) => {
    if (error instanceof NotFoundError && (await deps.store.isCreating(ref))) {
      throw new BeingCreatedError(ref);
    }
    throw error;
  });
  if (!isTerminalTeamPhase(current.status.phase)) {
    return { record: publicView(await cancelTeamRun(deps, ref, by)), removed: false };
  }
  await recordEvent(
    deps,
    refOf(current),
    normalEvent("Deleted", `Team deleted by ${by}; run ${current.runId} is kept by run id.`),
  );
  return { record: await deps.store.retireRun(ref, current.runId), removed: true };
}

function age(from: string, now: Date): string {
  let s = Math.max(0, Math.floor((now.getTime() - Date.parse(from)) / 1000));
  if (s < 60) return `${s}s`;
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d${h}h`;
  if (h > 0) return `${h}h${m}m`;
  return `${m}m`;
}

export interface AgentView {
  name: string;
  role: "lead" | "teammate";
  cli: string;
  model: string;
  phase: string;
  /** A scripted agent stands in for the CLI (local mode without the CLI or its key, demos, tests). */
  simulated: boolean;
  reason: string | null;
  message: string | null;
  pendingApproval: string | null;
  restarts: number;
  costUsd: number;
  tokens: { input: number; output: number; cacheRead: number; cacheWrite: number };
  startedAt: string | null;
  finishedAt: string | null;
  dependsOn: string[];
}

/**
 * Costs are sums of many binary fractions (0.01 + 0.02 = 0.030000000000000002); shown to the
 * micro-dollar they say what was measured without the float noise.
 */
export function roundUsd(usd: number): number {
  return Math.round(usd * 1e6) / 1e6;
}

function agentView(record: PublicTeamRun, status: TeamStatus, name: string): AgentView {
  const spec = [record.team.spec.lead, ...record.team.spec.teammates].find((a) => a.name === name);
  const a = status.agents[name];
  return {
    name,
    role: spec?.role ?? "teammate",
    cli: a?.cli ?? spec?.cli ?? "claude",
    model: spec?.model ?? "",
    phase: a?.phase ?? "Pending",
    simulated: a?.simulated ?? false,
    reason: a?.reason ?? null,
    message: a?.message ?? null,
    pendingApproval: a?.pendingApproval ?? null,
    restarts: a?.restarts ?? 0,
    costUsd: roundUsd(a?.costUsd ?? 0),
    tokens: {
      input: a?.inputTokens ?? 0,
      output: a?.outputTokens ?? 0,
      cacheRead: a?.cacheReadTokens ?? 0,
      cacheWrite: a?.cacheWriteTokens ?? 0,
    },
    startedAt: a?.startedAt ?? null,
    finishedAt: a?.finishedAt ?? null,
    // What the agent actually waits for: its dependsOn, or its upstream pipeline stages' teammates.
    dependsOn: spec ? effectiveDependsOn(record.team.spec, spec) : [],
  };
}

/** One row of `squadron get` (kagents' NAME PHASE READY TASKS DONE COST AGE). */
export function teamSummary(record: Omit<TeamRunRecord, "tokens">, now = new Date()) {
  return {
    namespace: record.namespace,
    name: record.name,
    runId: record.runId,
    phase: record.status.phase,
    ready: readyLabel(record.status),
    tasks: record.status.tasks,
    cost: {
      usd: roundUsd(record.status.totalCostUsd),
      budgetUsd: record.team.spec.lifecycle.budgetLimit ?? null,
      // Scripted stand-ins report priced usage, not spending: every view says so.
      simulated: Object.values(record.status.agents).some((a) => a?.simulated === true),
    },
    age: age(record.createdAt, now),
    createdAt: record.createdAt,
    labels: record.team.metadata.labels,
  };
}

/** What `GET team` returns: the status users see, with the events history. Never task tokens. */
export function teamView(record: PublicTeamRun, events: EventRecord[], now = new Date()) {
  const { status } = record;
  return {
    ...teamSummary(record, now),
    reason: status.reason ?? null,
    message: status.message ?? null,
    startedAt: status.startedAt ?? null,
    completedAt: status.completedAt ?? null,
    mode: record.team.spec.mode,
    lead: agentView(record, status, record.team.spec.lead.name),
    teammates: record.team.spec.teammates.map((t) => agentView(record, status, t.name)),
    gates: Object.fromEntries(
      Object.entries(status.gates).map(([event, g]) => [
        event,
        {
          state: g.state,
          decidedBy: g.decidedBy ?? null,
          decidedAt: g.decidedAt ?? null,
          notifiedAt: g.notifiedAt ?? null,
        },
      ]),
    ),
    /** kagents v0.8 status.artifacts: declared outputs found when their producers ended, and where each was staged. */
    artifacts: status.artifacts ?? [],
    /** kagents' status.pipeline, or null without spec.pipeline. */
    pipeline: pipelineStatus(record.team.spec, status),
    /** kagents' status.delivery: one entry per onComplete "deliver" target, null before it ran. */
    delivery: status.delivery ?? null,
    budgetWarned: status.budgetWarned,
    apiVersion: record.team.apiVersion,
    events: events.map(({ runId: _r, ...e }) => e),
    spec: record.team.spec,
    metadata: record.team.metadata,
  };
}

/** A delete or cancel reached a team whose create is still in flight. API: 409, retry. */
export class BeingCreatedError extends Error {
  override name = "BeingCreatedError";
  constructor(ref: TeamRunRef) {
    super(`Team ${ref.namespace}/${ref.name} is being created; retry the request in a moment.`);
  }
}
