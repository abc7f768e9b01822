import { existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { ArtifactError } from "../../core/run-files/artifacts.ts";
import { agentWorkdir, runLayout } from "../../core/run-files/layout.ts";
import { ProtocolError } from "../../core/team-protocol/errors.ts";
import { Team } from "../../core/team-protocol/team.ts";
import { adapterFor } from "../adapters/index.ts";
import type { TurnInput } from "../adapters/types.ts";
import type { RunnerConfig } from "../config/env.ts";
import { ConfigError } from "../config/exit-codes.ts";
import { findAgent, type RunManifest } from "../config/manifest.ts";
import type { RunnerServices } from "../config/services.ts";
import type { Logger } from "../reporting/logger.ts";
import { writeAgentOutcome } from "../reporting/outcome-file.ts";
import { type AgentStateSink, NoStoreSink, TeamStoreSink } from "../reporting/store-sink.ts";
import { prepareAgentSetup } from "./agent-setup.ts";
import { ARTIFACT_UNAVAILABLE, checkDeclaredOutputs, releaseInputs, stageInputs } from "./artifacts.ts";
import { exitCodeOf, phaseOf, runSession, type SessionOutcome } from "./loop.ts";

export interface AgentModeInput {
  config: RunnerConfig;
  manifest: RunManifest;
  services: RunnerServices;
  signal: AbortSignal;
  log: Logger;
  /** Files next to the bundled entrypoint (the container image), when running from dist/. */
  bundled?: { teamServerEntry?: string; scriptedExecutable?: string };
  onTurnStart?: (turn: number, input: TurnInput) => void;
}

/** The runner's `agent` mode: one agent's session from registration to its recorded outcome. */
export async function runAgentMode(input: AgentModeInput): Promise<SessionOutcome> {
  const { config, manifest, services, log } = input;
  const team = manifest.team;
  const agent = findAgent(team, config.agentName ?? "");
  const protocol = new Team(config.teamDir);
  try {
    await protocol.member(agent.name);
  } catch (error) {
    if (error instanceof ProtocolError) {
      throw new ConfigError(`Agent ${agent.name} cannot join the team: ${error.message}`);
    }
    throw error;
  }
  const cwd = agentWorkdir(runLayout(config.teamDir), team, agent);
  if (
    !(await stat(cwd).then(
      (s) => s.isDirectory(),
      () => false,
    ))
  ) {
    throw new ConfigError(
      `The agent's working directory ${cwd} does not exist: run the runner's init mode first.`,
    );
  }

  const sink: AgentStateSink = services.store
    ? new TeamStoreSink(services.store, team.metadata, agent.name, config.runId)
    : new NoStoreSink();
  const executable =
    config.agentExecutable ??
    (agent.cli === "scripted" &&
    input.bundled?.scriptedExecutable &&
    existsSync(input.bundled.scriptedExecutable)
      ? input.bundled.scriptedExecutable
      : undefined);
  const adapter = adapterFor(agent.cli, {
    ...(executable ? { executable } : {}),
    // On the team's file system (EFS in AWS), next to the session record, so a relaunched runner
    // (another container) finds the CLI's session and resumes it.
    stateDir: join(config.teamDir, "team", "cli-home", agent.name),
  });
  // kagents v0.8 inputs: the producers have succeeded (the control plane released this agent);
  // their artifacts are copied into place before the agent's CLI ever runs.
  try {
    await stageInputs(config.teamDir, team, agent, sink);
  } catch (error) {
    await releaseInputs(config.teamDir, team, agent).catch(() => {});
    if (!(error instanceof ArtifactError)) throw error;
    return artifactFailure(config.teamDir, agent, sink, log, error.message);
  }
  const setup = await prepareAgentSetup({
    team,
    agent,
    runId: config.runId,
    teamDir: config.teamDir,
    env: process.env,
    ...(input.bundled?.teamServerEntry ? { teamServerEntry: input.bundled.teamServerEntry } : {}),
  });
  let outcome: SessionOutcome;
  try {
    outcome = await runSession({
      team: protocol,
      spec: team,
      agent,
      runId: config.runId,
      cwd,
      adapter,
      mcp: setup.mcp,
      cliEnv: setup.cliEnv,
      sink,
      timings: config.timings,
      ...(team.spec.lifecycle.budgetLimit !== undefined
        ? { budgetUsd: team.spec.lifecycle.budgetLimit }
        : {}),
      signal: input.signal,
      log,
      ...(input.onTurnStart ? { onTurnStart: input.onTurnStart } : {}),
      checkSuccess: () => checkDeclaredOutputs(config.teamDir, team, agent, sink),
    });
  } finally {
    await setup.cleanup().catch(() => {});
    await releaseInputs(config.teamDir, team, agent).catch(() => {});
  }
  await writeAgentOutcome(config.teamDir, {
    agent: agent.name,
    role: agent.role,
    model: outcome.lastResult?.model ?? agent.model,
    phase: phaseOf(outcome.end),
    reason: outcome.reason,
    message: outcome.message,
    usage: outcome.usage,
  }).catch((error: unknown) =>
    log.warn("Could not write the agent's outcome file", { error: String(error) }),
  );
  return outcome;
}

/** An input could not be staged: the agent never starts; its failure is recorded like a session's. */
async function artifactFailure(
  teamDir: string,
  agent: { name: string; role: "lead" | "teammate"; model: string },
  sink: AgentStateSink,
  log: Logger,
  message: string,
): Promise<SessionOutcome> {
  log.error(message, { reason: ARTIFACT_UNAVAILABLE });
  const usage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0 };
  const outcome: SessionOutcome = {
    end: "failed",
    ok: false,
    reason: ARTIFACT_UNAVAILABLE,
    message,
    turns: 0,
    usage,
  };
  await sink.warn?.(ARTIFACT_UNAVAILABLE, message).catch(() => {});
  await sink
    .setPhase("Failed", { reason: ARTIFACT_UNAVAILABLE, message, exitCode: exitCodeOf(outcome) })
    .catch((error: unknown) => log.warn("Could not record the agent as Failed", { error: String(error) }));
  await writeAgentOutcome(teamDir, {
    agent: agent.name,
    role: agent.role,
    model: agent.model,
    phase: "Failed",
    reason: ARTIFACT_UNAVAILABLE,
    message,
    usage,
  }).catch(() => {});
  return outcome;
}
