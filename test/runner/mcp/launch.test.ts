import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { getDefaultEnvironment, StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { build } from "esbuild";
import { afterEach, describe, expect, it } from "vitest";
import { Team } from "../../../core/team-protocol/team.ts";
import { LEAN_V8_FLAGS } from "../../../runner/lean-v8-flags.ts";
import { teamServerLaunch } from "../../../runner/mcp/launch.ts";

const SERVER_SOURCE = join(dirname(fileURLToPath(import.meta.url)), "../../../runner/mcp/team-server.ts");

describe("teamServerLaunch", () => {
  const saved = process.env.SQUADRON_TEAM_MCP_ENTRY;
  afterEach(() => {
    if (saved === undefined) delete process.env.SQUADRON_TEAM_MCP_ENTRY;
    else process.env.SQUADRON_TEAM_MCP_ENTRY = saved;
  });

  it("runs the TypeScript entry through tsx by absolute paths from the repository", () => {
    delete process.env.SQUADRON_TEAM_MCP_ENTRY;
    const launch = teamServerLaunch({ teamDir: "rel/team", agentName: "a", runId: "r" });
    expect(launch.command).toBe(process.execPath);
    expect(launch.args[0]).toBe("--import");
    expect(launch.args[1]).toMatch(/^file:\/\/.*\/tsx\/dist\/loader\.mjs$/);
    expect(launch.args[2]).toBe(SERVER_SOURCE);
    expect(launch.env).toEqual({
      SQUADRON_TEAM_DIR: join(process.cwd(), "rel/team"),
      SQUADRON_AGENT_NAME: "a",
      SQUADRON_RUN_ID: "r",
    });
  });

  it("uses the bundled entry named by SQUADRON_TEAM_MCP_ENTRY, which serves the tools", async () => {
    const outDir = await mkdtemp(join(tmpdir(), "squadron-team-server-"));
    const bundle = join(outDir, "team-server.mjs");
    await build({
      entryPoints: [SERVER_SOURCE],
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      outfile: bundle,
      logLevel: "silent",
    });
    process.env.SQUADRON_TEAM_MCP_ENTRY = bundle;
    const team = new Team(join(outDir, "team"));
    await team.init({
      teamName: "t",
      runId: "r",
      members: [
        { name: "lead", role: "lead", cli: "claude", model: "opus" },
        { name: "dev", role: "teammate", cli: "claude", model: "sonnet" },
      ],
    });
    const launch = teamServerLaunch({ teamDir: team.root, agentName: "lead", runId: "r" });
    // The server an agent's CLI starts runs on the runner's lean V8 flags, and serves its tools.
    expect(launch.args).toEqual([...LEAN_V8_FLAGS, bundle]);

    const client = new Client({ name: "test", version: "1.0.0" });
    await client.connect(
      new StdioClientTransport({
        command: launch.command,
        args: launch.args,
        env: { ...getDefaultEnvironment(), ...launch.env },
        cwd: outDir,
        stderr: "pipe",
      }),
    );
    try {
      const result = await client.callTool({ name: "send_message", arguments: { to: "dev", text: "hi" } });
      expect(result.isError).toBeFalsy();
      expect((await team.readInbox("dev")).map((message) => message.text)).toEqual(["hi"]);
    } finally {
      await client.close();
    }
  });
});
