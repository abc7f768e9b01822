import { execFileSync } from "node:child_process";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { costUsd } from "../../../core/prices/index.ts";
import { aiderAdapter, parseAiderTokens } from "../../../runner/adapters/aider.ts";
import { codexAdapter, gitDirsToWrite } from "../../../runner/adapters/codex.ts";
import { geminiAdapter } from "../../../runner/adapters/gemini.ts";
import { buildMcpConfig, writeMcpConfig } from "../../../runner/adapters/mcp-config.ts";
import { runTurn } from "../../../runner/adapters/run-turn.ts";
import type { ProgressEvent, TurnInput } from "../../../runner/adapters/types.ts";
import { FAKE_CLI, FIXTURES, fakeTurn, readRecord, tempDir } from "./helpers.ts";

function withModel(input: ReturnType<typeof fakeTurn>, model: string): ReturnType<typeof fakeTurn> {
  return { ...input, agent: { ...input.agent, model } };
}

const mcpBuilt = buildMcpConfig({
  teamServer: { command: "node", args: ["team.js"], env: { SQUADRON_AGENT_NAME: "backend" } },
  servers: [
    {
      name: "docs",
      url: "https://mcp.example.com/mcp",
      transport: "http",
      authSecret: "docs-token",
      authHeader: "Authorization",
    },
  ],
  secretValues: { "docs-token": "Bearer s3cr3t" },
});

