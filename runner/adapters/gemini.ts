import { randomUUID } from "node:crypto";
import { dirname, join } from "node:path";
import type { PermissionMode } from "../../core/manifest/types.ts";
import { type CliAdapterOptions, cliAdapter } from "./cli-adapter.ts";
import { withSystemPrompt } from "./codex.ts";
import { TEAM_SERVER_NAME } from "./mcp-config.ts";
import type {
  AgentAdapter,
  Invocation,
  McpConfigFile,
  OutputParser,
  PriceFn,
  ProgressEvent,
  TokenUsage,
  TurnExit,
  TurnInput,
  TurnResult,
} from "./types.ts";
import { addUsage, ZERO_USAGE } from "./types.ts";

export interface GeminiAdapterOptions extends CliAdapterOptions {
  /**
   * Gemini's home (`GEMINI_CLI_HOME`): a private directory that outlives the turn and the runner,
   * because Gemini keeps its sessions under `<home>/.gemini/tmp/<project>/chats` and `--resume`
   * finds them only there. The runner passes `<team dir>/team/cli-home/<agent>`. Without it the
   * home is a `gemini-home` directory beside the turn's MCP config (resume then works only
   * within one runner process).
   */
  home?: string;
}

/**
 * Gemini CLI 0.61.0: `gemini --output-format json --prompt <p>` prints one JSON object at the end
 * (`session_id`, `response`, `stats.models.<model>.tokens`); on failure the same object with
 * `error: {type, message, code}` goes to **stderr** and the exit code is the HTTP status mod 256
 * (401 → 145). No cost is reported: cost is tokens × the price table. `stats` count this process
 * only (a resumed session reports the resumed turn's tokens, not the session's: checked with the
 * real binary against the model-API stub), so per-turn usage is charged as is.
 *
 * How it is made to work headless (each point checked in the 0.61.0 bundle):
 * - `--skip-trust` (sets `GEMINI_CLI_TRUST_WORKSPACE=true`): without it every turn in an untrusted
 *   folder exits 55 "Gemini CLI is not running in a trusted directory".
 * - Settings go to the *user* settings file of a private `GEMINI_CLI_HOME`, not to
 *   `GEMINI_CLI_SYSTEM_SETTINGS_PATH`: a system settings file is skipped unless it and every
 *   parent directory are owned by root and not group/other-writable ("Parent directory '/tmp' is
 *   insecure"), which a non-root runner can never satisfy. The user file has no such check.
 *   It is written for the turn only (0600, directories 0700) and removed after it; MCP header
 *   secrets stay `${VAR}` placeholders, expanded by Gemini from the environment.
 * - The team server is `trust: true` (only it): Gemini's policy engine then allows its tools in
 *   every mode but plan ("Settings (MCP Trusted)"); untrusted MCP tools need a confirmation
 *   that a headless `auto_edit` turn cannot give, so they are dropped.
 * - `TMPDIR` points into the home: Gemini writes full error reports (with the conversation) to
 *   `os.tmpdir()/gemini-client-error-*.json`; they stay private and are deleted with the run.
 */
export function geminiAdapter(options: GeminiAdapterOptions = {}): AgentAdapter {
  // A new session's id is chosen here (`--session-id`) rather than learnt from the final JSON, so
  // the runner records it at the turn's first progress tick and a runner killed mid-turn can
  // resume the session. runTurn builds the invocation before the parser, for the same input.
  const chosen = new WeakMap<TurnInput, string>();
  return cliAdapter("gemini", options, {
    build: (input, executable) => {
      const sessionId = input.resumeSessionId ? undefined : randomUUID();
      if (sessionId) chosen.set(input, sessionId);
      return buildGeminiInvocation(input, executable, options.home, sessionId);
    },
    parse: (input, priceFn) => new GeminiJsonParser(input, priceFn, chosen.get(input)),
  });
}

