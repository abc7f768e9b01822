import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { costUsd } from "../../../core/prices/index.ts";
import { buildClaudeInvocation, claudeAdapter } from "../../../runner/adapters/claude.ts";
import { runTurn } from "../../../runner/adapters/run-turn.ts";
import type { ProgressEvent } from "../../../runner/adapters/types.ts";
import { FAKE_CLI, FIXTURES, fakeTurn, readRecord, tempDir } from "./helpers.ts";

const adapter = claudeAdapter({ executable: FAKE_CLI });
const SESSION = "22795ca6-8222-4620-91dd-3001deaf3378";

/** Long options listed by `claude --help` of the installed CLI (copied into the fixtures). */
async function helpFlags(): Promise<Set<string>> {
  const help = await readFile(join(FIXTURES, "claude-help-2.1.329.txt"), "utf8");
  return new Set([...help.matchAll(/(?:^|[\s,])(--[a-z][a-zA-Z-]+|-[a-z])\b/gm)].map((m) => m[1] as string));
}

describe("Claude adapter: command line", () => {
  const input = {
    agent: { name: "backend", model: "sonnet", permissionMode: "acceptEdits" as const, prompt: "x" },
    prompt: "-starts with a dash",
    cwd: "/work",
    mcp: { path: "/tmp/p/mcp.json", config: { mcpServers: {} }, env: { SQUADRON_MCP_SECRET_DOCS: "s3cr3t" } },
    systemPromptAddition: "You are backend on team demo.",
    remainingBudgetUsd: 1.23456,
    resumeSessionId: SESSION,
  };

  it("uses only flags the installed claude --help lists, with their values in place", async () => {
    const inv = adapter.buildInvocation(input);
    const flags = await helpFlags();
    const value = (flag: string) => inv.args[inv.args.indexOf(flag) + 1];
    const used = inv.args.filter((a) => /^--?[a-z]/.test(a) && a !== input.prompt);
    expect(value("--allowedTools")).toBe("mcp__team");
    expect(used.length).toBeGreaterThan(8);
    for (const flag of used) expect(flags, `${flag} is not in claude --help`).toContain(flag);
    expect(inv.args[0]).toBe("-p");
    expect(value("--output-format")).toBe("stream-json");
    expect(inv.args).toContain("--verbose");
    expect(value("--model")).toBe("sonnet");
    expect(value("--permission-mode")).toBe("acceptEdits");
    expect(value("--mcp-config")).toBe("/tmp/p/mcp.json");
    expect(inv.args[inv.args.indexOf("--mcp-config") + 2]).toBe("--strict-mcp-config");
    expect(value("--append-system-prompt")).toBe("You are backend on team demo.");
    expect(value("--max-budget-usd")).toBe("1.2345");
    expect(value("--resume")).toBe(SESSION);
    // The prompt comes last, after "--", so a variadic --mcp-config or a leading dash cannot eat it.
    expect(inv.args.slice(-2)).toEqual(["--", "-starts with a dash"]);
    expect(inv.env.SQUADRON_MCP_SECRET_DOCS).toBe("s3cr3t");
    expect(inv.cwd).toBe("/work");
  });

  it("passes --max-turns (accepted though hidden by 2.1.329's help) only when a limit is set", () => {
    const without = adapter.buildInvocation({ ...input, resumeSessionId: undefined });
    expect(without.args).not.toContain("--max-turns");
    expect(without.args).not.toContain("--resume");
    const withTurns = adapter.buildInvocation({ ...input, maxTurns: 7 });
    expect(withTurns.args[withTurns.args.indexOf("--max-turns") + 1]).toBe("7");
  });
});