describe("Codex adapter", () => {
  const adapter = codexAdapter({ executable: FAKE_CLI });

  it("builds `codex -c … exec --json` with MCP servers as config overrides and secrets by env name", () => {
    const input: TurnInput = {
      agent: { name: "backend", model: "gpt-5-codex", permissionMode: "acceptEdits", prompt: "x" },
      prompt: "Fix the bug",
      cwd: "/w",
      systemPromptAddition: "You are backend.",
      mcp: { path: "/tmp/x/mcp.json", ...mcpBuilt },
    };
    const inv = adapter.buildInvocation(input);
    const exec = inv.args.indexOf("exec");
    const overrides = inv.args.slice(0, exec);
    expect(overrides.filter((a) => a === "-c").length * 2).toBe(overrides.length);
    expect(overrides).toContain('approval_policy="never"');
    expect(overrides).toContain('sandbox_mode="workspace-write"');
    // One override per server under its bare name: codex takes `-c` key parts literally, so the
    // old `mcp_servers."team".command=…` form registered a server named `"team"` (with quotes).
    expect(overrides.filter((a) => a.startsWith("mcp_servers."))).toEqual([
      'mcp_servers.team={ command = "node", args = ["team.js"], env = { SQUADRON_AGENT_NAME = "backend" }, default_tools_approval_mode = "approve", required = true, startup_timeout_sec = 60 }',
      'mcp_servers.docs={ url = "https://mcp.example.com/mcp", env_http_headers = { Authorization = "SQUADRON_MCP_SECRET_DOCS" }, default_tools_approval_mode = "approve" }',
    ]);
    expect(overrides).toContain('model_provider="squadron-openai"');
    expect(inv.args.join(" ")).not.toContain("s3cr3t");
    expect(inv.env.SQUADRON_MCP_SECRET_DOCS).toBe("Bearer s3cr3t");
    expect(inv.args.slice(exec)).toEqual([
      "exec",
      "--json",
      "--skip-git-repo-check",
      "--model",
      "gpt-5-codex",
      "--",
      "You are backend.\n\nFix the bug",
    ]);
    const resumed = adapter.buildInvocation({ ...input, resumeSessionId: "0199a213" });
    expect(resumed.args.slice(-4)).toEqual(["resume", "0199a213", "--", "Fix the bug"]);
  });

  it("makes the git dirs a commit writes writable in workspace-write: the repo's .git, or a worktree's and its main .git", async () => {
    const root = await tempDir();
    const main = join(root, "main");
    const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, stdio: "ignore" });
    execFileSync("git", ["init", "-q", "-b", "main", main]);
    git(main, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "init");
    git(main, "worktree", "add", "-q", "-b", "dev", join(root, "dev"));
    expect(gitDirsToWrite(main)).toEqual([join(main, ".git")]);
    expect(gitDirsToWrite(join(root, "dev"))).toEqual([
      join(main, ".git", "worktrees", "dev"),
      join(main, ".git"),
    ]);
    expect(gitDirsToWrite(root)).toEqual([]);

    const turn = (cwd: string, permissionMode: "acceptEdits" | "plan" | "bypassPermissions"): string[] =>
      adapter.buildInvocation({
        agent: { name: "dev", model: "gpt-5-codex", permissionMode, prompt: "x" },
        prompt: "x",
        cwd,
      }).args;
    expect(turn(join(root, "dev"), "acceptEdits")).toContain(
      `sandbox_workspace_write.writable_roots=${JSON.stringify([join(main, ".git", "worktrees", "dev"), join(main, ".git")]).replaceAll(",", ", ")}`,
    );
    expect(turn(join(root, "dev"), "plan").join(" ")).not.toContain("writable_roots");
    expect(turn(join(root, "dev"), "bypassPermissions")).toContain('sandbox_mode="danger-full-access"');
  });

  it("reads thread id and turn usage, prices it from the table, and reports progress", async () => {
    const cwd = await tempDir();
    const events: ProgressEvent[] = [];
    const result = await runTurn(adapter, withModel(fakeTurn(cwd, "codex/success.jsonl"), "gpt-5-codex"), {
      onProgress: (e) => events.push(e),
    });
    const expected = costUsd("gpt-5-codex", { inputTokens: 315, outputTokens: 122, cacheReadTokens: 24448 });
    expect(result).toMatchObject({
      sessionId: "0199a213-81c0-7800-8aa1-bbab2a035a53",
      isError: false,
      inputTokens: 315,
      cacheReadTokens: 24448,
      outputTokens: 122,
      costSource: "price-table",
      usageScope: "session",
      model: "gpt-5-codex",
      resultText: "Repo contains docs, sdk, and examples directories.",
    });
    expect(result.costUsd).toBeCloseTo(expected.costUsd, 9);
    expect(result.costUsd).toBeGreaterThan(0);
    expect(events.filter((e) => e.kind === "tool_use").map((e) => e.detail)).toEqual([
      "task_list",
      "bash -lc ls",
    ]);
  });

  it("reports turn.failed with its message", async () => {
    const cwd = await tempDir();
    const result = await runTurn(
      adapter,
      fakeTurn(cwd, "codex/failed.jsonl", { fakeEnv: { FAKE_CLI_EXIT: "1" } }),
    );
    expect(result).toMatchObject({
      isError: true,
      errorKind: "auth",
      sessionId: "0199a213-81c0-7800-8aa1-bbab2a035a54",
    });
    expect(result.resultText).toBe("HTTP 401: Incorrect API key provided: disabled.");
  });

  it("reports codex's Error line, not its backtrace, when it cannot resume a thread (so the loop starts afresh)", async () => {
    // Recorded from codex 0.169: `exec resume <id>` of a thread its CODEX_HOME does not hold.
    const stderr = await readFile(join(FIXTURES, "codex", "resume-unknown.stderr.txt"), "utf8");
    const input = withModel(fakeTurn(await tempDir(), "codex/success.jsonl"), "gpt-5-codex");
    const parser = adapter.createParser({
      ...input,
      resumeSessionId: "01a2440c-0000-7000-8000-000000000000",
    });
    const result = parser.finish({ code: 1, signal: null, stderrTail: stderr });
    expect(result).toMatchObject({ isError: true, errorKind: "crashed", inputTokens: 0, costUsd: 0 });
    expect(result.resultText).toBe(
      "codex exited with code 1 before the turn completed (stream truncated). Error: thread/resume: thread/resume failed: no rollout found for thread id 01a2440c-0000-7000-8000-000000000000 (code -32600)",
    );
  });

  it("makes a turn whose team-tool call codex refused an error, though codex itself completed it", async () => {
    // Lines recorded from codex 0.169 with approval_policy=never and no approval for the server.
    const input = withModel(fakeTurn(await tempDir(), "codex/success.jsonl"), "gpt-5-codex");
    const parser = adapter.createParser(input);
    for (const line of [
      '{"type":"thread.started","thread_id":"01a2440c-1793-7653-bdbb-d15b3114a743"}',
      '{"type":"turn.started"}',
      '{"type":"item.completed","item":{"id":"item_1","type":"mcp_tool_call","server":"team","tool":"task_create","arguments":{"subject":"Write hello"},"result":null,"error":{"message":"MCP tool call requires approval, but approval policy is never"},"status":"failed"}}',
      '{"type":"item.completed","item":{"id":"item_2","type":"agent_message","text":"done"}}',
      '{"type":"turn.completed","usage":{"input_tokens":200,"cached_input_tokens":80,"cache_write_input_tokens":0,"output_tokens":20,"reasoning_output_tokens":0}}',
    ]) {
      parser.push(line);
    }
    const result = parser.finish({ code: 0, signal: null, stderrTail: "" });
    expect(result).toMatchObject({
      isError: true,
      errorKind: "execution",
      inputTokens: 120,
      cacheReadTokens: 80,
      teamToolCalls: 0,
      deniedTools: ["mcp__team__task_create"],
    });
    expect(result.resultText).toBe(
      "codex refused 1 team-tool call(s): task_create: MCP tool call requires approval, but approval policy is never",
    );
  });

  it("treats a stream cut before turn.completed as a crash", async () => {
    const cwd = await tempDir();
    const result = await runTurn(
      adapter,
      fakeTurn(cwd, "codex/success.jsonl", { fakeEnv: { FAKE_CLI_MODE: "crash-after:5" } }),
    );
    expect(result).toMatchObject({ isError: true, errorKind: "crashed", exitCode: 3 });
    expect(result.resultText).toContain("before the turn completed");
  });

  it("stops codex with SIGINT on abort", async () => {
    const cwd = await tempDir();
    const input = fakeTurn(cwd, "codex/success.jsonl", { fakeEnv: { FAKE_CLI_MODE: "hang-after:1" } });
    const controller = new AbortController();
    const result = await runTurn(adapter, input, {
      signal: controller.signal,
      onProgress: (e) => e.kind === "init" && controller.abort(),
    });
    expect((await readRecord(input.record)).filter((r) => r.signal).map((r) => r.signal)).toEqual(["SIGINT"]);
    expect(result).toMatchObject({
      stopped: true,
      errorKind: "stopped",
      sessionId: "0199a213-81c0-7800-8aa1-bbab2a035a53",
    });
  });
});

