/**
 * The demo `npm start` runs: a local git repository, examples/hello-team.yaml submitted through
 * the HTTP API like any client would, its approval gate approved (or the command printed), and
 * progress until the team ends.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parse as parseYaml, stringify } from "yaml";

const exec = promisify(execFile);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const HELLO_TEAM = join(ROOT, "examples", "hello-team.yaml");

const GIT_IDENTITY = {
  GIT_AUTHOR_NAME: "Squadron demo",
  GIT_AUTHOR_EMAIL: "demo@squadron.invalid",
  GIT_COMMITTER_NAME: "Squadron demo",
  GIT_COMMITTER_EMAIL: "demo@squadron.invalid",
};

/** `<baseDir>/.local/demo-repo`: a repository with one commit on `main` (kept if it exists). */
export async function ensureDemoRepository(baseDir: string): Promise<{ path: string; created: boolean }> {
  const path = join(baseDir, ".local", "demo-repo");
  if (existsSync(join(path, ".git"))) return { path, created: false };
  await mkdir(path, { recursive: true });
  const git = (...args: string[]) =>
    exec("git", args, { cwd: path, env: { ...process.env, ...GIT_IDENTITY } });
  await git("init", "-q", "-b", "main");
  await writeFile(
    join(path, "README.md"),
    "# Squadron demo repository\n\nThe local demo's team works on this repository; its result is pushed as a branch.\n",
  );
  await git("add", "README.md");
  await git("commit", "-q", "-m", "Initial commit");
  return { path, created: true };
}

export interface ApiClient {
  request(
    method: string,
    path: string,
    body?: string,
    contentType?: string,
  ): Promise<{ status: number; body: unknown }>;
}