const APPROVAL: Record<PermissionMode, string> = {
  plan: "plan",
  manual: "default",
  acceptEdits: "auto_edit",
  auto: "auto_edit",
  dontAsk: "yolo",
  bypassPermissions: "yolo",
};

type AuthType = "gemini-api-key" | "vertex-ai";

export interface GeminiSettings {
  mcpServers: Record<string, unknown>;
  tools?: { allowed: string[] };
  security?: { auth: { selectedType: AuthType } };
  general: { enableAutoUpdate: false; enableAutoUpdateNotification: false };
  privacy: { usageStatisticsEnabled: false };
  telemetry: { enabled: false };
}

/**
 * The settings of one turn, in Gemini's shape (`httpUrl` for streamable HTTP, `url` for SSE).
 * The team server is trusted; the agent's own servers are not (see `geminiAdapter`).
 * `authType`: selected explicitly when known, since a fresh home has no choice recorded.
 */
/**
 * Shell commands a coding agent needs to commit its own work. In `auto_edit` (and `default`) a
 * headless Gemini drops `run_shell_command` from the tools it offers, since nobody can confirm a
 * command; `tools.allowed` entries `run_shell_command(<prefix>)` allow exactly the commands that
 * start with a prefix (and, by Gemini's "narrowing enforcement", deny every other command).
 * yolo allows everything already, and plan allows no shell at all, so neither gets the list.
 */
export const GEMINI_ALLOWED_GIT_COMMANDS = [
  "git add",
  "git commit",
  "git status",
  "git diff",
  "git log",
  "git show",
  "git rm",
  "git mv",
];

export function geminiSettings(
  config: McpConfigFile,
  authType?: AuthType,
  approvalMode?: string,
): GeminiSettings {
  const mcpServers: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(config.mcpServers)) {
    const trust = name === TEAM_SERVER_NAME ? { trust: true } : {};
    if (s.type === "stdio") {
      mcpServers[name] = { command: s.command, args: s.args, ...(s.env ? { env: s.env } : {}), ...trust };
    } else {
      // Gemini expands ${VAR} in settings values, so secret placeholders stay placeholders.
      mcpServers[name] = {
        [s.type === "http" ? "httpUrl" : "url"]: s.url,
        ...(s.headers ? { headers: s.headers } : {}),
        ...trust,
      };
    }
  }
  const narrowShell = approvalMode === "auto_edit" || approvalMode === "default";
  return {
    mcpServers,
    ...(narrowShell
      ? { tools: { allowed: GEMINI_ALLOWED_GIT_COMMANDS.map((c) => `run_shell_command(${c})`) } }
      : {}),
    ...(authType ? { security: { auth: { selectedType: authType } } } : {}),
    general: { enableAutoUpdate: false, enableAutoUpdateNotification: false },
    privacy: { usageStatisticsEnabled: false },
    telemetry: { enabled: false },
  };
}

/** Vertex when asked for (`GOOGLE_GENAI_USE_VERTEXAI=true`), else an API key when one is set. */
function authTypeOf(env: Record<string, string | undefined>): AuthType | undefined {
  if (env.GOOGLE_GENAI_USE_VERTEXAI === "true") return "vertex-ai";
  if (env.GEMINI_API_KEY) return "gemini-api-key";
  return undefined;
}

