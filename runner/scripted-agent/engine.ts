import { spawnSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, relative, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { TeamChanges } from "../../core/team-protocol/changes.ts";
import { defaultPriceFn } from "../adapters/prices.ts";
import type { ScriptedArgs } from "./main.ts";
import type { ScriptStep } from "./script.ts";
import { type SessionState, saveState } from "./state.ts";
import { type ModelUsage, StreamJsonWriter } from "./stream-json.ts";
import { McpTools } from "./tools.ts";

export interface RunScriptInput {
  args: ScriptedArgs;
  state: SessionState;
  stateDir: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

class StepFailure extends Error {}

function lookup(path: string, vars: Record<string, unknown>): unknown {
  let value: unknown = vars;
  for (const key of path.split(".")) {
    if (value === null || typeof value !== "object" || !(key in value)) {
      throw new StepFailure(`The script refers to {{${path}}}, but no earlier step saved a value there.`);
    }
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** Replaces `{{a.b}}` in strings; a string that is only a reference keeps the value's type. */
export function render<T>(value: T, vars: Record<string, unknown>): T {
  if (typeof value === "string") {
    const whole = /^\{\{([\w.-]+)\}\}$/.exec(value);
    if (whole?.[1]) return lookup(whole[1], vars) as T;
    return value.replace(/\{\{([\w.-]+)\}\}/g, (_, p: string) => String(lookup(p, vars))) as T;
  }
  if (Array.isArray(value)) return value.map((v) => render(v, vars)) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, render(v, vars)])) as T;
  }
  return value;
}

/** One shell word holding `value` exactly (POSIX single quotes). */
export function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'"'"'`)}'`;
}

/** Like {@link render} for a shell line: each substituted value becomes one quoted word. */
function renderShell(command: string, vars: Record<string, unknown>): string {
  return command.replace(/\{\{([\w.-]+)\}\}/g, (_, p: string) => {
    const value = lookup(p, vars);
    return shellQuote(typeof value === "string" ? value : JSON.stringify(value));
  });
}

function asList(json: unknown, key: string): Array<Record<string, unknown>> {
  if (Array.isArray(json)) return json as Array<Record<string, unknown>>;
  const inner = (json as Record<string, unknown> | undefined)?.[key];
  return Array.isArray(inner) ? (inner as Array<Record<string, unknown>>) : [];
}

