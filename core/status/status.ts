import { allApprovalGates } from "../manifest/pipeline.ts";
import type { AgentSpec, AgentTeam } from "../manifest/types.ts";
import { isFinishedAgentPhase } from "./phases.ts";
import type { AgentStatus, EventType, TeamEvent, TeamStatus, TokenCounts } from "./types.ts";

export const ZERO_USAGE = {
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  costUsd: 0,
} as const;

export function allAgents(team: AgentTeam): AgentSpec[] {
  return [team.spec.lead, ...team.spec.teammates];
}

function initialAgentStatus(agent: AgentSpec): AgentStatus {
  return { phase: "Pending", cli: agent.cli, restarts: 0, ...ZERO_USAGE };
}

/** The status a run starts with: everything Pending, every declared gate undecided, no cost. */
export function initialStatus(team: AgentTeam): TeamStatus {
  // No prototype: agents and gates are looked up by names users choose ("constructor" included).
  const agents: Record<string, AgentStatus> = Object.create(null);
  for (const agent of allAgents(team)) agents[agent.name] = initialAgentStatus(agent);
  const gates: TeamStatus["gates"] = Object.create(null);
  // Declared gates plus one `stage-<name>` per pipeline stage that requires approval.
  for (const gate of allApprovalGates(team.spec)) gates[gate.event] = { state: "Pending" };
  return {
    phase: "Pending",
    agents,
    gates,
    tasks: { total: 0, done: 0 },
    totalCostUsd: 0,
    budgetWarned: false,
  };
}

/** Agents counted by kagents' READY column: running ones plus those that completed. */
export function readyCounts(status: TeamStatus): { ready: number; total: number } {
  const agents = Object.values(status.agents);
  const ready = agents.filter((a) => a.phase === "Running" || a.phase === "Succeeded").length;
  return { ready, total: agents.length };
}

/** kagents' READY column, "running+completed/total", e.g. "2/3". */
export function readyLabel(status: TeamStatus): string {
  const { ready, total } = readyCounts(status);
  return `${ready}/${total}`;
}

export function tasksLabel(status: TeamStatus): string {
  return `${status.tasks.done}/${status.tasks.total}`;
}

export function finishedAgents(status: TeamStatus): string[] {
  return Object.entries(status.agents)
    .filter(([, a]) => isFinishedAgentPhase(a.phase))
    .map(([name]) => name);
}

/** Sum of the agents' measured cost; the store keeps `totalCostUsd` equal to it. */
export function totalCost(status: TeamStatus): number {
  return Object.values(status.agents).reduce((sum, a) => sum + a.costUsd, 0);
}

export function totalTokens(status: TeamStatus): TokenCounts {
  const sum = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 };
  for (const a of Object.values(status.agents)) {
    sum.inputTokens += a.inputTokens;
    sum.outputTokens += a.outputTokens;
    sum.cacheReadTokens += a.cacheReadTokens;
    sum.cacheWriteTokens += a.cacheWriteTokens;
  }
  return sum;
}

/** The figures of one `squadron get` row (kagents: NAME PHASE READY TASKS DONE COST AGE). */
export interface StatusSummary {
  phase: TeamStatus["phase"];
  ready: string;
  tasks: number;
  done: number;
  costUsd: number;
}

export function summarize(status: TeamStatus): StatusSummary {
  return {
    phase: status.phase,
    ready: readyLabel(status),
    tasks: status.tasks.total,
    done: status.tasks.done,
    costUsd: status.totalCostUsd,
  };
}

export function makeEvent(
  type: EventType,
  reason: string,
  message: string,
  options: { agent?: string; time?: Date | string } = {},
): TeamEvent {
  const time =
    options.time instanceof Date ? options.time.toISOString() : (options.time ?? new Date().toISOString());
  const event: TeamEvent = { type, reason, message, time };
  if (options.agent !== undefined) event.agent = options.agent;
  return event;
}

export function normalEvent(
  reason: string,
  message: string,
  options?: { agent?: string; time?: Date | string },
) {
  return makeEvent("Normal", reason, message, options);
}

export function warningEvent(
  reason: string,
  message: string,
  options?: { agent?: string; time?: Date | string },
) {
  return makeEvent("Warning", reason, message, options);
}

/**
 * Writes the end of a run into `status`, already moved to its terminal phase: why and when it
 * ended, and every agent still going Stopped with `agentReason` and no pending approval.
 */
export function recordRunEnd(
  status: TeamStatus,
  end: { reason: string; message: string; at: string; agentReason: string },
): void {
  status.reason = end.reason;
  status.message = end.message;
  status.completedAt = end.at;
  for (const agent of Object.values(status.agents)) {
    if (isFinishedAgentPhase(agent.phase)) continue;
    agent.phase = "Stopped";
    agent.reason = end.agentReason;
    agent.finishedAt ??= end.at;
    delete agent.pendingApproval;
  }
}