export function buildGeminiInvocation(
  input: TurnInput,
  executable: string,
  home?: string,
  newSessionId?: string,
): Invocation {
  const args = [
    "--output-format",
    "json",
    "--model",
    input.agent.model,
    "--approval-mode",
    APPROVAL[input.agent.permissionMode],
    "--skip-trust",
  ];
  if (input.resumeSessionId) args.push("--resume", input.resumeSessionId);
  else if (newSessionId) args.push("--session-id", newSessionId);
  args.push("--prompt", withSystemPrompt(input));
  const env: Record<string, string> = { ...(input.mcp?.env ?? {}), ...(input.env ?? {}) };
  const files: Invocation["files"] = [];
  const dirs: string[] = [];
  const geminiHome = home ?? (input.mcp ? join(dirname(input.mcp.path), "gemini-home") : undefined);
  if (geminiHome) {
    env.GEMINI_CLI_HOME = geminiHome;
    env.TMPDIR = join(geminiHome, "tmp");
    dirs.push(geminiHome, join(geminiHome, ".gemini"), env.TMPDIR);
    const settings = geminiSettings(
      input.mcp?.config ?? { mcpServers: {} },
      authTypeOf({ ...process.env, ...env }),
      APPROVAL[input.agent.permissionMode],
    );
    files.push({
      path: join(geminiHome, ".gemini", "settings.json"),
      content: `${JSON.stringify(settings, null, 2)}\n`,
    });
  }
  return { command: executable, args, env, cwd: input.cwd, files, dirs };
}

interface GeminiTokens {
  prompt?: number;
  candidates?: number;
  cached?: number;
  thoughts?: number;
}

interface GeminiOutput {
  session_id?: string;
  response?: string;
  stats?: { models?: Record<string, { tokens?: GeminiTokens }> };
  error?: { type?: string; message?: string; code?: string | number };
}

/** `prompt` includes the cached tokens; thoughts are billed as output. */
function fromGeminiTokens(t: GeminiTokens | undefined): TokenUsage {
  const prompt = t?.prompt ?? 0;
  const cached = Math.min(t?.cached ?? 0, prompt);
  return {
    inputTokens: prompt - cached,
    outputTokens: (t?.candidates ?? 0) + (t?.thoughts ?? 0),
    cacheReadTokens: cached,
    cacheWriteTokens: 0,
  };
}

export class GeminiJsonParser implements OutputParser {
  private readonly lines: string[] = [];
  private readonly model: string;
  private readonly sessionId: string;

  constructor(
    input: TurnInput,
    private readonly priceFn: PriceFn,
    newSessionId?: string,
  ) {
    this.model = input.agent.model;
    this.sessionId = input.resumeSessionId ?? newSessionId ?? "";
  }

  push(line: string): ProgressEvent | undefined {
    this.lines.push(line);
    return undefined;
  }

  snapshot(): ProgressEvent {
    // Gemini's JSON mode reports usage only at the end of the turn.
    return { ...ZERO_USAGE, sessionId: this.sessionId, model: this.model, costUsd: 0, kind: "snapshot" };
  }

  private parse(): GeminiOutput | undefined {
    const text = this.lines.join("\n");
    const start = text.indexOf("{");
    const end = text.lastIndexOf("}");
    if (start < 0 || end < start) return undefined;
    try {
      return JSON.parse(text.slice(start, end + 1)) as GeminiOutput;
    } catch {
      return undefined;
    }
  }

