/**
 * Squadron's scripted agent: a stand-in for `claude -p --output-format stream-json --verbose`
 * that follows a script instead of a model. It takes Claude Code's flags, connects to the stdio
 * MCP servers of `--mcp-config` with the official SDK client, and writes Claude's stream-json,
 * so the real Claude adapter and the real team MCP server run without an API key.
 *
 * Script: the JSON file named by SQUADRON_AGENT_SCRIPT, else the default script for
 * SQUADRON_AGENT_NAME / SQUADRON_AGENT_ROLE / SQUADRON_TEAM_MEMBERS (comma-separated), else a
 * one-step script that reports a little usage.
 */
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { defaultScript } from "./defaults.ts";
import { runScript } from "./engine.ts";
import { loadScriptFile, type ScriptStep } from "./script.ts";
import { loadState, type SessionState, stateDir } from "./state.ts";
import { StreamJsonWriter } from "./stream-json.ts";

export interface ScriptedArgs {
  prompt: string;
  model: string;
  permissionMode: string;
  mcpConfigs: string[];
  resume?: string;
  maxBudgetUsd?: number;
  maxTurns?: number;
}

export function parseClaudeArgs(argv: string[]): ScriptedArgs {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      print: { type: "boolean", short: "p" },
      "output-format": { type: "string" },
      verbose: { type: "boolean" },
      model: { type: "string" },
      "permission-mode": { type: "string" },
      "mcp-config": { type: "string", multiple: true },
      "strict-mcp-config": { type: "boolean" },
      // Accepted as Claude Code accepts it; the scripted agent asks no permissions, so it has no effect.
      allowedTools: { type: "string", multiple: true },
      "append-system-prompt": { type: "string" },
      "max-budget-usd": { type: "string" },
      "max-turns": { type: "string" },
      resume: { type: "string", short: "r" },
      "session-id": { type: "string" },
    },
  });
  if (!values.print) throw new Error("The scripted agent runs headless only: pass -p.");
  if (values["output-format"] !== "stream-json") {
    throw new Error("The scripted agent writes stream-json only: pass --output-format stream-json.");
  }
  if (!values.verbose)
    throw new Error("--output-format=stream-json requires --verbose (as Claude Code does).");
  const budget = values["max-budget-usd"];
  const turns = values["max-turns"];
  return {
    prompt: positionals.join(" "),
    model: values.model ?? "claude-sonnet-4-5",
    permissionMode: values["permission-mode"] ?? "default",
    mcpConfigs: values["mcp-config"] ?? [],
    ...(values.resume ? { resume: values.resume } : {}),
    ...(budget !== undefined ? { maxBudgetUsd: Number(budget) } : {}),
    ...(turns !== undefined ? { maxTurns: Number(turns) } : {}),
  };
}

async function scriptFromEnv(env: NodeJS.ProcessEnv): Promise<ScriptStep[]> {
  if (env.SQUADRON_AGENT_SCRIPT) return loadScriptFile(env.SQUADRON_AGENT_SCRIPT);
  if (env.SQUADRON_AGENT_NAME && env.SQUADRON_AGENT_ROLE) {
    return defaultScript({
      name: env.SQUADRON_AGENT_NAME,
      role: env.SQUADRON_AGENT_ROLE === "lead" ? "lead" : "teammate",
      members: (env.SQUADRON_TEAM_MEMBERS ?? "").split(",").filter(Boolean),
      ...(env.SQUADRON_LEAD_NAME ? { lead: env.SQUADRON_LEAD_NAME } : {}),
      coding: env.SQUADRON_TEAM_MODE !== "cowork",
      ...(env.SQUADRON_OUTPUT_DIR ? { outputDir: env.SQUADRON_OUTPUT_DIR } : {}),
      ...(env.SQUADRON_DECLARED_OUTPUTS
        ? { declaredOutputs: env.SQUADRON_DECLARED_OUTPUTS.split("\n").filter(Boolean) }
        : {}),
    });
  }
  return [{ usage: { inputTokens: 100, outputTokens: 20 } }, { say: "Scripted agent: nothing to do." }];
}

async function main(): Promise<number> {
  let args: ScriptedArgs;
  try {
    args = parseClaudeArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    return 1;
  }
  const cwd = process.cwd();
  const dir = stateDir(cwd);
  let state: SessionState;
  if (args.resume) {
    const found = await loadState(dir, args.resume);
    if (!found) {
      // Claude Code's own answer to an unknown session, as a result line.
      const out = new StreamJsonWriter(args.resume, args.model);
      out.result({
        subtype: "error_during_execution",
        resultText: `No conversation found with session ID: ${args.resume}`,
        numTurns: 0,
        durationMs: 0,
        usage: {
          inputTokens: 0,
          outputTokens: 0,
          cacheReadInputTokens: 0,
          cacheCreationInputTokens: 0,
          costUSD: 0,
        },
      });
      return 1;
    }
    state = found;
  } else {
    state = {
      sessionId: randomUUID(),
      steps: await scriptFromEnv(process.env),
      position: 0,
      vars: {},
      turns: 0,
    };
  }
  return runScript({ args, state, stateDir: dir, cwd, env: process.env });
}

// Exit explicitly: MCP client transports or a signal handler must not keep the process alive
// after the result (stdout is a pipe, written synchronously on POSIX, so nothing is lost).
main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`scripted agent failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
