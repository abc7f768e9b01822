import type { McpServerSpec } from "../../core/manifest/types.ts";

/** One entry of Claude Code's `mcpServers` map for a remote server. */
export interface RemoteMcpEntry {
  type: "http" | "sse";
  url: string;
  headers?: Record<string, string>;
}

export interface AgentMcpConfig {
  /** Claude Code's `--mcp-config` shape; safe to write to disk (no secret values in it). */
  config: { mcpServers: Record<string, RemoteMcpEntry> };
  /**
   * Environment variables the CLI needs, by name, with the secret each must hold. The runner
   * resolves the secrets and sets them in the CLI's environment only; Claude Code expands
   * `${VAR}` in `headers` when it reads the config.
   */
  secretEnv: Record<string, string>;
}

/** `SQUADRON_MCP_<NAME>_AUTH`, upper-cased with non-alphanumerics as `_`. */
export function mcpSecretEnvName(serverName: string): string {
  return `SQUADRON_MCP_${serverName.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_AUTH`;
}

/** An agent's remote MCP servers as an MCP config that references its auth secrets by variable. */
export function agentMcpConfig(servers: McpServerSpec[]): AgentMcpConfig {
  const mcpServers: Record<string, RemoteMcpEntry> = {};
  const secretEnv: Record<string, string> = {};
  for (const server of servers) {
    const entry: RemoteMcpEntry = { type: server.transport, url: server.url };
    if (server.authSecret) {
      const name = mcpSecretEnvName(server.name);
      secretEnv[name] = server.authSecret;
      entry.headers = { [server.authHeader]: `\${${name}}` };
    }
    mcpServers[server.name] = entry;
  }
  return { config: { mcpServers }, secretEnv };
}
