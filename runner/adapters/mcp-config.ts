import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { McpServerSpec } from "../../core/manifest/types.ts";
import type { McpConfigFile, McpServerEntry, TurnMcp } from "./types.ts";

/** The name the runner gives its own coordination server; agents' servers may not take it. */
export const TEAM_SERVER_NAME = "team";

export interface StdioServer {
  command: string;
  args: string[];
  env?: Record<string, string>;
}

export interface BuildMcpConfigInput {
  teamServer: StdioServer;
  servers: McpServerSpec[];
  /** Secret name → value, resolved by the runner (Secrets Manager in AWS, env locally). */
  secretValues: Record<string, string>;
  /**
   * "env" (default): headers hold `${VAR}` and the values travel in the CLI's environment, so the
   * file on disk never contains a secret (Claude Code expands `${VAR}` in url and headers).
   * "inline": values are written into the file (for CLIs that do not expand variables).
   */
  secretsVia?: "env" | "inline";
}

export interface BuiltMcpConfig {
  config: McpConfigFile;
  /** Variables the config references; pass them to the CLI's environment. */
  env: Record<string, string>;
}

/** Environment variable that carries one server's auth header value. */
export function secretEnvName(serverName: string): string {
  return `SQUADRON_MCP_SECRET_${serverName.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

/** Builds the `mcpServers` config of one agent: the team server plus its remote servers. */
export function buildMcpConfig(input: BuildMcpConfigInput): BuiltMcpConfig {
  const via = input.secretsVia ?? "env";
  const mcpServers: Record<string, McpServerEntry> = {
    [TEAM_SERVER_NAME]: {
      type: "stdio",
      command: input.teamServer.command,
      args: [...input.teamServer.args],
      ...(input.teamServer.env ? { env: { ...input.teamServer.env } } : {}),
    },
  };
  const env: Record<string, string> = {};
  for (const server of input.servers) {
    if (server.name === TEAM_SERVER_NAME) {
      throw new Error(
        `MCP server name "${TEAM_SERVER_NAME}" is reserved for Squadron's team server; rename the agent's server.`,
      );
    }
    if (Object.hasOwn(mcpServers, server.name)) {
      throw new Error(`MCP server "${server.name}" is listed twice; server names must be unique.`);
    }
    const entry: McpServerEntry = { type: server.transport, url: server.url };
    if (server.authSecret) {
      const value = Object.hasOwn(input.secretValues, server.authSecret)
        ? input.secretValues[server.authSecret]
        : undefined;
      if (value === undefined) {
        throw new Error(
          `MCP server "${server.name}" needs secret "${server.authSecret}", but the runner was given no value for it.`,
        );
      }
      if (via === "env") {
        const name = secretEnvName(server.name);
        env[name] = value;
        entry.headers = { [server.authHeader]: `\${${name}}` };
      } else {
        entry.headers = { [server.authHeader]: value };
      }
    }
    mcpServers[server.name] = entry;
  }
  return { config: { mcpServers }, env };
}

export interface WrittenMcpConfig {
  mcp: TurnMcp;
  /** Deletes the private directory holding the file. */
  cleanup(): Promise<void>;
}

/**
 * Writes the config into a fresh private directory (0700, file 0600) so that even an inline
 * secret is readable only by the runner's user, and is removed by `cleanup`.
 */
export async function writeMcpConfig(
  built: BuiltMcpConfig,
  parentDir: string = tmpdir(),
): Promise<WrittenMcpConfig> {
  const dir = await mkdtemp(join(parentDir, "squadron-mcp-"));
  const path = join(dir, "mcp.json");
  await writeFile(path, `${JSON.stringify(built.config, null, 2)}\n`, { mode: 0o600 });
  return {
    mcp: { path, config: built.config, env: { ...built.env } },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
