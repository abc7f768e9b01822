import type { AgentPhase, TeamPhase } from "../status/phases.ts";
import { canTransitionAgent, canTransitionTeam } from "../status/phases.ts";
import type { TeamStatus } from "../status/types.ts";

/**
 * The transition tables allow one step per write. These helpers find the happy-path steps
 * (e.g. Running → Finalizing → Completed) so a caller can reach a target with a few writes
 * when intermediate reports (a runner's "Running") never arrived.
 */
const TEAM_PATH: TeamPhase[] = ["Pending", "Initializing", "Running", "Finalizing", "Completed"];
const AGENT_PATH: AgentPhase[] = [
  "Pending",
  "WaitingForDependencies",
  "PendingApproval",
  "Starting",
  "Running",
];

export function teamSteps(from: TeamPhase, to: TeamPhase): TeamPhase[] {
  if (canTransitionTeam(from, to)) return from === to ? [] : [to];
  const i = TEAM_PATH.indexOf(from);
  for (let j = i + 1; i >= 0 && j < TEAM_PATH.length; j++) {
    const mid = TEAM_PATH[j] as TeamPhase;
    if (canTransitionTeam(from, mid) && canTransitionTeam(mid, to)) return [mid, to];
    if (canTransitionTeam(from, mid)) {
      const rest = teamSteps(mid, to);
      if (rest.length > 0) return [mid, ...rest];
    }
  }
  return [];
}

/** Whether `agent` can move to `to` in one write; otherwise the intermediate to write first. */
export function agentStep(from: AgentPhase, to: AgentPhase): AgentPhase | undefined {
  if (canTransitionAgent(from, to)) return to;
  for (const mid of AGENT_PATH) if (canTransitionAgent(from, mid) && canTransitionAgent(mid, to)) return mid;
  return undefined;
}

/** A team that is still Initializing is Running once any agent does anything. */
export function markTeamRunning(status: TeamStatus): void {
  if (status.phase === "Initializing") status.phase = "Running";
}
