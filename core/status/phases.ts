/**
 * Phases of a team run and of each agent, with the only transitions allowed between them.
 * Every writer (state machine Lambdas, runner, API, local mode) goes through these tables, so
 * a late or duplicated event can never move a finished run back to Running.
 */

export const TEAM_PHASES = [
  "Pending",
  "Initializing",
  "Running",
  "Finalizing",
  "Completed",
  "Failed",
  "TimedOut",
  "BudgetExceeded",
  "Cancelled",
] as const;
export type TeamPhase = (typeof TEAM_PHASES)[number];

export const AGENT_PHASES = [
  "Pending",
  "WaitingForDependencies",
  "PendingApproval",
  "Starting",
  "Running",
  "Succeeded",
  "Failed",
  "Stopped",
] as const;
export type AgentPhase = (typeof AGENT_PHASES)[number];

/** A run in one of these phases never changes phase again. */
export const TERMINAL_TEAM_PHASES: ReadonlySet<TeamPhase> = new Set([
  "Completed",
  "Failed",
  "TimedOut",
  "BudgetExceeded",
  "Cancelled",
]);

/**
 * An agent in one of these phases has finished. `Failed` is left only by a restart
 * (Failed → Starting, counted in `restarts`); the others are final.
 */
export const FINISHED_AGENT_PHASES: ReadonlySet<AgentPhase> = new Set(["Succeeded", "Failed", "Stopped"]);

/** Every phase a run stops in when it ends abnormally (timeout, budget, cancel, failure). */
const TEAM_ABORTS = ["Failed", "TimedOut", "BudgetExceeded", "Cancelled"] as const;

export const TEAM_TRANSITIONS: Readonly<Record<TeamPhase, readonly TeamPhase[]>> = {
  // A run that never started cannot time out or overspend: no deadline is armed and no agent ran.
  Pending: ["Initializing", "Failed", "Cancelled"],
  Initializing: ["Running", "Failed", "TimedOut", "Cancelled"],
  Running: ["Finalizing", ...TEAM_ABORTS],
  // Usage reported late by an agent can still cross the budget while Finalize runs.
  Finalizing: ["Completed", ...TEAM_ABORTS],
  Completed: [],
  Failed: [],
  TimedOut: [],
  BudgetExceeded: [],
  Cancelled: [],
};

export const AGENT_TRANSITIONS: Readonly<Record<AgentPhase, readonly AgentPhase[]>> = {
  Pending: ["WaitingForDependencies", "PendingApproval", "Starting", "Failed", "Stopped"],
  // Failed: a dependency failed, so this agent will never run.
  WaitingForDependencies: ["PendingApproval", "Starting", "Failed", "Stopped"],
  // Stopped: denied or the run ended while waiting.
  PendingApproval: ["Starting", "Failed", "Stopped"],
  // Succeeded straight from Starting: a short agent can finish before its Running report lands.
  Starting: ["Running", "Succeeded", "Failed", "Stopped"],
  // Starting again: the container died and is being restarted.
  Running: ["Succeeded", "Failed", "Stopped", "Starting"],
  Succeeded: [],
  Failed: ["Starting"],
  Stopped: [],
};

export function isTeamPhase(value: unknown): value is TeamPhase {
  return typeof value === "string" && (TEAM_PHASES as readonly string[]).includes(value);
}

export function isAgentPhase(value: unknown): value is AgentPhase {
  return typeof value === "string" && (AGENT_PHASES as readonly string[]).includes(value);
}

export function isTerminalTeamPhase(phase: TeamPhase): boolean {
  return TERMINAL_TEAM_PHASES.has(phase);
}

export function isFinishedAgentPhase(phase: AgentPhase): boolean {
  return FINISHED_AGENT_PHASES.has(phase);
}

/** Staying in the same phase is always allowed, so retried writes are harmless. */
export function canTransitionTeam(from: TeamPhase, to: TeamPhase): boolean {
  return from === to || TEAM_TRANSITIONS[from].includes(to);
}

export function canTransitionAgent(from: AgentPhase, to: AgentPhase): boolean {
  return from === to || AGENT_TRANSITIONS[from].includes(to);
}

export type TransitionSubject = { kind: "team" } | { kind: "agent"; agent: string };

/** Thrown when a writer asks for a phase change the tables do not allow (the API maps it to 409). */
export class InvalidTransitionError extends Error {
  override readonly name = "InvalidTransitionError";
  constructor(
    readonly subject: TransitionSubject,
    readonly from: string,
    readonly to: string,
    readonly allowed: readonly string[],
  ) {
    const who = subject.kind === "team" ? "team run" : `agent "${subject.agent}"`;
    const next =
      allowed.length === 0 ? `${from} is terminal` : `from ${from} it may go to ${allowed.join(", ")}`;
    super(`Cannot move ${who} from ${from} to ${to}: ${next}.`);
  }
}

/** `canTransition` for either table: `canTransition("team", "Running", "Finalizing")`. */
export function canTransition(kind: "team", from: TeamPhase, to: TeamPhase): boolean;
export function canTransition(kind: "agent", from: AgentPhase, to: AgentPhase): boolean;
export function canTransition(kind: "team" | "agent", from: string, to: string): boolean {
  return kind === "team"
    ? canTransitionTeam(from as TeamPhase, to as TeamPhase)
    : canTransitionAgent(from as AgentPhase, to as AgentPhase);
}

export function assertTeamTransition(from: TeamPhase, to: TeamPhase): void {
  if (!canTransitionTeam(from, to)) {
    throw new InvalidTransitionError({ kind: "team" }, from, to, TEAM_TRANSITIONS[from]);
  }
}

export function assertAgentTransition(agent: string, from: AgentPhase, to: AgentPhase): void {
  if (!canTransitionAgent(from, to)) {
    throw new InvalidTransitionError({ kind: "agent", agent }, from, to, AGENT_TRANSITIONS[from]);
  }
}

/** `assertTransition` for either table; throws InvalidTransitionError with the allowed targets. */
export function assertTransition(subject: TransitionSubject, from: string, to: string): void {
  if (subject.kind === "team") {
    if (!isTeamPhase(from) || !isTeamPhase(to)) {
      throw new InvalidTransitionError(subject, from, to, isTeamPhase(from) ? TEAM_TRANSITIONS[from] : []);
    }
    assertTeamTransition(from, to);
    return;
  }
  if (!isAgentPhase(from) || !isAgentPhase(to)) {
    throw new InvalidTransitionError(subject, from, to, isAgentPhase(from) ? AGENT_TRANSITIONS[from] : []);
  }
  assertAgentTransition(subject.agent, from, to);
}