describe("Claude adapter: recorded stream-json through a real child process", () => {
  it("reports the result's cost, modelUsage tokens and session, with progress on the way", async () => {
    const cwd = await tempDir();
    const events: ProgressEvent[] = [];
    const result = await runTurn(adapter, fakeTurn(cwd, "claude/success.jsonl"), {
      onProgress: (e) => events.push(e),
    });
    expect(result).toMatchObject({
      sessionId: SESSION,
      isError: false,
      inputTokens: 18,
      outputTokens: 2577,
      cacheReadTokens: 169817,
      cacheWriteTokens: 14760,
      costUsd: 0.2416735,
      costSource: "reported",
      model: "us.anthropic.claude-opus-4-6-v1",
      exitCode: 0,
    });
    expect(result.resultText).toMatch(/^Done\. Added `logRoot/);
    expect(events.map((e) => e.kind)).toEqual(
      expect.arrayContaining(["init", "assistant", "tool_use", "tool_result", "result"]),
    );
    expect(events.find((e) => e.kind === "tool_use")?.detail).toBe("mcp__team__task_list");
    // The first message is streamed twice with the same usage: counted once.
    const afterFirst = events.find((e) => e.kind === "tool_result");
    expect(afterFirst).toMatchObject({ inputTokens: 6, outputTokens: 900, cacheReadTokens: 60000 });
    expect(afterFirst?.costUsd).toBeCloseTo(
      costUsd("claude-opus-4-6", {
        inputTokens: 6,
        outputTokens: 900,
        cacheReadTokens: 60000,
        cacheWriteTokens: 9000,
      }).costUsd,
      9,
    );
    const [start] = await readRecord(join(cwd, "record.jsonl"));
    expect(start?.cwd).toBe(cwd);
  });

  it("maps error_max_turns to an error with the CLI's reason and the usage spent", async () => {
    const cwd = await tempDir();
    const result = await runTurn(
      adapter,
      fakeTurn(cwd, "claude/error-max-turns.jsonl", { fakeEnv: { FAKE_CLI_EXIT: "1" } }),
    );
    expect(result).toMatchObject({
      isError: true,
      errorKind: "max_turns",
      resultText: "Reached maximum number of turns (15)",
      costUsd: 0.2416735,
      costSource: "reported",
      outputTokens: 2577,
      model: "claude-opus-4-6",
      exitCode: 1,
    });
  });

  it("maps error_max_budget_usd and sums tokens over every model in modelUsage", async () => {
    const cwd = await tempDir();
    const result = await runTurn(
      adapter,
      fakeTurn(cwd, "claude/error-max-budget.jsonl", { fakeEnv: { FAKE_CLI_EXIT: "1" } }),
    );
    expect(result).toMatchObject({
      isError: true,
      errorKind: "max_budget",
      resultText: "Reached maximum budget ($0.5)",
      costUsd: 0.5012,
      inputTokens: 18,
      outputTokens: 2577,
      model: "claude-opus-4-6",
    });
  });

  it("turns a crash mid-stream into an error with the usage seen, priced from the table", async () => {
    const cwd = await tempDir();
    const result = await runTurn(
      adapter,
      fakeTurn(cwd, "claude/success.jsonl", { fakeEnv: { FAKE_CLI_MODE: "crash-after:4" } }),
    );
    expect(result.isError).toBe(true);
    expect(result.errorKind).toBe("crashed");
    expect(result.resultText).toContain("exited with code 3 before its final result");
    expect(result.resultText).toContain("simulated crash");
    expect(result).toMatchObject({
      sessionId: SESSION,
      inputTokens: 6,
      outputTokens: 900,
      costSource: "price-table",
    });
    const priced = costUsd("claude-opus-4-6", {
      inputTokens: 6,
      outputTokens: 900,
      cacheReadTokens: 60000,
      cacheWriteTokens: 9000,
    });
    expect(result.costUsd).toBeCloseTo(priced.costUsd, 9);
    expect(result.costUsd).toBeGreaterThan(0);
  });

  it("stops the CLI with SIGINT on abort and says so", async () => {
    const cwd = await tempDir();
    const input = fakeTurn(cwd, "claude/success.jsonl", { fakeEnv: { FAKE_CLI_MODE: "hang-after:2" } });
    const controller = new AbortController();
    const result = await runTurn(adapter, input, {
      signal: controller.signal,
      graceMs: 2000,
      onProgress: (e) => {
        if (e.kind === "assistant") controller.abort();
      },
    });
    const record = await readRecord(input.record);
    expect(record.filter((r) => r.signal).map((r) => r.signal)).toEqual(["SIGINT"]);
    expect(result).toMatchObject({ isError: true, errorKind: "stopped", stopped: true, exitCode: 130 });
    expect(result.resultText).toContain("Stopped by the runner");
    expect(result.inputTokens).toBe(6);
  });

  it("escalates to SIGTERM when the CLI ignores SIGINT", async () => {
    const cwd = await tempDir();
    const input = fakeTurn(cwd, "claude/success.jsonl", {
      fakeEnv: { FAKE_CLI_MODE: "hang-after:1", FAKE_CLI_IGNORE: "SIGINT" },
    });
    const controller = new AbortController();
    const result = await runTurn(adapter, input, {
      signal: controller.signal,
      graceMs: 300,
      onProgress: (e) => {
        if (e.kind === "init") controller.abort();
      },
    });
    const record = await readRecord(input.record);
    expect(record.filter((r) => r.signal).map((r) => r.signal)).toEqual(["SIGINT", "SIGTERM"]);
    expect(result).toMatchObject({ stopped: true, exitCode: 143 });
  });

  it("reports usage so far on a timer while the CLI streams slowly", async () => {
    const cwd = await tempDir();
    const ticks: ProgressEvent[] = [];
    await runTurn(adapter, fakeTurn(cwd, "claude/success.jsonl", { fakeEnv: { FAKE_CLI_DELAY_MS: "120" } }), {
      progressIntervalMs: 40,
      onProgress: (e) => {
        if (e.kind === "tick") ticks.push(e);
      },
    });
    expect(ticks.length).toBeGreaterThanOrEqual(5);
    expect(ticks.some((t) => t.outputTokens === 900)).toBe(true);
  });

  it("says clearly when the executable cannot be started", async () => {
    const cwd = await tempDir();
    const missing = claudeAdapter({ executable: join(cwd, "no-such-claude") });
    const result = await runTurn(missing, fakeTurn(cwd, "claude/success.jsonl"));
    expect(result).toMatchObject({ isError: true, errorKind: "spawn_failed" });
    expect(result.resultText).toContain("no-such-claude");
  });
});

/** Lines as Claude Code 2.1.329 printed them against the model-API stub (fields trimmed). */
const REAL = {
  init: { type: "system", subtype: "init", session_id: SESSION, model: "claude-sonnet-4-5" },
  denied: {
    type: "system",
    subtype: "permission_denied",
    tool_name: "mcp__team__task_create",
    tool_use_id: "toolu_stub000001",
    message: "Claude requested permissions to use mcp__team__task_create, but you haven't granted it yet.",
    session_id: SESSION,
  },
  /** The third resumed turn of a session: modelUsage and total_cost_usd are session totals. */
  resumedResult: {
    type: "result",
    subtype: "success",
    is_error: false,
    session_id: SESSION,
    total_cost_usd: 0.02625,
    usage: {
      input_tokens: 2000,
      output_tokens: 100,
      cache_read_input_tokens: 0,
      cache_creation_input_tokens: 0,
    },
    modelUsage: {
      "claude-sonnet-4-5": {
        inputTokens: 7000,
        outputTokens: 350,
        cacheReadInputTokens: 0,
        cacheCreationInputTokens: 0,
        costUSD: 0.02625,
      },
    },
    model_usage_since_last_result: {
      "claude-sonnet-4-5": {
        inputTokens: 2000,
        outputTokens: 100,
        cacheReadInputTokens: 0,
        cacheCreationInputTokens: 0,
        costUSD: 0.0075,
      },
    },
    permission_denials: [],
    result: "Waiting for my teammate.",
  },
  authResult: {
    type: "result",
    subtype: "success",
    is_error: true,
    session_id: SESSION,
    total_cost_usd: 0,
    modelUsage: {},
    model_usage_since_last_result: {},
    permission_denials: [],
    api_error_status: 401,
    api_error_type: "authentication_error",
    result: "Invalid API key · Fix external API key",
  },
};

function parse(lines: object[]) {
  const parser = adapter.createParser(fakeTurn("/tmp", "unused.jsonl"));
  for (const l of lines) parser.push(JSON.stringify(l));
  return parser.finish({ code: 0, signal: null, stderrTail: "" });
}

describe("Claude adapter: 2.1.329 result fields", () => {
  it("charges a resumed turn its model_usage_since_last_result, not the session totals", () => {
    const r = parse([REAL.init, REAL.resumedResult]);
    expect(r).toMatchObject({ costUsd: 0.0075, inputTokens: 2000, outputTokens: 100, usageScope: "turn" });
  });

  it("without model_usage_since_last_result, says the figures are session totals", () => {
    const { model_usage_since_last_result: _, ...older } = REAL.resumedResult;
    const r = parse([REAL.init, older]);
    expect(r).toMatchObject({ costUsd: 0.02625, inputTokens: 7000, usageScope: "session" });
  });

  it("a permission_denied team tool makes the turn an error naming the tool", () => {
    const r = parse([
      REAL.init,
      REAL.denied,
      {
        ...REAL.resumedResult,
        permission_denials: [{ tool_name: "mcp__team__task_create", tool_use_id: "toolu_stub000001" }],
      },
    ]);
    expect(r.isError).toBe(true);
    expect(r.deniedTools).toEqual(["mcp__team__task_create"]);
    expect(r.resultText).toMatch(
      /^Team tools could not be used in this turn: denied .*mcp__team__task_create/,
    );
  });

  it("a 401 from the model API is errorKind auth", () => {
    const r = parse([REAL.init, REAL.authResult]);
    expect(r).toMatchObject({ isError: true, errorKind: "auth", costUsd: 0 });
    expect(r.resultText).toMatch(/refused the key \(HTTP 401 authentication_error\)/);
  });
});

describe("Claude adapter: permissions for every permission mode", () => {
  const base = {
    agent: { name: "dev", model: "sonnet", permissionMode: "acceptEdits" as const, prompt: "x" },
    prompt: "go",
    cwd: "/w",
  };
  const allowed = (inv: { args: string[] }) => inv.args[inv.args.indexOf("--allowedTools") + 1]?.split(",");
  it("allows the team tools always and a coding agent's git commands, and sets the team-tool env", () => {
    const inv = buildClaudeInvocation({ ...base, coding: true }, "claude", 1000);
    expect(allowed(inv)).toEqual([
      "mcp__team",
      "Bash(git add:*)",
      "Bash(git commit:*)",
      "Bash(git status:*)",
      "Bash(git diff:*)",
      "Bash(git log:*)",
      "Bash(git rm:*)",
      "Bash(git mv:*)",
    ]);
    expect(inv.env).toMatchObject({ ENABLE_TOOL_SEARCH: "false", CLAUDE_CODE_MAX_RETRIES: "2" });
    expect(allowed(buildClaudeInvocation(base, "claude", 1000))).toEqual(["mcp__team"]);
  });
  it("bypassPermissions as root falls back to acceptEdits with a warning instead of a crash", () => {
    const asRoot = buildClaudeInvocation(
      { ...base, agent: { ...base.agent, permissionMode: "bypassPermissions" } },
      "claude",
      0,
    );
    expect(asRoot.args[asRoot.args.indexOf("--permission-mode") + 1]).toBe("acceptEdits");
    expect(asRoot.warnings?.[0]).toMatch(/cannot be used as root/);
    const asUser = buildClaudeInvocation(
      { ...base, agent: { ...base.agent, permissionMode: "bypassPermissions" } },
      "claude",
      1000,
    );
    expect(asUser.args[asUser.args.indexOf("--permission-mode") + 1]).toBe("bypassPermissions");
    expect(asUser.warnings).toBeUndefined();
  });
  it("plan mode (which blocks MCP tools) runs as manual with only the team tools, and says so", () => {
    const inv = buildClaudeInvocation(
      { ...base, coding: true, agent: { ...base.agent, permissionMode: "plan" } },
      "claude",
      1000,
    );
    expect(inv.args[inv.args.indexOf("--permission-mode") + 1]).toBe("manual");
    expect(allowed(inv)).toEqual(["mcp__team"]);
    expect(inv.warnings?.[0]).toMatch(/runs in manual mode/);
  });
});
