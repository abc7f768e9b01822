/**
 * Entry point of the team MCP server, started by the agent CLI as a stdio child process
 * (see launch.ts for the command). Configured by the environment:
 *   SQUADRON_TEAM_DIR    the run's team directory (EFS mount or local directory)
 *   SQUADRON_AGENT_NAME  the agent whose tools these are
 *   SQUADRON_RUN_ID      the run id (informational; checked against team/config.json)
 * stdout carries the protocol, so diagnostics go to stderr only.
 */
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { Team } from "../../core/team-protocol/team.ts";
import { createTeamMcpServer } from "./team-tools.ts";

async function main(): Promise<void> {
  const teamDir = process.env.SQUADRON_TEAM_DIR;
  const agent = process.env.SQUADRON_AGENT_NAME;
  const runId = process.env.SQUADRON_RUN_ID;
  const missing = [
    teamDir ? undefined : "SQUADRON_TEAM_DIR",
    agent ? undefined : "SQUADRON_AGENT_NAME",
  ].filter(Boolean);
  if (!teamDir || !agent) {
    process.stderr.write(
      `squadron team MCP server: missing environment variable(s) ${missing.join(", ")}.\n`,
    );
    process.exit(2);
  }
  const server = createTeamMcpServer({ team: new Team(teamDir), agent, ...(runId ? { runId } : {}) });
  const transport = new StdioServerTransport();
  await server.connect(transport);
  // The CLI closes our stdin when it exits; do not linger as an orphan.
  process.stdin.on("close", () => {
    void server.close().finally(() => process.exit(0));
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`squadron team MCP server failed: ${error instanceof Error ? error.stack : error}\n`);
  process.exit(1);
});
