import type { AgentTeam } from "../../core/manifest/types.ts";
import { warningEvent } from "../../core/status/status.ts";
import type { TeamStore } from "../../core/store/team-store.ts";
import type { RunnerConfig } from "../config/env.ts";
import type { RunManifest } from "../config/manifest.ts";
import type { RunnerServices } from "../config/services.ts";
import { finalize } from "../finalize/finalize.ts";
import type { AgentOutcome } from "../finalize/report.ts";
import { errorMessage, type Logger } from "../reporting/logger.ts";
import { readAgentOutcomes } from "../reporting/outcome-file.ts";

export interface FinalizeModeInput {
  config: RunnerConfig;
  manifest: RunManifest;
  services: RunnerServices;
  log: Logger;
  /** Aborted when the runner is told to stop (SIGTERM): quality gates are ended with their children. */
  signal?: AbortSignal;
}

/**
 * What each agent did and cost: from the store when one is attached (its atomic usage totals
 * are authoritative), else from the outcome files the agent runners left in the team directory.
 */
export async function measuredOutcomes(
  team: AgentTeam,
  teamDir: string,
  runId: string,
  store: TeamStore | undefined,
  log: Logger,
): Promise<AgentOutcome[]> {
  const agents = [team.spec.lead, ...team.spec.teammates];
  const files = new Map((await readAgentOutcomes(teamDir)).map((f) => [f.agent, f]));
  let stored: Awaited<ReturnType<TeamStore["findRun"]>>;
  if (store) {
    stored = await store.findRun(team.metadata).catch((error: unknown) => {
      log.warn("Could not read measured usage from the store; using the runners' outcome files", {
        error: errorMessage(error),
      });
      return undefined;
    });
    if (stored && stored.runId !== runId) stored = undefined;
  }
  return agents.map((agent) => {
    const fromStore = stored?.status.agents[agent.name];
    const file = files.get(agent.name);
    const usage = fromStore ?? file?.usage;
    return {
      name: agent.name,
      role: agent.role,
      phase: fromStore?.phase ?? file?.phase ?? "Unknown",
      costUsd: usage?.costUsd ?? 0,
      model: file?.model ?? agent.model,
      inputTokens: usage?.inputTokens ?? 0,
      outputTokens: usage?.outputTokens ?? 0,
    };
  });
}

/** The runner's `finalize` mode: gates, merge, push, pull request, notification (runner/finalize). */
export async function runFinalizeMode(input: FinalizeModeInput) {
  const { config, manifest, services, log } = input;
  const team = manifest.team;
  const agents = await measuredOutcomes(team, config.teamDir, config.runId, services.store, log);
  const [owner, repo] = config.githubRepository?.split("/") ?? [];
  const result = await finalize({
    runDir: config.teamDir,
    team,
    runId: config.runId,
    agents,
    ...(owner && repo ? { github: { owner, repo } } : {}),
    log: (line) => log.info(line),
    ...(input.signal ? { signal: input.signal } : {}),
  });
  if (!result.ok) log.error("Finalize failed", { error: result.error });
  await reportFallbackCommits(result.fallbackCommits ?? [], { config, manifest, services, log });
  return {
    ok: result.ok,
    action: result.action,
    branch: result.branch ?? null,
    pushed: result.pushed,
    merged: result.merged,
    commits: result.commits.length,
    pullRequestUrl: result.pullRequestUrl ?? null,
    costUsd: result.costUsd,
    agents,
    ...(result.conflicts?.length ? { conflicts: result.conflicts } : {}),
    ...(result.scopeViolations?.length ? { scopeViolations: result.scopeViolations } : {}),
    ...(result.fallbackCommits?.length ? { fallbackCommits: result.fallbackCommits } : {}),
    gates: result.gates.map((g) => ({ ...g, output: undefined })),
    ...(result.outputs
      ? { outputs: { mountPath: result.outputs.mountPath, files: result.outputs.files.length } }
      : {}),
    ...(result.error ? { error: result.error } : {}),
  };
}

/** The event message for work the runner had to commit on an agent's behalf. */
export function fallbackCommitMessage(commit: { agent: string; sha: string; files: string[] }): string {
  const shown = commit.files.slice(0, 5).join(", ");
  const more = commit.files.length > 5 ? ` and ${commit.files.length - 5} more` : "";
  return (
    `${commit.agent} left ${commit.files.length} file(s) uncommitted (${shown}${more}); the runner ` +
    `committed them for it (${commit.sha.slice(0, 8)}) so the work is not lost. The agent did not ` +
    "commit its own work: check its logs for refused or failed git commands."
  );
}

/**
 * A fallback commit is never silent: a Warning event per agent on the run (the store is there in
 * AWS and in local mode; without one the log line and the result carry it).
 */
async function reportFallbackCommits(
  commits: { agent: string; sha: string; files: string[] }[],
  { config, manifest, services, log }: FinalizeModeInput,
): Promise<void> {
  for (const commit of commits) {
    const message = fallbackCommitMessage(commit);
    log.warn(message, { agent: commit.agent, commit: commit.sha });
    if (!services.store) continue;
    const { name, namespace } = manifest.team.metadata;
    await services.store
      .appendEvent(
        { name, namespace, runId: config.runId },
        warningEvent("RunnerCommitted", message, { agent: commit.agent }),
      )
      .catch((error: unknown) =>
        log.warn("Could not record the fallback commit event", { error: errorMessage(error) }),
      );
  }
}
