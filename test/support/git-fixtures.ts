import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

/** Real git for tests: a bare repository with an initial commit, and helpers to commit. */

/**
 * A global git config for fixture commands: an identity that a repository's own (or
 * per-worktree) user.name overrides, as on a developer machine, and no user helpers.
 */
const FIXTURE_GLOBAL_CONFIG = path.join(mkdtempSync(path.join(tmpdir(), "squadron-gitconfig-")), "gitconfig");
writeFileSync(
  FIXTURE_GLOBAL_CONFIG,
  "[user]\n\tname = Fixture\n\temail = fixture@example.com\n[commit]\n\tgpgsign = false\n[init]\n\tdefaultBranch = main\n",
);

/** Environment for git in tests: the fixture global config, no system config, no prompts. */
export function fixtureGitEnv(env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GIT_CONFIG_GLOBAL: FIXTURE_GLOBAL_CONFIG,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_TERMINAL_PROMPT: "0",
    LC_ALL: "C",
    ...env,
  };
}

export function runGit(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  return execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: fixtureGitEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
}

export function tempDir(prefix = "squadron-git-"): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export interface BareRepo {
  /** Path of the bare repository (usable as a clone URL). */
  bare: string;
  branch: string;
}

/** A bare repository whose `branch` holds one commit with `files` (default: README.md, package.json). */
export function createBareRepo(
  root: string,
  files: Record<string, string> = { "README.md": "# fixture\n", "src/index.ts": "export {};\n" },
  branch = "main",
  name = "origin.git",
): BareRepo {
  const bare = path.join(root, name);
  runGit(root, ["init", "--bare", "--initial-branch", branch, bare]);
  const seed = mkdtempSync(path.join(root, "seed-"));
  runGit(seed, ["init", "--initial-branch", branch]);
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(seed, file)), { recursive: true });
    writeFileSync(path.join(seed, file), content);
  }
  runGit(seed, ["add", "-A"]);
  runGit(seed, ["commit", "-m", "initial commit"]);
  runGit(seed, ["push", bare, `${branch}:${branch}`]);
  return { bare, branch };
}

/** Writes files in a checkout and commits them (extra args e.g. `--no-verify`). Returns the sha. */
export function commitFiles(
  cwd: string,
  files: Record<string, string>,
  message: string,
  extraArgs: string[] = [],
): string {
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(cwd, file)), { recursive: true });
    writeFileSync(path.join(cwd, file), content);
  }
  runGit(cwd, ["add", "--", ...Object.keys(files)]);
  runGit(cwd, ["commit", "-m", message, ...extraArgs]);
  return runGit(cwd, ["rev-parse", "HEAD"]).trim();
}

export interface GitHttpServer {
  /** Base URL; a repository `<root>/x.git` is `<url>/x.git`. */
  url: string;
  /** Authorization headers received (to assert the credential helper was used). */
  authorizations: string[];
  close(): Promise<void>;
}

/**
 * A smart-HTTP git server (git http-backend behind node:http) that demands Basic auth with
 * the given credentials, so tests prove a token really authenticates a clone and a push.
 */
export async function startGitHttpServer(
  root: string,
  username: string,
  password: string,
): Promise<GitHttpServer> {
  const execPath = execFileSync("git", ["--exec-path"], { encoding: "utf8" }).trim();
  const expected = `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
  const authorizations: string[] = [];
  const server = http.createServer((req, res) => {
    const auth = req.headers.authorization;
    if (auth) authorizations.push(auth);
    if (auth !== expected) {
      res.writeHead(401, { "WWW-Authenticate": 'Basic realm="fixture"' });
      res.end("authentication required\n");
      return;
    }
    const url = new URL(req.url ?? "/", "http://localhost");
    const cgi = spawn(path.join(execPath, "git-http-backend"), [], {
      env: {
        ...process.env,
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: "1",
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.replace(/^\?/, ""),
        REQUEST_METHOD: req.method ?? "GET",
        CONTENT_TYPE: req.headers["content-type"] ?? "",
        HTTP_CONTENT_ENCODING: req.headers["content-encoding"] ?? "",
        GIT_PROTOCOL: String(req.headers["git-protocol"] ?? ""),
        REMOTE_USER: username,
        REMOTE_ADDR: "127.0.0.1",
      },
    });
    req.pipe(cgi.stdin);
    const chunks: Buffer[] = [];
    cgi.stdout.on("data", (c: Buffer) => chunks.push(c));
    cgi.on("close", () => {
      const output = Buffer.concat(chunks);
      const split = output.indexOf("\r\n\r\n");
      const headerText = output.subarray(0, split).toString("utf8");
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of headerText.split("\r\n")) {
        const i = line.indexOf(":");
        const name = line.slice(0, i).trim();
        const value = line.slice(i + 1).trim();
        if (name.toLowerCase() === "status") status = Number.parseInt(value, 10);
        else if (name) headers[name] = value;
      }
      res.writeHead(status, headers);
      res.end(output.subarray(split + 4));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    authorizations,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