/** Runs the script from the session's position until it ends, fails or ends the turn. */
export async function runScript(input: RunScriptInput): Promise<number> {
  const { args, state, cwd, env } = input;
  const started = Date.now();
  const pollMs = Number(env.SQUADRON_SCRIPTED_POLL_MS ?? 250);
  const me = env.SQUADRON_AGENT_NAME;
  const out = new StreamJsonWriter(state.sessionId, args.model);
  const usage: ModelUsage = {
    inputTokens: 0,
    outputTokens: 0,
    cacheReadInputTokens: 0,
    cacheCreationInputTokens: 0,
    costUSD: 0,
  };
  let apiTurns = 0;
  let lastText = "";
  let toolCounter = 0;
  let interrupted = false;
  const interruption = new AbortController();
  const onSignal = () => {
    interrupted = true;
    interruption.abort();
  };
  // Waits re-check the team when its files change (fs.watch on the run's team directory, which the
  // runner's environment names), with SQUADRON_SCRIPTED_POLL_MS as the safety poll; without a team
  // directory they poll as before.
  const changes = env.SQUADRON_TEAM_DIR ? new TeamChanges(env.SQUADRON_TEAM_DIR) : undefined;
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const tools = await McpTools.connect(args.mcpConfigs, env);
  out.init({
    cwd,
    tools: ["Bash", "Write", ...tools.qualifiedNames()],
    mcpServers: tools.serverNames().map((name) => ({ name, status: "connected" })),
    permissionMode: args.permissionMode,
  });
  state.turns += 1;
  const save = () => saveState(input.stateDir, state);

  const end = async (
    subtype: "success" | "error_during_execution" | "error_max_budget_usd" | "error_max_turns",
    text: string,
  ): Promise<number> => {
    await save();
    changes?.close();
    await tools.close();
    out.result({ subtype, resultText: text, numTurns: apiTurns, durationMs: Date.now() - started, usage });
    return subtype === "success" ? 0 : 1;
  };

  const countTurn = (): string | undefined => {
    apiTurns += 1;
    if (args.maxTurns !== undefined && apiTurns > args.maxTurns) {
      return `Reached maximum number of turns (${args.maxTurns})`;
    }
    return undefined;
  };

  const callTool = async (name: string, callArgs: Record<string, unknown>, emit = true) => {
    const result = await tools.call(name, callArgs);
    if (emit) {
      toolCounter += 1;
      const id = `toolu_scripted_${toolCounter}`;
      out.toolUse(id, `mcp__${result.server}__${result.tool}`, callArgs);
      out.toolResult(id, result.text, result.isError);
    }
    return result;
  };

  const waitFor = async (target: string, timeoutMs: number, as?: string): Promise<boolean> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (interrupted) return false;
      let name: string;
      let callArgs: Record<string, unknown>;
      let done: (json: unknown) => boolean;
      if (target === "message") {
        name = "read_messages";
        callArgs = { unreadOnly: true, markRead: true };
        done = (json) => {
          const list = asList(json, "messages");
          if (list.length) state.vars[as ?? "messages"] = list;
          return list.length > 0;
        };
      } else if (target === "assigned-task") {
        if (!me) throw new StepFailure('waitFor "assigned-task" needs SQUADRON_AGENT_NAME (who am I?).');
        name = "task_list";
        callArgs = { owner: me };
        done = (json) => {
          const task = asList(json, "tasks").find((t) => t.owner === me && t.status === "pending");
          if (task) state.vars[as ?? "task"] = task;
          return task !== undefined;
        };
      } else {
        name = "task_list";
        callArgs = {};
        const subject = /^task:(.+):completed$/.exec(target)?.[1];
        done = (json) => {
          const tasks = asList(json, "tasks").filter((t) => t.status !== "deleted");
          if (subject !== undefined)
            return tasks.some((t) => t.subject === subject && t.status === "completed");
          return tasks.length > 0 && tasks.every((t) => t.status === "completed");
        };
      }
      const result = await callTool(name, callArgs, false);
      if (result.isError) throw new StepFailure(`${name} failed while waiting for ${target}: ${result.text}`);
      if (done(result.json)) {
        // Show only the poll that succeeded, as a model would report one call, not hundreds.
        toolCounter += 1;
        const id = `toolu_scripted_${toolCounter}`;
        out.toolUse(id, `mcp__${result.server}__${result.tool}`, callArgs);
        out.toolResult(id, result.text, false);
        return true;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new StepFailure(`Timed out after ${timeoutMs} ms waiting for ${target}.`);
      if (changes?.watching) await changes.wait(Math.min(pollMs, left), interruption.signal);
      else await sleep(Math.min(pollMs, left));
    }
  };

  const runStep = async (raw: ScriptStep): Promise<number | undefined> => {
    if ("endTurn" in raw) {
      state.position += 1;
      return end("success", lastText || "Turn ended; waiting to be resumed.");
    }
    if ("fail" in raw) {
      state.position += 1;
      return end("error_during_execution", render(raw.fail, state.vars));
    }
    if ("exit" in raw) {
      state.position += 1;
      await save();
      // A crash: no result line, no cleanup, like a killed CLI.
      process.exit(raw.exit);
    }
    if ("sleepMs" in raw) {
      await sleep(raw.sleepMs);
    } else if ("say" in raw) {
      const limit = countTurn();
      if (limit) return end("error_max_turns", limit);
      lastText = render(raw.say, state.vars);
      out.assistant([{ type: "text", text: lastText }]);
    } else if ("usage" in raw) {
      const u = raw.usage;
      const tokens = {
        inputTokens: u.inputTokens,
        outputTokens: u.outputTokens,
        cacheReadTokens: u.cacheReadTokens ?? 0,
        cacheWriteTokens: u.cacheWriteTokens ?? 0,
      };
      const cost = u.costUsd ?? defaultPriceFn(args.model, tokens).costUsd;
      usage.inputTokens += tokens.inputTokens;
      usage.outputTokens += tokens.outputTokens;
      usage.cacheReadInputTokens += tokens.cacheReadTokens;
      usage.cacheCreationInputTokens += tokens.cacheWriteTokens;
      usage.costUSD += cost;
      out.assistant([{ type: "thinking", thinking: "(scripted work)", signature: "" }], {
        input: tokens.inputTokens,
        output: tokens.outputTokens,
        cacheRead: tokens.cacheReadTokens,
        cacheWrite: tokens.cacheWriteTokens,
      });
      if (args.maxBudgetUsd !== undefined && usage.costUSD >= args.maxBudgetUsd) {
        state.position += 1;
        return end("error_max_budget_usd", `Reached maximum budget ($${args.maxBudgetUsd})`);
      }
    } else if ("call" in raw) {
      const limit = countTurn();
      if (limit) return end("error_max_turns", limit);
      const callArgs = render(raw.args ?? {}, state.vars);
      let result: Awaited<ReturnType<typeof callTool>>;
      try {
        result = await callTool(raw.call, callArgs);
      } catch (err) {
        throw new StepFailure((err as Error).message);
      }
      if (result.isError && !raw.allowError) {
        throw new StepFailure(`Tool ${raw.call} failed: ${result.text}`);
      }
      if (raw.as) state.vars[raw.as] = result.json ?? result.text;
    } else if ("waitFor" in raw) {
      const limit = countTurn();
      if (limit) return end("error_max_turns", limit);
      const ok = await waitFor(raw.waitFor, raw.timeoutMs ?? 60_000, raw.as);
      if (!ok) return undefined; // interrupted: the wait runs again on resume
    } else if ("write" in raw) {
      const path = render(raw.write.path, state.vars);
      const full = resolve(cwd, path);
      const rel = relative(cwd, full);
      if (rel.startsWith("..") || isAbsolute(rel))
        throw new StepFailure(`write: ${path} is outside the working directory.`);
      const content = render(raw.write.content, state.vars);
      await mkdir(dirname(full), { recursive: true });
      await writeFile(full, content);
      toolCounter += 1;
      out.toolUse(`toolu_scripted_${toolCounter}`, "Write", { file_path: full, content });
      out.toolResult(`toolu_scripted_${toolCounter}`, `File created successfully at: ${full}`, false);
    } else if ("run" in raw) {
      // Literal arguments: `{{…}}` inside an argument is rendered as text, never as a shell word.
      const argv = raw.run.map((arg) => String(render(arg, state.vars)));
      const [program, ...rest] = argv as [string, ...string[]];
      const r = spawnSync(program, rest, { cwd, encoding: "utf8", env });
      const text = `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? r.error.message : ""}`.trim();
      const command = argv.map(shellQuote).join(" ");
      toolCounter += 1;
      out.toolUse(`toolu_scripted_${toolCounter}`, "Bash", { command });
      out.toolResult(`toolu_scripted_${toolCounter}`, text || `(exit ${r.status})`, r.status !== 0);
      if (r.status !== 0 && !raw.allowFailure) {
        throw new StepFailure(`Command failed with exit ${r.status}: ${command}${text ? `\n${text}` : ""}`);
      }
    } else if ("exec" in raw) {
      const command = renderShell(raw.exec, state.vars);
      const r = spawnSync("sh", ["-c", command], { cwd, encoding: "utf8", env });
      const text = `${r.stdout ?? ""}${r.stderr ?? ""}`.trim();
      toolCounter += 1;
      out.toolUse(`toolu_scripted_${toolCounter}`, "Bash", { command });
      out.toolResult(`toolu_scripted_${toolCounter}`, text || `(exit ${r.status})`, r.status !== 0);
      if (r.status !== 0 && !raw.allowFailure) {
        throw new StepFailure(`Command failed with exit ${r.status}: ${command}${text ? `\n${text}` : ""}`);
      }
    }
    state.position += 1;
    await save();
    return undefined;
  };

  while (state.position < state.steps.length) {
    if (interrupted) break;
    const step = state.steps[state.position] as ScriptStep;
    try {
      const code = await runStep(step);
      if (code !== undefined) return code;
    } catch (err) {
      if (!(err instanceof StepFailure)) throw err;
      state.position += 1;
      return end("error_during_execution", err.message);
    }
  }
  if (interrupted) {
    // Stopped by the runner: save where we are and leave without a result, as Claude does.
    await save();
    changes?.close();
    await tools.close();
    return 130;
  }
  return end("success", lastText || "Script finished.");
}