describe("Gemini adapter", () => {
  const adapter = geminiAdapter({ executable: FAKE_CLI });

  it("sums stats.models tokens (cached apart, thoughts as output) and prices each model", async () => {
    const cwd = await tempDir();
    const result = await runTurn(adapter, withModel(fakeTurn(cwd, "gemini/success.json"), "gemini-2.5-pro"));
    const pro = { inputTokens: 24939 - 21263, outputTokens: 20 + 154, cacheReadTokens: 21263 };
    const flash = { inputTokens: 1200, outputTokens: 40, cacheReadTokens: 0 };
    expect(result).toMatchObject({
      sessionId: "8f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f",
      isError: false,
      resultText: "The capital of France is Paris.",
      inputTokens: pro.inputTokens + flash.inputTokens,
      outputTokens: pro.outputTokens + flash.outputTokens,
      cacheReadTokens: 21263,
      costSource: "price-table",
      model: "gemini-2.5-pro",
    });
    const expected = costUsd("gemini-2.5-pro", pro).costUsd + costUsd("gemini-2.5-flash", flash).costUsd;
    expect(result.costUsd).toBeCloseTo(expected, 9);
    expect(result.costUsd).toBeGreaterThan(0);
  });

  it("reports Gemini's error object", async () => {
    const cwd = await tempDir();
    const result = await runTurn(
      adapter,
      fakeTurn(cwd, "gemini/error.json", { fakeEnv: { FAKE_CLI_EXIT: "41" } }),
    );
    expect(result).toMatchObject({ isError: true, errorKind: "execution", exitCode: 41 });
    expect(result.resultText).toBe("FatalAuthenticationError: Could not load the default credentials.");
  });

  it("treats truncated JSON as a crash", async () => {
    const cwd = await tempDir();
    const result = await runTurn(
      adapter,
      fakeTurn(cwd, "gemini/success.json", { fakeEnv: { FAKE_CLI_MODE: "crash-after:6" } }),
    );
    expect(result).toMatchObject({ isError: true, errorKind: "crashed" });
  });

  it("hands MCP servers over in a private home's user settings, trusts only the team server, removes the file after the turn", async () => {
    const cwd = await tempDir();
    const written = await writeMcpConfig(mcpBuilt, cwd);
    const home = join(cwd, "state", "gemini-home");
    const homed = geminiAdapter({ executable: FAKE_CLI, home });
    const input = fakeTurn(cwd, "gemini/success.json", { mcp: written.mcp, resumeSessionId: "8f1c" });
    const inv = homed.buildInvocation(input);
    expect(inv.args).toEqual(
      expect.arrayContaining(["--output-format", "json", "--approval-mode", "auto_edit", "--skip-trust"]),
    );
    expect(inv.args.slice(-4)).toEqual(["--resume", "8f1c", "--prompt", "Do the task"]);
    // The user settings file of GEMINI_CLI_HOME: a system settings file under a non-root
    // directory is skipped by Gemini as insecure.
    expect(inv.files?.[0]?.path).toBe(join(home, ".gemini", "settings.json"));
    const settings = JSON.parse(inv.files?.[0]?.content ?? "{}");
    expect(settings.mcpServers.docs).toEqual({
      httpUrl: "https://mcp.example.com/mcp",
      headers: { Authorization: `\${SQUADRON_MCP_SECRET_DOCS}` },
    });
    expect(settings.mcpServers.team).toMatchObject({ command: "node", trust: true });
    expect(settings.telemetry).toEqual({ enabled: false });
    // auto_edit: only git commands may run unconfirmed (a teammate commits its own work).
    expect(settings.tools.allowed).toEqual(expect.arrayContaining(["run_shell_command(git commit)"]));
    expect(settings.tools.allowed.every((t: string) => t.startsWith("run_shell_command(git "))).toBe(true);
    const yolo = homed.buildInvocation({
      ...input,
      agent: { ...input.agent, permissionMode: "bypassPermissions" },
    });
    expect(JSON.parse(yolo.files?.[0]?.content ?? "{}").tools).toBeUndefined();
    expect(settings.general).toEqual({ enableAutoUpdate: false, enableAutoUpdateNotification: false });
    await runTurn(homed, input);
    const [start] = await readRecord(input.record);
    const env = start?.env as Record<string, string>;
    expect(env.GEMINI_CLI_HOME).toBe(home);
    expect(env.GEMINI_CLI_SYSTEM_SETTINGS_PATH).toBeUndefined();
    expect(env.SQUADRON_MCP_SECRET_DOCS).toBe("Bearer s3cr3t");
    expect((await stat(home)).mode & 0o777).toBe(0o700);
    await expect(stat(inv.files?.[0]?.path ?? "")).rejects.toThrow();
    await written.cleanup();
  });

  it("keeps the API error line from the head of stderr and reports a refused key as auth", async () => {
    const parser = adapter.createParser(fakeTurn("/tmp", "gemini/success.json"));
    const head =
      "Warning: 256-color support not detected.\n" +
      'Error when talking to Gemini API Full report available at: /tmp/gemini-client-error-x.json _ApiError: {"error":{"code":403,"message":"Permission denied on resource project.","status":"PERMISSION_DENIED"}}\n';
    const stack = "    at async Turn.run (file:///gemini/bundle/chunk.js:1:1)\n".repeat(200);
    const result = parser.finish({
      code: 1,
      signal: null,
      stderrHead: head + stack.slice(0, 2000),
      stderrTail: stack,
    });
    expect(result).toMatchObject({ isError: true, errorKind: "auth" });
    expect(result.resultText).toBe(
      "Gemini API answered HTTP 403: Error when talking to Gemini API _ApiError: " +
        '{"error":{"code":403,"message":"Permission denied on resource project.","status":"PERMISSION_DENIED"}}',
    );
    const other = adapter.createParser(fakeTurn("/tmp", "gemini/success.json")).finish({
      code: 1,
      signal: null,
      stderrHead: head.replace(/403/g, "500").replace("PERMISSION_DENIED", "INTERNAL"),
      stderrTail: stack,
    });
    expect(other).toMatchObject({ isError: true, errorKind: "crashed" });
    expect(other.resultText).toContain('{"error":{"code":500');
  });
});