  finish(exit: TurnExit): TurnResult {
    // On failure 0.61.0 prints its JSON object (with `error`) to stderr, not stdout.
    const out = this.parse() ?? lastJsonObject(exit.stderrTail);
    const apiError = geminiApiErrorLine(exit.stderrHead ?? exit.stderrTail);
    const status = httpStatusOf(out?.error, apiError);
    if (status === 401 || status === 403) {
      const detail = out?.error?.message ? apiErrorMessage(out.error.message) : apiError;
      return {
        ...ZERO_USAGE,
        sessionId: out?.session_id ?? this.sessionId,
        isError: true,
        errorKind: "auth",
        // The session loop prefixes "the model API refused the key: " (reason AuthFailed).
        resultText: `Gemini API answered HTTP ${status}${detail ? `: ${detail}` : ""}`,
        usageScope: "turn",
        costUsd: 0,
        costSource: "price-table",
        model: this.model,
      };
    }
    if (!out) {
      const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
      const stderr = exit.stderrTail.trim().slice(-1000);
      const head = apiError && !stderr.includes(apiError) ? ` ${apiError}` : "";
      return {
        ...ZERO_USAGE,
        sessionId: this.sessionId,
        isError: true,
        errorKind: "crashed",
        resultText: `gemini ${how} without its JSON result (stream truncated).${head}${stderr ? ` stderr: ${stderr}` : ""}`,
        costUsd: 0,
        costSource: "price-table",
        model: this.model,
      };
    }
    const models = Object.entries(out.stats?.models ?? {}).map(
      ([m, s]) => [m, fromGeminiTokens(s.tokens)] as [string, TokenUsage],
    );
    const usage = models.reduce((acc, [, u]) => addUsage(acc, u), ZERO_USAGE);
    const costUsd = models.reduce((sum, [m, u]) => sum + this.priceFn(m, u).costUsd, 0);
    const main = models.sort((a, b) => b[1].outputTokens - a[1].outputTokens)[0]?.[0] ?? this.model;
    const isError = out.error !== undefined || exit.code !== 0;
    const errorText = out.error
      ? `${out.error.type ?? "Error"}: ${out.error.message ?? "gemini reported an error"}`
      : `gemini exited with code ${exit.code}`;
    return {
      ...usage,
      sessionId: out.session_id ?? this.sessionId,
      isError,
      ...(isError ? { errorKind: "execution" as const } : {}),
      resultText: isError
        ? `${errorText}${apiError && !errorText.includes(apiErrorMessage(apiError)) ? ` (${apiError})` : ""}`
        : (out.response ?? ""),
      costUsd,
      costSource: "price-table",
      // Checked with the real binary: a resumed session's stats count only the resumed process.
      usageScope: "turn",
      model: main,
    };
  }
}

/** The last complete JSON object in `text` that starts at the beginning of a line. */
function lastJsonObject(text: string): GeminiOutput | undefined {
  for (let at = text.lastIndexOf("\n{"); at >= 0; at = text.lastIndexOf("\n{", at - 1)) {
    try {
      const value = JSON.parse(text.slice(at + 1)) as unknown;
      if (value && typeof value === "object" && !Array.isArray(value)) return value as GeminiOutput;
    } catch {
      // Not a whole object from here: try an earlier line.
    }
    if (at === 0) break;
  }
  return undefined;
}

/**
 * Gemini's one useful line on an API failure, printed before a long stack trace:
 * `Error when talking to Gemini API Full report available at: <file> _ApiError: {"error":{…}}`.
 * Returned without the report's path (it names a private temporary file).
 */
export function geminiApiErrorLine(stderr: string): string | undefined {
  const line = stderr.split("\n").find((l) => l.includes("Error when talking to Gemini API"));
  if (!line) return undefined;
  return line
    .replace(/Full report available at: \S+\s*/, "")
    .trim()
    .slice(0, 1000);
}

/** `{"error":{"code":401,"message":"…","status":"UNAUTHENTICATED"}}` → `UNAUTHENTICATED: …`. */
function apiErrorMessage(text: string): string {
  const json = /\{.*\}/s.exec(text)?.[0];
  if (json) {
    try {
      const parsed = JSON.parse(json) as { error?: { message?: string; status?: string } };
      if (parsed.error?.message) {
        return `${parsed.error.status ? `${parsed.error.status}: ` : ""}${parsed.error.message}`;
      }
    } catch {
      // Not JSON: keep the text.
    }
  }
  return text;
}

/**
 * The HTTP status of a failed turn: the `error.code` of Gemini's JSON, else the `"code"` in the
 * API error line. (0.61.0 also exits with the status mod 256, 401 → 145, but a bare exit code is
 * not taken as proof.)
 */
function httpStatusOf(error: GeminiOutput["error"], apiErrorLine: string | undefined): number | undefined {
  const code = Number(error?.code);
  if (Number.isInteger(code) && code >= 100) return code;
  const fromLine = /"code"\s*:\s*(\d{3})/.exec(apiErrorLine ?? "")?.[1];
  return fromLine ? Number(fromLine) : undefined;
}
