import { execFile } from "node:child_process";
import { ensureDemoRepository } from "./demo.ts";

type Env = Record<string, string | undefined>;

/** The manifest annotation that keeps a repository as written in local mode (`"false"`). */
export const LOCALIZE_ANNOTATION = "squadron.dev/localize-repository";
/** The stack-wide opt-out: `SQUADRON_LOCALIZE_REPOSITORIES=false` in `npm start`'s environment. */
export const LOCALIZE_ENV = "SQUADRON_LOCALIZE_REPOSITORIES";

/** A URL git reads from this machine's disk: `file://`, an absolute or relative path. */
export function isLocalRepositoryUrl(url: string): boolean {
  if (url.startsWith("file://")) return true;
  return !/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && !/^[^/]+@[^:]+:/.test(url);
}

/**
 * Whether git can list the repository's refs from here, within `timeoutMs`: no prompt for
 * credentials (GIT_TERMINAL_PROMPT=0, ssh BatchMode), so an unreachable or private repository
 * answers quickly instead of waiting for a password nobody types.
 */
export function repositoryReachable(
  url: string,
  env: Env,
  timeoutMs = 15_000,
): Promise<{ ok: boolean; why: string }> {
  return new Promise((resolve) => {
    execFile(
      "git",
      ["ls-remote", "--exit-code", "-q", url, "HEAD"],
      {
        timeout: timeoutMs,
        env: {
          ...env,
          GIT_TERMINAL_PROMPT: "0",
          GIT_SSH_COMMAND: "ssh -o BatchMode=yes -o ConnectTimeout=5 -o StrictHostKeyChecking=accept-new",
        },
      },
      (error, _stdout, stderr) => {
        if (!error) return resolve({ ok: true, why: "" });
        const first = String(stderr)
          .split("\n")
          .map((l) => l.replace(/^(fatal|ssh|error): /i, "").trim())
          .find((l) => l !== "");
        resolve({
          ok: false,
          why: first ?? ((error as { killed?: boolean }).killed ? "timed out" : error.message),
        });
      },
    );
  });
}

export interface Localization {
  from: string;
  to: string;
  branch: string;
  why: string;
}

/**
 * Local mode only (never in AWS): a team whose repository this machine cannot reach (the
 * examples' `git@github.com:acme/...`) works on the local demo repository instead, on `main`,
 * so the README's commands run as written. Said by a `Localized` Warning event. Opt out per
 * manifest with the annotation `squadron.dev/localize-repository: "false"`, or for the stack
 * with `SQUADRON_LOCALIZE_REPOSITORIES=false`: the clone then fails as it would in AWS.
 */
export async function localizeRepository(
  repository: { url: string; branch?: string },
  annotations: Record<string, string> | undefined,
  baseDir: string,
  env: Env,
): Promise<Localization | undefined> {
  if (isLocalRepositoryUrl(repository.url)) return undefined;
  if (annotations?.[LOCALIZE_ANNOTATION] === "false" || env[LOCALIZE_ENV] === "false") return undefined;
  const reach = await repositoryReachable(repository.url, env);
  if (reach.ok) return undefined;
  const demo = await ensureDemoRepository(baseDir);
  return { from: repository.url, to: `file://${demo.path}`, branch: "main", why: reach.why };
}