describe("Aider adapter", () => {
  const adapter = aiderAdapter({ executable: FAKE_CLI });

  it("parses every token part aider prints", () => {
    expect(parseAiderTokens("2.5k sent, 1.1k cache write, 5.0k cache hit, 300 received")).toEqual({
      inputTokens: 2500,
      outputTokens: 300,
      cacheReadTokens: 5000,
      cacheWriteTokens: 1100,
    });
    expect(parseAiderTokens("1,234 sent, 1.2M received").outputTokens).toBe(1_200_000);
  });

  it("adds up per-message tokens and aider's own costs", async () => {
    const cwd = await tempDir();
    const events: ProgressEvent[] = [];
    const input = withModel(fakeTurn(cwd, "aider/success.txt"), "claude-sonnet-4-5");
    const result = await runTurn(adapter, input, { onProgress: (e) => events.push(e) });
    expect(result).toMatchObject({
      isError: false,
      inputTokens: 4100,
      outputTokens: 1297,
      cacheReadTokens: 5000,
      cacheWriteTokens: 1100,
      costSource: "reported",
      sessionId: ".aider.squadron.backend.chat.history.md",
    });
    expect(result.costUsd).toBeCloseTo(0.03, 9);
    expect(result.resultText).toContain("Applied edit to test_hello.py");
    expect(events.filter((e) => e.kind === "assistant").map((e) => e.outputTokens)).toEqual([300, 1297]);
    const [start] = await readRecord(input.record);
    expect(start?.argv).toEqual(
      expect.arrayContaining(["--message", "Do the task", "--yes-always", "--chat-history-file"]),
    );
  });

  it("prices tokens from the table when aider prints no cost, and resumes from the history file", async () => {
    const cwd = await tempDir();
    const input = withModel(fakeTurn(cwd, "aider/no-cost.txt", { resumeSessionId: "h.md" }), "gpt-5");
    const result = await runTurn(adapter, input);
    expect(result).toMatchObject({
      inputTokens: 12000,
      outputTokens: 1500,
      costSource: "price-table",
      sessionId: "h.md",
    });
    expect(result.costUsd).toBeCloseTo(
      costUsd("gpt-5", { inputTokens: 12000, outputTokens: 1500 }).costUsd,
      9,
    );
    const [start] = await readRecord(input.record);
    expect(start?.argv).toEqual(
      expect.arrayContaining(["--chat-history-file", "h.md", "--restore-chat-history"]),
    );
  });

  it("reports a non-zero exit as an error", async () => {
    const cwd = await tempDir();
    const result = await runTurn(
      adapter,
      fakeTurn(cwd, "aider/success.txt", { fakeEnv: { FAKE_CLI_MODE: "crash-after:3" } }),
    );
    expect(result).toMatchObject({ isError: true, errorKind: "crashed", exitCode: 3 });
  });
});

