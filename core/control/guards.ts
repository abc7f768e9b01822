import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { humanFailure } from "../status/failure-reason.ts";
import { isTerminalTeamPhase } from "../status/phases.ts";
import { warningEvent } from "../status/status.ts";
import { RUN_SK, runFromItem, type TeamRunRef, usageTotalAttr } from "../store/items.ts";
import type { ControlDeps } from "./deps.ts";
import {
  announceEnd,
  type CleanupFailureSink,
  deadlineMessage,
  finishRun,
  releaseOrWarn,
  stopRun,
} from "./lifecycle.ts";
import { METRIC, TEAM_DIMENSION } from "./metric-names.ts";
import { recordEvent } from "./team-runs.ts";

export const BUDGET_WARNING_RATIO = 0.8;

/** The part of a DynamoDB stream record the budget guard reads. */
export interface UsageStreamRecord {
  eventName?: string;
  dynamodb?: {
    OldImage?: Record<string, AttributeValue>;
    NewImage?: Record<string, AttributeValue>;
  };
}

export type BudgetAction = "none" | "warned" | "stopped";

/**
 * Budget: acts only on the write that raised a run's measured cost. At 80% a warning event and
 * webhook, once (the `budgetWarned` flag is claimed in a versioned write); at or over the limit
 * the execution is stopped and the phase becomes BudgetExceeded.
 */
export async function checkBudget(
  deps: Pick<ControlDeps, "store" | "stopper" | "notifier" | "logger" | "metrics">,
  record: UsageStreamRecord,
): Promise<BudgetAction> {
  const newImage = record.dynamodb?.NewImage;
  if (!newImage || record.eventName === "REMOVE") return "none";
  const item = unmarshall(newImage);
  if (item.sk !== RUN_SK || typeof item.pk !== "string" || !item.pk.startsWith("TEAM#")) return "none";
  const old = record.dynamodb?.OldImage ? unmarshall(record.dynamodb.OldImage) : {};
  const costAttr = usageTotalAttr("costUsd");
  const before = typeof old[costAttr] === "number" ? (old[costAttr] as number) : 0;
  const after = typeof item[costAttr] === "number" ? (item[costAttr] as number) : 0;
  if (!(after > before)) return "none";
  const run = runFromItem(item);
  // CostUsd: the measured cost this write added, overall and per team. This is the one place
  // every usage report passes (runner → run item → stream), whatever the budget. A stream batch
  // retried after a failure can count a write twice (the stream is at-least-once).
  deps.metrics?.add(METRIC.costUsd, "None", after - before);
  deps.metrics?.add(METRIC.costUsd, "None", after - before, {
    [TEAM_DIMENSION]: `${run.namespace}/${run.name}`,
  });
  const limit = run.team.spec.lifecycle.budgetLimit;
  if (limit === undefined || isTerminalTeamPhase(run.status.phase)) return "none";
  const ref: TeamRunRef = { namespace: run.namespace, name: run.name };
  if (after >= limit) {
    const message = `Measured cost $${after.toFixed(2)} reached the budget of $${limit.toFixed(2)}.`;
    const { stopped } = await stopRun(deps, ref, "BudgetExceeded", message);
    return stopped ? "stopped" : "none";
  }
  if (after < BUDGET_WARNING_RATIO * limit || run.status.budgetWarned) return "none";
  let claimed = false;
  await deps.store.updateStatus(ref, (status) => {
    claimed = false;
    if (status.budgetWarned || isTerminalTeamPhase(status.phase)) return undefined;
    claimed = true;
    return { ...status, budgetWarned: true };
  });
  if (!claimed) return "none";
  const message = `Measured cost $${after.toFixed(2)} is ${Math.round((after / limit) * 100)}% of the budget of $${limit.toFixed(2)}.`;
  await recordEvent(deps, { ...ref, runId: run.runId }, warningEvent("BudgetWarning", message));
  try {
    await deps.notifier.teamEvent(run.team, {
      event: "budget-warning",
      phase: run.status.phase,
      runId: run.runId,
      costUsd: after,
      budgetUsd: limit,
      message,
    });
  } catch (error) {
    deps.logger?.warn("budget warning webhook failed", { error: (error as Error).message });
  }
  return "warned";
}

/** The deadline timer fired: stop the execution, phase TimedOut. */
export async function onDeadline(
  deps: Pick<ControlDeps, "store" | "runs" | "stopper" | "notifier" | "logger">,
  runId: string,
): Promise<boolean> {
  const ref = await deps.runs.resolve(runId);
  const record = await deps.store.findRun(ref);
  if (!record) return false;
  const { stopped } = await stopRun(deps, ref, "TimedOut", deadlineMessage(record));
  return stopped;
}

/** `detail` of EventBridge's "Step Functions Execution Status Change". */
export interface ExecutionStatusDetail {
  executionArn: string;
  name: string;
  status: "RUNNING" | "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED" | "PENDING_REDRIVE";
  error?: string | null;
  cause?: string | null;
}

/**
 * Keeps the team's status true when an execution ends without Cleanup (stopped or aborted from
 * outside, timed out) or Cleanup could not write: terminal phase, resources released.
 */
export async function onExecutionStatus(
  deps: Pick<ControlDeps, "store" | "runs" | "workspaces" | "runJobs" | "deadlines" | "notifier" | "logger">,
  detail: ExecutionStatusDetail,
  sink?: CleanupFailureSink,
): Promise<string | undefined> {
  if (detail.status === "RUNNING" || detail.status === "PENDING_REDRIVE") return undefined;
  const ref = await deps.runs.resolve(detail.name);
  const before = await deps.store.findRun(ref);
  // The team was deleted (and maybe applied again) after its run ended: nothing to record, but
  // the run's resources are still released.
  if (!before) {
    await releaseOrWarn(deps, ref, sink);
    return undefined;
  }
  if (!isTerminalTeamPhase(before.status.phase)) {
    const cause = detail.cause ?? detail.error ?? "";
    const target =
      detail.status === "SUCCEEDED"
        ? (["Completed", "Completed", "The execution succeeded."] as const)
        : detail.status === "TIMED_OUT"
          ? (["TimedOut", "TimedOut", `The execution timed out. ${cause}`.trim()] as const)
          : detail.status === "ABORTED"
            ? ([
                "Cancelled",
                "ExecutionAborted",
                `The execution was stopped outside Squadron. ${cause}`.trim(),
              ] as const)
            : ((failure) =>
                [
                  "Failed",
                  failure.reason,
                  `${failure.message} (details: squadron logs team ${before.name} -n ${before.namespace})`,
                ] as const)(humanFailure(detail.error ?? undefined, cause));
    const { record, claimed } = await finishRun(deps, ref, target[0], target[1], target[2]);
    if (claimed) await announceEnd(deps, record);
  }
  await releaseOrWarn(deps, ref, sink);
  return (await deps.store.findRun(ref))?.status.phase;
}

export { recordEvent };
