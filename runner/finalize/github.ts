import { Octokit } from "@octokit/rest";

/** Owner and name of a GitHub repository, parsed from its clone URL. */
export interface GitHubRepo {
  host: string;
  owner: string;
  repo: string;
}

/** Accepts `https://host/owner/repo(.git)`, `git@host:owner/repo(.git)` and `ssh://git@host/owner/repo`. */
export function parseGitHubUrl(url: string): GitHubRepo {
  const scp = /^[\w.-]+@([\w.-]+):\/?([^/\s]+)\/([^/\s]+?)(?:\.git)?\/?$/.exec(url);
  if (scp) return { host: scp[1] as string, owner: scp[2] as string, repo: scp[3] as string };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(
      `cannot tell the GitHub owner and repository from ${url}: expected https://host/owner/repo or git@host:owner/repo`,
    );
  }
  const parts = parsed.pathname.replace(/^\/+|\/+$/g, "").split("/");
  if (!/^(https?|ssh|git):$/.test(parsed.protocol) || parts.length !== 2 || !parts[0] || !parts[1]) {
    throw new Error(
      `cannot tell the GitHub owner and repository from ${url}: expected https://host/owner/repo or git@host:owner/repo`,
    );
  }
  return { host: parsed.hostname, owner: parts[0], repo: parts[1].replace(/\.git$/, "") };
}

/** The REST API root for a host: api.github.com, or GitHub Enterprise Server's `/api/v3`. */
export function apiBaseUrl(host: string): string {
  return host === "github.com" || host === "www.github.com"
    ? "https://api.github.com"
    : `https://${host}/api/v3`;
}

/** `{{name}}` placeholders; unknown ones are left as written so a typo is visible. */
export { renderTemplate } from "../../core/manifest/templates.ts";

export interface PullRequestRequest {
  owner: string;
  repo: string;
  title: string;
  body: string;
  head: string;
  base: string;
  draft: boolean;
  reviewers: string[];
  labels: string[];
}

export interface PullRequestCreated {
  number: number;
  url: string;
  /** False when an open pull request for the branch already existed (finalize re-run). */
  created: boolean;
}

export function githubClient(options: { token?: string; baseUrl: string }): Octokit {
  return new Octokit({
    ...(options.token ? { auth: options.token } : {}),
    baseUrl: options.baseUrl,
    userAgent: "squadron-runner",
    request: { retries: 0 },
    // Failures are reported in finalize's result; Octokit's own request log would only repeat them.
    log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
  });
}

/**
 * Opens the pull request (or finds the open one for the same branch), then requests
 * reviewers (`org/team` entries as team reviewers) and adds labels.
 */
export async function openPullRequest(
  octokit: Octokit,
  request: PullRequestRequest,
): Promise<PullRequestCreated> {
  const { owner, repo } = request;
  let number: number;
  let url: string;
  let created = true;
  try {
    const { data } = await octokit.rest.pulls.create({
      owner,
      repo,
      title: request.title,
      body: request.body,
      head: request.head,
      base: request.base,
      draft: request.draft,
    });
    number = data.number;
    url = data.html_url;
  } catch (error) {
    const existing = isAlreadyExists(error)
      ? (await octokit.rest.pulls.list({ owner, repo, head: `${owner}:${request.head}`, state: "open" }))
          .data[0]
      : undefined;
    if (!existing)
      throw new Error(
        `GitHub refused the pull request for ${request.head} → ${request.base}: ${describe(error)}`,
      );
    number = existing.number;
    url = existing.html_url;
    created = false;
  }
  const users = request.reviewers.filter((r) => !r.includes("/"));
  const teams = request.reviewers.filter((r) => r.includes("/")).map((r) => r.split("/").pop() as string);
  if (users.length > 0 || teams.length > 0) {
    await octokit.rest.pulls
      .requestReviewers({ owner, repo, pull_number: number, reviewers: users, team_reviewers: teams })
      .catch((error: unknown) => {
        throw new Error(`pull request ${url} was opened but requesting reviewers failed: ${describe(error)}`);
      });
  }
  if (request.labels.length > 0) {
    await octokit.rest.issues
      .addLabels({ owner, repo, issue_number: number, labels: request.labels })
      .catch((error: unknown) => {
        throw new Error(`pull request ${url} was opened but adding labels failed: ${describe(error)}`);
      });
  }
  return { number, url, created };
}

function isAlreadyExists(error: unknown): boolean {
  const e = error as { status?: number; message?: string };
  return e?.status === 422 && /already exists/i.test(describe(error));
}

function describe(error: unknown): string {
  const e = error as {
    status?: number;
    message?: string;
    response?: { data?: { message?: string; errors?: { message?: string }[] } };
  };
  const details = e?.response?.data?.errors?.map((x) => x.message).filter(Boolean) ?? [];
  return [e?.status ? `HTTP ${e.status}` : "", e?.message ?? String(error), ...details]
    .filter(Boolean)
    .join(": ");
}
