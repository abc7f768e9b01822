/**
 * A local stack for end-to-end tests: started in the test process with a temporary data
 * directory and config, short runner timings, agents CLIs unavailable (so they are simulated),
 * and an HTTP client that talks to it like any other client.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LocalStack, type LocalStackOptions, startLocalStack } from "../../local/stack.ts";

/** Shared by every test stack: the synthesised definition is cached here once. */
export const DEFINITION_CACHE = join(process.cwd(), ".cache", "local-definition");

/** Runner timings that keep scripted teams fast on a 2-core machine. */
export const FAST_RUNNER_ENV = {
  SQUADRON_POLL_INTERVAL_MS: "100",
  SQUADRON_HEARTBEAT_MS: "1000",
  SQUADRON_USAGE_REPORT_MS: "200",
  SQUADRON_IDLE_GRACE_MS: "5000",
  SQUADRON_LEAD_FINISH_GRACE_MS: "3000",
  SQUADRON_STOP_GRACE_MS: "1000",
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
};

/** No agent CLI key: every claude/codex/... agent runs simulated, whatever this machine has. */
export function envWithoutAgentKeys(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const key of [
    "ANTHROPIC_API_KEY",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "OPENAI_API_KEY",
    "CODEX_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
  ]) {
    delete env[key];
  }
  return env;
}

export type Api = (
  method: string,
  path: string,
  body?: unknown,
  options?: { token?: string | null; contentType?: string },
) => Promise<{ status: number; body: any }>;

export function apiFor(endpoint: string, token: string): Api {
  return async (method, path, body, options = {}) => {
    const auth = options.token === null ? undefined : (options.token ?? token);
    const text = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    const res = await fetch(`${endpoint}${path}`, {
      method,
      headers: {
        ...(auth ? { authorization: `Bearer ${auth}` } : {}),
        ...(text !== undefined ? { "content-type": options.contentType ?? "application/json" } : {}),
      },
      ...(text !== undefined ? { body: text } : {}),
    });
    const raw = await res.text();
    let parsed: unknown = raw;
    try {
      parsed = raw ? JSON.parse(raw) : undefined;
    } catch {
      // plain text
    }
    return { status: res.status, body: parsed };
  };
}

export interface TestStack {
  stack: LocalStack;
  api: Api;
  dataDir: string;
  /** Polls GET team until `until` holds (or the team ends), collecting every view seen. */
  follow(
    namespace: string,
    name: string,
    until?: (view: any) => boolean,
    timeoutMs?: number,
  ): Promise<{ view: any; seen: any[] }>;
  stop(): Promise<void>;
  /** Starts the stack again on the same data directory (after stop). */
  start(): Promise<void>;
  restart(): Promise<void>;
  cleanup(): Promise<void>;
}

const TERMINAL = new Set(["Completed", "Failed", "TimedOut", "BudgetExceeded", "Cancelled"]);

export async function startTestStack(
  options: Partial<LocalStackOptions> & { dataDir?: string } = {},
): Promise<TestStack> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "squadron-e2e-"));
  const stackOptions: LocalStackOptions = {
    dataDir,
    port: 0,
    cacheDir: DEFINITION_CACHE,
    env: envWithoutAgentKeys(),
    stopGraceMs: 1000,
    ...options,
    runnerEnv: { ...FAST_RUNNER_ENV, ...options.runnerEnv },
  };
  const holder: { stack: LocalStack; api: Api } = {
    stack: undefined as unknown as LocalStack,
    api: undefined as unknown as Api,
  };
  const boot = async () => {
    holder.stack = await startLocalStack(stackOptions);
    holder.api = apiFor(holder.stack.endpoint, holder.stack.token);
  };
  await boot();
  const t: TestStack = {
    get stack() {
      return holder.stack;
    },
    get api() {
      return holder.api;
    },
    dataDir,
    async follow(namespace, name, until = (v) => TERMINAL.has(v.phase), timeoutMs = 90_000) {
      const seen: any[] = [];
      const end = Date.now() + timeoutMs;
      while (Date.now() < end) {
        const res = await holder.api("GET", `/api/namespaces/${namespace}/teams/${name}`);
        if (res.status !== 200)
          throw new Error(`GET team ${name}: ${res.status} ${JSON.stringify(res.body)}`);
        seen.push(res.body);
        if (until(res.body) || TERMINAL.has(res.body.phase)) return { view: res.body, seen };
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(
        `team ${name} did not get there in ${timeoutMs} ms; last: ${JSON.stringify(seen.at(-1)?.phase)}`,
      );
    },
    stop: () => holder.stack.stop(),
    start: boot,
    restart: async () => {
      await holder.stack.stop();
      await boot();
    },
    cleanup: async () => {
      await holder.stack.stop();
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(holder.stack.paths.secrets, { recursive: true, force: true });
    },
  };
  return t;
}

/**
 * True while a process with this pid exists and is not a zombie: a killed orphan stays a zombie
 * until init reaps it, which some inits (a container's) do late or never.
 */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return true; // no /proc: kill(0) is all there is
  }
}

/** Pids of processes (ours) whose environment names this run: runners, agent CLIs, MCP servers. */
export function processesOfRun(runId: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`, "utf8");
      if (env.split("\0").includes(`SQUADRON_RUN_ID=${runId}`)) found.push(Number(entry));
    } catch {
      // gone, or not ours
    }
  }
  return found;
}
