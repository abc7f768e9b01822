import { writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { workspaceRelativePath } from "../../core/manifest/artifacts.ts";
import type { AgentSpec, AgentTeam } from "../../core/manifest/types.ts";
import { mountPathInWorkspace } from "../../core/run-files/layout.ts";
import { buildMcpConfig, writeMcpConfig } from "../adapters/mcp-config.ts";
import type { TurnMcp } from "../adapters/types.ts";
import { ConfigError } from "../config/exit-codes.ts";
import { teamServerLaunch } from "../mcp/launch.ts";
import { DEFAULT_OUTPUT_MOUNT_PATH } from "../workspace/cowork.ts";

export interface AgentSetupInput {
  team: AgentTeam;
  agent: AgentSpec;
  runId: string;
  teamDir: string;
  /** Where secrets are looked up (ECS injects Secrets Manager values as environment variables). */
  env: NodeJS.ProcessEnv;
  /** The team MCP server's entry (the bundled JS in the image); defaults to the launcher's. */
  teamServerEntry?: string;
}

export interface AgentSetup {
  mcp: TurnMcp;
  /** Extra environment for every turn of the CLI. */
  cliEnv: Record<string, string>;
  /** Removes the private directory with the MCP config (and the script). */
  cleanup(): Promise<void>;
}

/** Environment variable holding a secret's value: the secret's name as is, or SQUADRON_SECRET_<NAME>. */
export function secretVariable(secretName: string): string {
  return `SQUADRON_SECRET_${secretName.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

export function resolveSecrets(agent: AgentSpec, env: NodeJS.ProcessEnv): Record<string, string> {
  const values: Record<string, string> = {};
  for (const server of agent.mcpServers) {
    const name = server.authSecret;
    if (!name) continue;
    const value = env[secretVariable(name)] ?? env[name];
    if (value === undefined) {
      throw new ConfigError(
        `MCP server "${server.name}" of agent ${agent.name} needs secret "${name}": give its value to the runner as ${secretVariable(name)} (ECS: a task-definition secret).`,
      );
    }
    values[name] = value;
  }
  return values;
}

/**
 * Materialises what every turn of one agent needs: its MCP config (the team server plus the
 * spec's servers, secrets only as `${VAR}` references) in a private directory, and the CLI's
 * extra environment (for the scripted agent: who it is, its team and its script).
 */
export async function prepareAgentSetup(input: AgentSetupInput): Promise<AgentSetup> {
  const { team, agent, runId } = input;
  const launch = teamServerLaunch({
    teamDir: input.teamDir,
    agentName: agent.name,
    runId,
    ...(input.teamServerEntry ? { entry: input.teamServerEntry } : {}),
  });
  let built: ReturnType<typeof buildMcpConfig>;
  try {
    built = buildMcpConfig({
      teamServer: launch,
      servers: agent.mcpServers,
      secretValues: resolveSecrets(agent, input.env),
    });
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError((error as Error).message);
  }
  const written = await writeMcpConfig(built);
  const members = [team.spec.lead, ...team.spec.teammates].map((a) => a.name);
  const cliEnv: Record<string, string> = {
    SQUADRON_AGENT_NAME: agent.name,
    SQUADRON_AGENT_ROLE: agent.role,
    SQUADRON_LEAD_NAME: team.spec.lead.name,
    SQUADRON_TEAM_MEMBERS: members.join(","),
    SQUADRON_TEAM_MODE: team.spec.mode,
    SQUADRON_RUN_ID: runId,
  };
  if (team.spec.mode === "cowork") {
    // Where deliverables go, relative to the agent's working directory (the workspace): the
    // scripted agent writes there, as a real agent is told to in its system prompt.
    cliEnv.SQUADRON_OUTPUT_DIR =
      mountPathInWorkspace(team.spec.workspace?.output?.mountPath ?? DEFAULT_OUTPUT_MOUNT_PATH) || ".";
  }
  if (agent.outputs?.length) {
    // For the scripted agent's default script: a simulated producer writes what it declares.
    cliEnv.SQUADRON_DECLARED_OUTPUTS = agent.outputs
      .map((output) => workspaceRelativePath(output.path) ?? "")
      .filter(Boolean)
      .join("\n");
  }
  if (agent.script && agent.script.length > 0) {
    const scriptPath = join(dirname(written.mcp.path), "script.json");
    await writeFile(scriptPath, JSON.stringify(agent.script), { mode: 0o600 });
    cliEnv.SQUADRON_AGENT_SCRIPT = scriptPath;
  }
  return { mcp: written.mcp, cliEnv, cleanup: written.cleanup };
}
