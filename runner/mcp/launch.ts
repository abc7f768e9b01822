import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { LEAN_V8_FLAGS } from "../lean-v8-flags.ts";

/** How to start the team MCP server as a child process (the shape of an MCP config entry). */
export interface TeamServerLaunch {
  command: string;
  args: string[];
  env: Record<string, string>;
}

export interface TeamServerLaunchOptions {
  teamDir: string;
  agentName: string;
  runId: string;
  /** Defaults to SQUADRON_TEAM_MCP_ENTRY, else runner/mcp/team-server.ts in this checkout. */
  entry?: string;
  /** Defaults to the node running this process. */
  node?: string;
  /** Extra variables (e.g. PATH) for the server's environment. */
  env?: Record<string, string>;
}

const SOURCE_ENTRY = join(dirname(fileURLToPath(import.meta.url)), "team-server.ts");

/**
 * The command, args and env that start the team server for one agent. In the container image
 * SQUADRON_TEAM_MCP_ENTRY points at the bundled JS file; from the repository the TypeScript
 * entry runs through tsx, loaded by absolute path so the CLI may start it from any directory
 * (an agent's worktree has no node_modules).
 */
export function teamServerLaunch(options: TeamServerLaunchOptions): TeamServerLaunch {
  const entry = resolve(options.entry ?? process.env.SQUADRON_TEAM_MCP_ENTRY ?? SOURCE_ENTRY);
  // Bundled, it runs lean like the runner (runner/lean-v8-flags.ts): one server per agent.
  const args = entry.endsWith(".ts") ? ["--import", tsxLoaderUrl(), entry] : [...LEAN_V8_FLAGS, entry];
  return {
    command: options.node ?? process.execPath,
    args,
    env: {
      ...options.env,
      SQUADRON_TEAM_DIR: resolve(options.teamDir),
      SQUADRON_AGENT_NAME: options.agentName,
      SQUADRON_RUN_ID: options.runId,
    },
  };
}

/** An MCP config entry for Claude Code's `--mcp-config` ({"mcpServers": {name: entry}}). */
export function teamServerMcpConfigEntry(
  options: TeamServerLaunchOptions,
): TeamServerLaunch & { type: "stdio" } {
  return { type: "stdio", ...teamServerLaunch(options) };
}

function tsxLoaderUrl(): string {
  return pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
}