export function apiClient(endpoint: string, token: string): ApiClient {
  return {
    async request(method, path, body, contentType = "application/json") {
      const res = await fetch(`${endpoint}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined ? { "content-type": contentType } : {}),
        },
        ...(body !== undefined ? { body } : {}),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON
      }
      return { status: res.status, body: parsed };
    },
  };
}

interface TeamView {
  name: string;
  phase: string;
  reason: string | null;
  message: string | null;
  ready: string;
  tasks: { total: number; done: number };
  cost: { usd: number; budgetUsd: number | null };
  lead: { name: string; phase: string; pendingApproval: string | null; simulated?: boolean };
  teammates: Array<{ name: string; phase: string; pendingApproval: string | null; simulated?: boolean }>;
  gates: Record<string, { state: string }>;
  events: Array<{ reason: string; message: string }>;
}

const TERMINAL = new Set(["Completed", "Failed", "TimedOut", "BudgetExceeded", "Cancelled"]);

export interface DemoOptions {
  endpoint: string;
  token: string;
  baseDir: string;
  namespace?: string;
  autoApprove?: boolean;
  print: (line: string) => void;
  pollMs?: number;
  /** Gives up waiting after this long (the team's own timeout normally ends it first). */
  timeoutMs?: number;
}

export interface DemoResult {
  name: string;
  phase: string;
  costUsd: number;
  branch?: string;
  delivered?: string;
}

async function branchExists(repo: string, branch: string): Promise<boolean> {
  return exec("git", ["-C", repo, "rev-parse", "--verify", "--quiet", `refs/heads/${branch}`]).then(
    () => true,
    () => false,
  );
}

/**
 * A name not taken yet: hello-team, then hello-team-2, -3… A finished run keeps its name, and
 * the demo repository keeps the branch an earlier run (maybe with another data directory) pushed.
 */
async function freeName(client: ApiClient, namespace: string, base: string, repo: string): Promise<string> {
  for (let i = 1; i < 1000; i++) {
    const name = i === 1 ? base : `${base}-${i}`;
    const res = await client.request("GET", `/api/namespaces/${namespace}/teams/${name}`);
    if (res.status === 404 && !(await branchExists(repo, `squadron/${name}`))) return name;
  }
  throw new Error(`every name from ${base} to ${base}-999 is taken`);
}

function progressLine(view: TeamView): string {
  const agents = [view.lead, ...view.teammates]
    .map((a) => `${a.name}:${a.phase}${a.simulated ? "*" : ""}`)
    .join(" ");
  return `  ${view.phase.padEnd(12)} ready ${view.ready.padEnd(5)} tasks ${view.tasks.done}/${view.tasks.total}  cost $${view.cost.usd.toFixed(4)}   ${agents}`;
}

/** Submits hello-team and follows it to the end. */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const { print } = options;
  const namespace = options.namespace ?? "default";
  const client = apiClient(options.endpoint, options.token);
  const repo = await ensureDemoRepository(options.baseDir);
  print(`${repo.created ? "Created" : "Using"} the demo repository ${repo.path}`);

  const manifest = parseYaml(await readFile(HELLO_TEAM, "utf8")) as { metadata: { name: string } };
  const name = await freeName(client, namespace, manifest.metadata.name, repo.path);
  manifest.metadata.name = name;
  const created = await client.request(
    "POST",
    `/api/namespaces/${namespace}/teams`,
    stringify(manifest),
    "application/yaml",
  );
  if (created.status !== 201) {
    throw new Error(`submitting ${HELLO_TEAM} failed (${created.status}): ${JSON.stringify(created.body)}`);
  }
  print(
    `Submitted team ${name} from examples/hello-team.yaml (lead + greeter + reviewer; reviewer dependsOn greeter, gate spawn-reviewer).`,
  );
  print("  (* = simulated agent)");

  const deadline = Date.now() + (options.timeoutMs ?? 15 * 60_000);
  let last = "";
  const told = new Set<string>();
  let view: TeamView | undefined;
  while (Date.now() < deadline) {
    const res = await client.request("GET", `/api/namespaces/${namespace}/teams/${name}`);
    if (res.status !== 200)
      throw new Error(`reading team ${name} failed (${res.status}): ${JSON.stringify(res.body)}`);
    view = res.body as TeamView;
    const line = progressLine(view);
    if (line !== last) {
      print(line);
      last = line;
    }
    for (const agent of [view.lead, ...view.teammates]) {
      const gate = agent.pendingApproval;
      if (!gate || told.has(gate)) continue;
      told.add(gate);
      if (options.autoApprove ?? true) {
        const approved = await client.request(
          "POST",
          `/api/namespaces/${namespace}/teams/${name}/gates/${gate}/approve`,
          JSON.stringify({}),
        );
        print(`  Gate ${gate} approved automatically for the demo (${approved.status}).`);
      } else {
        print(
          `  ${agent.name} waits for approval. Approve it with:\n\n    npx squadron approve team ${name} ${gate}\n`,
        );
      }
    }
    if (TERMINAL.has(view.phase)) break;
    await new Promise((r) => setTimeout(r, options.pollMs ?? 500));
  }
  if (!view) throw new Error("the demo team could not be read");
  const delivered = [...view.events].reverse().find((e) => e.reason === "Delivered")?.message;
  const branch = /branch (\S+)/.exec(delivered ?? "")?.[1];
  const result: DemoResult = {
    name,
    phase: view.phase,
    costUsd: view.cost.usd,
    ...(branch ? { branch } : {}),
    ...(delivered ? { delivered } : {}),
  };
  if (view.phase === "Completed") {
    print(
      `Team ${name} completed. Simulated cost $${view.cost.usd.toFixed(4)} (the scripted agents' usage at list prices; nothing was spent).`,
    );
    if (branch)
      print(`Result: branch ${branch} in ${repo.path}  (git -C ${repo.path} log --oneline ${branch})`);
  } else {
    print(`Team ${name} ended in ${view.phase}: ${view.message ?? view.reason ?? ""}`);
  }
  return result;
}
