import { appendFile, mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { artifactName, producerOutput, stagedRelativePath } from "../../core/manifest/artifacts.ts";
import type { AgentSpec, AgentTeam } from "../../core/manifest/types.ts";
import {
  ArtifactError,
  checkOutputs,
  releaseStagedDirs,
  stageArtifact,
} from "../../core/run-files/artifacts.ts";
import { agentWorkdir, runLayout } from "../../core/run-files/layout.ts";
import type { ArtifactStatus } from "../../core/status/types.ts";
import { git } from "../workspace/git.ts";

/**
 * kagents v0.8 artifact routing in the runner: a consumer's inputs are staged before its agent
 * starts; a producer's declared outputs are checked (and recorded in `status.artifacts`) when its
 * session ends well. The ordering itself (a consumer waits for its producers) is the control
 * plane's: `inputs[].from` is part of core/manifest/pipeline.ts effectiveDependsOn.
 */

/** What the runner records about artifacts (the team store in AWS and locally; absent in unit tests). */
export interface ArtifactSink {
  recordArtifacts?(artifacts: ArtifactStatus[]): Promise<void>;
  recordDelivery?(
    producedBy: string,
    name: string,
    delivery: ArtifactStatus["deliveredTo"][number],
  ): Promise<void>;
  warn?(reason: string, message: string): Promise<void>;
}

export const OUTPUT_MISSING = "OutputMissing";
export const ARTIFACT_UNAVAILABLE = "ArtifactUnavailable";

function workdirOf(runDir: string, team: AgentTeam, name: string): string {
  const agent = [team.spec.lead, ...team.spec.teammates].find((a) => a.name === name);
  if (!agent) throw new ArtifactError(`${name} is not an agent of this team`);
  return agentWorkdir(runLayout(runDir), team, agent);
}

/**
 * Copies every input of `agent` from its producer into place. Throws ArtifactError (the agent
 * must not start) when a producer's artifact is missing, a link, or cannot be staged.
 */
export async function stageInputs(
  runDir: string,
  team: AgentTeam,
  agent: AgentSpec,
  sink: ArtifactSink,
): Promise<void> {
  const inputs = agent.inputs ?? [];
  if (inputs.length === 0) return;
  const consumerWorkdir = workdirOf(runDir, team, agent.name);
  for (const input of inputs) {
    const output = producerOutput(team.spec, input);
    if (!output) throw new ArtifactError(`${input.from} declares no output named "${input.artifact}"`);
    let staged: { size: number };
    try {
      staged = await stageArtifact({
        producerWorkdir: workdirOf(runDir, team, input.from),
        output,
        consumerWorkdir,
        input,
      });
    } catch (error) {
      if (error instanceof ArtifactError)
        throw new ArtifactError(
          `Cannot stage ${input.from}'s "${input.artifact}" at ${input.mountPath}: ${error.message}`,
        );
      throw error;
    }
    if (team.spec.mode === "coding") await excludeFromCommits(consumerWorkdir, stagedRelativePath(input));
    await sink.recordDelivery?.(input.from, input.artifact, {
      consumer: agent.name,
      mountPath: input.mountPath,
      size: staged.size,
      deliveredAt: new Date().toISOString(),
    });
  }
}

/**
 * A coding consumer's staged copy is in its git worktree: the runner commits what an agent leaves
 * uncommitted (runner/finalize/merge.ts), so the copy is listed in the repository's
 * `info/exclude` (shared by the run's worktrees; a pattern anchored at the worktree's root).
 */
async function excludeFromCommits(worktree: string, relative: string): Promise<void> {
  const excludeFile = (
    await git(["rev-parse", "--path-format=absolute", "--git-path", "info/exclude"], { cwd: worktree })
  ).trim();
  const line = `/${relative}`;
  const current = await readFile(excludeFile, "utf8").catch(() => "");
  if (current.split("\n").includes(line)) return;
  await mkdir(dirname(excludeFile), { recursive: true });
  await appendFile(excludeFile, `${current === "" || current.endsWith("\n") ? "" : "\n"}${line}\n`);
}

/** Makes the consumer's mount directories writable again once it has ended. */
export async function releaseInputs(runDir: string, team: AgentTeam, agent: AgentSpec): Promise<void> {
  if (!agent.inputs?.length) return;
  await releaseStagedDirs(workdirOf(runDir, team, agent.name), agent.inputs);
}

/**
 * Checks a producer's declared outputs when its session ended well: all present (regular files,
 * no link) → recorded in `status.artifacts`; any missing → a failure reason and message for the
 * agent, and a Warning event. Returns undefined when nothing is missing.
 */
export async function checkDeclaredOutputs(
  runDir: string,
  team: AgentTeam,
  agent: AgentSpec,
  sink: ArtifactSink,
): Promise<{ reason: string; message: string } | undefined> {
  const outputs = agent.outputs ?? [];
  if (outputs.length === 0) return undefined;
  const { found, missing } = await checkOutputs(workdirOf(runDir, team, agent.name), outputs);
  if (missing.length > 0) {
    const message = `${agent.name} ended without its declared outputs: ${missing.join("; ")}.`;
    await sink.warn?.(OUTPUT_MISSING, message).catch(() => {});
    return { reason: OUTPUT_MISSING, message };
  }
  const at = new Date().toISOString();
  await sink.recordArtifacts?.(
    found.map(({ output, size }) => ({
      name: artifactName(output),
      path: output.path,
      producedBy: agent.name,
      producedAt: at,
      size,
      ...(output.description ? { description: output.description } : {}),
      deliveredTo: [],
    })),
  );
  return undefined;
}
