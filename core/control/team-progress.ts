import { isFinishedAgentPhase } from "../status/phases.ts";
import type { AgentStatus } from "../status/types.ts";
import type { TeamRunRecord } from "../store/items.ts";

/** The lead's (and the team's) reason when a teammate failed for good and the team cannot proceed. */
export const TEAMMATE_FAILED = "TeammateFailed";

/** Agent reasons that are a consequence of something else, not the agent's own failure. */
const CONSEQUENTIAL_REASONS: ReadonlySet<string> = new Set([
  "DependencyFailed",
  "ApprovalDenied",
  "RunEnded",
]);

export interface FailedTeammate {
  name: string;
  reason: string;
  message: string;
  /** Restarts it had (all of them: it will not be started again). */
  restarts: number;
}

export interface TeammateProgress {
  /** Teammates that failed on their own and will not be restarted. */
  failedForGood: FailedTeammate[];
  /** Teammates that will never run because something upstream failed or a gate was denied. */
  neverStarted: string[];
  /** Teammates still running, starting, waiting for dependencies or an approval. */
  live: string[];
}

/**
 * A teammate's Failed is final once its restarts are used up: the runner records Failed before the
 * control plane decides on a restart (which moves it back to Starting), so a Failed with restarts
 * left is a moment between attempts, not an end.
 */
function failedForGood(agent: AgentStatus, maxRestarts: number): boolean {
  if (agent.phase !== "Failed") return false;
  return agent.restarts >= maxRestarts || CONSEQUENTIAL_REASONS.has(agent.reason ?? "");
}

/** Where the teammates of a run stand, read from its record (the store's view, not the team files). */
export function teammateProgress(record: TeamRunRecord): TeammateProgress {
  const maxRestarts = record.team.spec.lifecycle.maxRestarts;
  const progress: TeammateProgress = { failedForGood: [], neverStarted: [], live: [] };
  for (const spec of record.team.spec.teammates) {
    const agent = record.status.agents[spec.name];
    if (!agent) continue;
    if (agent.phase === "Failed" && !failedForGood(agent, maxRestarts)) {
      progress.live.push(spec.name); // between two attempts
    } else if (agent.phase === "Failed" && CONSEQUENTIAL_REASONS.has(agent.reason ?? "")) {
      progress.neverStarted.push(spec.name);
    } else if (agent.phase === "Failed") {
      progress.failedForGood.push({
        name: spec.name,
        reason: agent.reason ?? "AgentFailed",
        message: agent.message ?? "",
        restarts: agent.restarts,
      });
    } else if (!isFinishedAgentPhase(agent.phase)) {
      progress.live.push(spec.name);
    }
  }
  return progress;
}

/**
 * The team cannot proceed when a teammate failed for good and no teammate is left that could still
 * do anything: the lead would wait for work that never comes (until the run's timeout).
 */
export function cannotProceed(progress: TeammateProgress): boolean {
  return progress.failedForGood.length > 0 && progress.live.length === 0;
}

/** Why, in one sentence a person reads in `describe` (the team's message) and the lead in its inbox. */
export function cannotProceedMessage(progress: TeammateProgress): string {
  const failed = progress.failedForGood
    .map(
      (f) => `${f.name} failed for good after ${f.restarts} restart(s)${f.message ? ` (${f.message})` : ""}`,
    )
    .join("; ");
  const never = progress.neverStarted.length
    ? ` ${progress.neverStarted.join(", ")} will never start (${progress.neverStarted.length === 1 ? "its dependency failed or its gate was denied" : "their dependencies failed or their gates were denied"}).`
    : "";
  return `Teammate ${failed}.${never} No teammate is left running, so the team cannot proceed.`;
}
