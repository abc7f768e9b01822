import type { AgentSpec, AgentTeam } from "../../core/manifest/types.ts";
import { agentWorkdir, type RunLayout, runLayout } from "../../core/run-files/layout.ts";
import type { ObjectStore } from "../../core/run-files/object-store.ts";
import { type CodingWorkspace, excludeFromGit, prepareCodingWorkspace } from "./coding.ts";
import { type CoworkWorkspace, prepareCoworkWorkspace } from "./cowork.ts";
import { redact } from "./git.ts";
import { imagePullSecretValue, materialiseSkills } from "./skills.ts";
import { writeTriggerPayload } from "./trigger-payload.ts";

export interface InitWorkspaceOptions {
  /** The run's directory on the shared file system. */
  runDir: string;
  team: AgentTeam;
  /** Where git tokens are read from (SQUADRON_GIT_TOKEN, GITHUB_TOKEN); defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Source of configMap / s3Prefix inputs and skills (S3 in AWS, a directory locally). */
  store?: ObjectStore;
}

export interface InitWorkspaceResult {
  mode: "coding" | "cowork";
  layout: RunLayout;
  /** Each agent's working directory (the CLI's cwd) and, in coding mode, its branch. */
  agents: { name: string; role: "lead" | "teammate"; cwd: string; branch?: string; skills: string[] }[];
  coding?: CodingWorkspace;
  cowork?: CoworkWorkspace;
  /** Where the trigger fire's payload was written (runs an AgentTeamTrigger created). */
  triggerPayload?: string;
}

/**
 * The runner's `init` mode: prepares the run's workspace once, before any agent starts.
 * Idempotent, so a retried init task does no harm. Errors are redacted of tokens.
 */
export async function initWorkspace(options: InitWorkspaceOptions): Promise<InitWorkspaceResult> {
  const env = options.env ?? process.env;
  try {
    return await prepare(options, env);
  } catch (error) {
    const message = redact(error instanceof Error ? error.message : String(error), env);
    throw new Error(`workspace init failed: ${message}`);
  }
}

async function prepare(options: InitWorkspaceOptions, env: NodeJS.ProcessEnv): Promise<InitWorkspaceResult> {
  const { team } = options;
  const layout = runLayout(options.runDir);
  const all: AgentSpec[] = [team.spec.lead, ...team.spec.teammates];
  const result: InitWorkspaceResult = { mode: team.spec.mode, layout, agents: [] };
  if (team.spec.mode === "coding") {
    result.coding = await prepareCodingWorkspace(layout, team, env);
  } else {
    result.cowork = await prepareCoworkWorkspace(layout, team, options.store);
  }
  const payload = await writeTriggerPayload(layout, team);
  if (payload) result.triggerPayload = payload;
  const pullSecret = imagePullSecretValue(team, env);
  for (const agent of all) {
    const cwd = agentWorkdir(layout, team, agent);
    const skills = await materialiseSkills(cwd, agent.skills, {
      namespace: team.metadata.namespace,
      store: options.store,
      ...(pullSecret ? { pullSecret } : {}),
    });
    if (result.coding && agent.skills.length > 0) {
      await excludeFromGit(
        cwd,
        agent.skills.map((s) => `/.claude/skills/${s.name}/`),
      );
    }
    const branch = result.coding?.checkouts.find((c) => c.agent === agent.name)?.branch;
    result.agents.push({ name: agent.name, role: agent.role, cwd, ...(branch ? { branch } : {}), skills });
  }
  return result;
}