describe("MCP config", () => {
  it("keeps secrets out of the file by default, in a private directory removed by cleanup", async () => {
    const parent = await tempDir();
    const written = await writeMcpConfig(mcpBuilt, parent);
    const fs = await import("node:fs/promises");
    const text = await fs.readFile(written.mcp.path, "utf8");
    expect(text).not.toContain("s3cr3t");
    expect(JSON.parse(text)).toEqual({
      mcpServers: {
        team: { type: "stdio", command: "node", args: ["team.js"], env: { SQUADRON_AGENT_NAME: "backend" } },
        docs: {
          type: "http",
          url: "https://mcp.example.com/mcp",
          headers: { Authorization: `\${SQUADRON_MCP_SECRET_DOCS}` },
        },
      },
    });
    expect((await fs.stat(written.mcp.path)).mode & 0o777).toBe(0o600);
    expect((await fs.stat(join(written.mcp.path, ".."))).mode & 0o777).toBe(0o700);
    await written.cleanup();
    await expect(fs.stat(written.mcp.path)).rejects.toThrow();
  });

  it("writes values inline only when asked, and refuses missing secrets and the reserved name", () => {
    const inline = buildMcpConfig({
      teamServer: { command: "node", args: [] },
      servers: [{ name: "s", url: "https://x/sse", transport: "sse", authSecret: "k", authHeader: "X-Key" }],
      secretValues: { k: "v" },
      secretsVia: "inline",
    });
    expect(inline.config.mcpServers.s).toEqual({
      type: "sse",
      url: "https://x/sse",
      headers: { "X-Key": "v" },
    });
    expect(inline.env).toEqual({});
    expect(() =>
      buildMcpConfig({
        teamServer: { command: "node", args: [] },
        servers: [
          {
            name: "s",
            url: "https://x",
            transport: "http",
            authSecret: "missing",
            authHeader: "Authorization",
          },
        ],
        secretValues: {},
      }),
    ).toThrow(/needs secret "missing"/);
    expect(() =>
      buildMcpConfig({
        teamServer: { command: "node", args: [] },
        servers: [{ name: "team", url: "https://x", transport: "http", authHeader: "Authorization" }],
        secretValues: {},
      }),
    ).toThrow(/reserved/);
  });
});

describe("MCP config names (issue 14: 7)", () => {
  it("accepts servers and secrets named like Object.prototype members", () => {
    const built = buildMcpConfig({
      teamServer: { command: "node", args: ["team.js"] },
      servers: ["toString", "constructor", "hasOwnProperty"].map((name) => ({
        name,
        url: `https://mcp.example.com/${name}`,
        transport: "http" as const,
        authHeader: "Authorization",
      })),
      secretValues: {},
    });
    expect(Object.keys(built.config.mcpServers)).toEqual([
      "team",
      "toString",
      "constructor",
      "hasOwnProperty",
    ]);
    expect(() =>
      buildMcpConfig({
        teamServer: { command: "node", args: ["team.js"] },
        servers: [
          { name: "docs", url: "https://x/", transport: "http", authSecret: "toString", authHeader: "A" },
        ],
        secretValues: {},
      }),
    ).toThrow(/needs secret "toString"/);
  });
});
