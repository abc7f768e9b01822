import { execFile } from "node:child_process";

/**
 * Running git for the runner: credentials reach git only through a credential helper given
 * on the command line that reads the token from the environment, so the token is never
 * written to .git/config, a remote URL, or any file; and every error text is redacted.
 */

/** Environment variables that may hold a git token, in order of preference. */
export const GIT_TOKEN_ENV = ["SQUADRON_GIT_TOKEN", "GITHUB_TOKEN", "GH_TOKEN"] as const;
/** Optional username; GitHub accepts any non-empty name with a token. */
export const GIT_USERNAME_ENV = "SQUADRON_GIT_USERNAME";

export interface GitCredentials {
  /** The URL prefix the helper answers for (scheme://host), never other hosts. */
  origin: string;
}

export class GitError extends Error {
  constructor(
    message: string,
    readonly args: string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(message);
    this.name = "GitError";
  }
}

/** Every secret-looking value in `env` that must never appear in logs or error text. */
export function secretValues(env: NodeJS.ProcessEnv = process.env): string[] {
  const names = [...GIT_TOKEN_ENV, "SQUADRON_GITHUB_TOKEN", "SQUADRON_WEBHOOK_SECRET"];
  return names.map((n) => env[n]).filter((v): v is string => typeof v === "string" && v.length >= 4);
}

/** Replaces secrets, and passwords embedded in URLs, with `***`. */
export function redact(text: string, env: NodeJS.ProcessEnv = process.env): string {
  let out = text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:)[^@\s/]+@/gi, "$1***@");
  for (const secret of secretValues(env)) out = out.split(secret).join("***");
  return out;
}

/**
 * The `-c` arguments that install the environment-reading credential helper for one origin.
 * The first, empty `credential.helper` clears helpers from the user's or system config, so a
 * `store` helper there cannot persist the token to ~/.git-credentials.
 */
export function credentialHelperArgs(origin: string): string[] {
  const tokenExpr = `\${SQUADRON_GIT_TOKEN:-\${GITHUB_TOKEN:-$GH_TOKEN}}`;
  const script = [
    "!f() {",
    'test "$1" = get || exit 0;',
    `token="${tokenExpr}";`,
    'test -n "$token" || exit 0;',
    `echo "username=\${${GIT_USERNAME_ENV}:-x-access-token}";`,
    'echo "password=$token";',
    "}; f",
  ].join(" ");
  return ["-c", "credential.helper=", "-c", `credential.${origin}.helper=${script}`];
}

/** `https://host` for http(s) URLs; undefined for local paths, file:// and ssh. */
export function httpOrigin(url: string): string | undefined {
  if (!/^https?:\/\//i.test(url)) return undefined;
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}`;
}

/** Refuses URLs with embedded credentials: they would end up in .git/config. */
export function assertNoEmbeddedCredentials(url: string): void {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return;
  }
  if (parsed.password || (parsed.username && /^https?:$/.test(parsed.protocol))) {
    throw new Error(
      `repository.url ${redact(url)} embeds credentials; give the URL without them and provide the token through repository.credentialsSecret (SQUADRON_GIT_TOKEN in the runner)`,
    );
  }
}

export interface GitOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Origin (scheme://host) the credential helper serves; only for network commands. */
  credentialsFor?: string;
  /** Bytes of stdout to accept (default 64 MiB). */
  maxBuffer?: number;
  /** Text fed to git's stdin. */
  input?: string;
}

/** Environment for git children: never prompt for anything, always English messages. */
export function gitEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return {
    ...env,
    GIT_TERMINAL_PROMPT: "0",
    GIT_ASKPASS: "",
    SSH_ASKPASS: "",
    LC_ALL: "C",
  };
}

/** Runs git; resolves with stdout, rejects with a redacted GitError. */
export function git(args: string[], options: GitOptions): Promise<string> {
  const env = options.env ?? process.env;
  const fullArgs = [...(options.credentialsFor ? credentialHelperArgs(options.credentialsFor) : []), ...args];
  return new Promise((resolve, reject) => {
    const child = execFile(
      "git",
      fullArgs,
      { cwd: options.cwd, env: gitEnv(env), maxBuffer: options.maxBuffer ?? 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        const code = typeof error.code === "number" ? error.code : null;
        const detail = redact(String(stderr || stdout || error.message).trim(), env);
        reject(
          new GitError(
            `git ${redact(args.join(" "), env)} failed${code === null ? "" : ` (exit ${code})`} in ${options.cwd}: ${detail}`,
            args,
            code,
            redact(String(stderr), env),
          ),
        );
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Like git() but resolves with the exit code instead of rejecting on a non-zero exit. */
export async function gitStatus(
  args: string[],
  options: GitOptions,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    return { code: 0, stdout: await git(args, options), stderr: "" };
  } catch (error) {
    if (error instanceof GitError && error.exitCode !== null) {
      return { code: error.exitCode, stdout: "", stderr: error.stderr };
    }
    throw error;
  }
}
