import { SIGNATURE_HEADER, sendWebhook, type WebhookPayload } from "../../core/control/webhook.ts";
import { effectiveDependsOn } from "../../core/manifest/pipeline.ts";
import { renderBranchTemplate, templateValues } from "../../core/manifest/templates.ts";
import type { AgentSpec, AgentTeam, OnComplete } from "../../core/manifest/types.ts";
import {
  consolidatedBranch,
  localConsolidatedBranch,
  type RunLayout,
  resolveMountPath,
  runLayout,
  teammateBranch,
} from "../../core/run-files/layout.ts";
import { listFiles } from "../../core/run-files/object-store.ts";
import { type ScopeViolation, scopeViolationsInRange } from "../scope/check.ts";
import { isRestricted } from "../scope/match.ts";
import { git, gitStatus, httpOrigin, redact } from "../workspace/git.ts";
import { describeFailedGates, type GateResult, runQualityGates } from "./gates.ts";
import { apiBaseUrl, githubClient, openPullRequest, parseGitHubUrl, renderTemplate } from "./github.ts";
import {
  abortUnfinishedMerge,
  type CommitInfo,
  commitPending,
  commitsBetween,
  dependencyOrder,
  type MergeConflict,
  mergeBranch,
} from "./merge.ts";
import { type AgentOutcome, pullRequestBody, totalCost } from "./report.ts";

export const DEFAULT_PR_TITLE = "Squadron: {{team}}";
export const TIMESTAMP_HEADER = "X-Squadron-Timestamp";

export interface FinalizeOptions {
  runDir: string;
  team: AgentTeam;
  runId: string;
  /** Tokens (SQUADRON_GIT_TOKEN, GITHUB_TOKEN, SQUADRON_GITHUB_TOKEN) and webhook secret; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Measured outcome per agent, for the PR body and the notification. */
  agents?: AgentOutcome[];
  /** The run's phase to report when nothing in finalize fails (default "Succeeded"). */
  phase?: string;
  /** Overrides `spec.lifecycle.onComplete`. */
  onComplete?: OnComplete;
  github?: {
    /** REST API root; defaults to SQUADRON_GITHUB_API_URL, else derived from the repository host. */
    baseUrl?: string;
    /** Defaults to SQUADRON_GITHUB_TOKEN, GITHUB_TOKEN, GH_TOKEN, then SQUADRON_GIT_TOKEN. */
    token?: string;
    /** Where the repository URL says nothing about GitHub (a local path in tests, a mirror). */
    owner?: string;
    repo?: string;
  };
  webhook?: {
    /** HMAC secret (the resolved `observability.webhook.secretRef`); defaults to SQUADRON_WEBHOOK_SECRET. */
    secret?: string;
    attempts?: number;
    baseDelayMs?: number;
  };
  /** Commits outside an agent's scope: "fail" (default) stops delivery, "exclude" leaves that agent's branch out. */
  scopePolicy?: "fail" | "exclude";
  /** Commit what agents left uncommitted before merging (default true). */
  commitPending?: boolean;
  gateTimeoutMs?: number;
  /** Aborted when the run is stopped: running gates are ended with everything they started. */
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export interface FinalizeResult {
  ok: boolean;
  mode: "coding" | "cowork";
  action: OnComplete;
  /** The consolidated branch as pushed (`squadron/<team>`). */
  branch?: string;
  /** Commits the consolidated branch adds to the base branch, newest first. */
  commits: CommitInfo[];
  /** Teammates whose branches were merged, in merge order. */
  merged: string[];
  pushed: boolean;
  pullRequestUrl?: string;
  pullRequestNumber?: number;
  conflicts?: MergeConflict[];
  scopeViolations?: ScopeViolation[];
  /** Files agents left uncommitted outside their scope (not delivered). */
  skippedFiles?: { agent: string; files: string[] }[];
  /**
   * Commits the runner made for agents that left work uncommitted (a fallback, never the
   * agent's own commit): reported as Warning events, so a team whose agents could not commit
   * does not look as if they had.
   */
  fallbackCommits?: { agent: string; sha: string; files: string[] }[];
  gates: GateResult[];
  /** Cowork: the files the run left for delivery (DeliverOutputs copies them to the bucket). */
  outputs?: { mountPath: string; files: string[] };
  notification?: { url: string; attempts: number; status?: number; error?: string };
  costUsd: number;
  /** Why ok is false, as one sentence (gate output is in `gates`). */
  error?: string;
}

/**
 * The runner's `finalize` mode. Never throws for an expected failure (conflicts, scope
 * violations, failing gates, a refused push): they come back in the result with ok=false.
 */
export async function finalize(options: FinalizeOptions): Promise<FinalizeResult> {
  const env = options.env ?? process.env;
  const team = options.team;
  const layout = runLayout(options.runDir);
  const action = options.onComplete ?? team.spec.lifecycle.onComplete;
  const result: FinalizeResult = {
    ok: true,
    mode: team.spec.mode,
    action,
    commits: [],
    merged: [],
    pushed: false,
    gates: [],
    costUsd: totalCost(options.agents ?? []),
  };
  try {
    if (team.spec.mode === "coding") await finalizeCoding(options, layout, result, env);
    else await finalizeCowork(options, layout, result);
  } catch (error) {
    result.ok = false;
    result.error = redact(error instanceof Error ? error.message : String(error), env);
  }
  await notify(options, result, env);
  return result;
}

function fail(result: FinalizeResult, error: string): void {
  result.ok = false;
  result.error ??= error;
}

async function finalizeCoding(
  options: FinalizeOptions,
  layout: RunLayout,
  result: FinalizeResult,
  env: NodeJS.ProcessEnv,
) {
  const { team } = options;
  const log = options.log ?? (() => {});
  const repository = team.spec.repository;
  if (!repository) throw new Error(`team ${team.metadata.name} is in coding mode but has no spec.repository`);
  const teamName = team.metadata.name;
  const repoDir = layout.repoDir;
  const base = `origin/${repository.branch}`;
  const lead = team.spec.lead;
  const leadBranch = teammateBranch(teamName, lead.name);
  const localBranch = localConsolidatedBranch(teamName);

  // A previous finalize may have stopped mid-merge or left the checkout on the consolidated branch.
  await abortUnfinishedMerge(repoDir);
  const head = (
    await gitStatus(["symbolic-ref", "--quiet", "--short", "HEAD"], { cwd: repoDir })
  ).stdout.trim();
  if (head !== leadBranch) await git(["checkout", "-q", leadBranch], { cwd: repoDir });

  const agents: AgentSpec[] = [lead, ...team.spec.teammates];
  const dirOf = (a: AgentSpec) => (a.role === "lead" ? repoDir : `${layout.worktreesDir}/${a.name}`);
  if (options.commitPending ?? true) {
    for (const agent of agents) {
      const pending = await commitPending(dirOf(agent), agent.name, agent.scope);
      if (pending.sha) {
        log(`committed changes ${agent.name} left uncommitted: ${pending.sha}`);
        result.fallbackCommits = [
          ...(result.fallbackCommits ?? []),
          { agent: agent.name, sha: pending.sha, files: pending.files },
        ];
      }
      if (pending.skipped.length > 0) {
        result.skippedFiles = [...(result.skippedFiles ?? []), { agent: agent.name, files: pending.skipped }];
      }
    }
  }

  // Commits that bypassed the pre-commit hook (--no-verify).
  const violations: ScopeViolation[] = [];
  for (const agent of agents) {
    if (!isRestricted(agent.scope)) continue;
    violations.push(
      ...(await scopeViolationsInRange(
        repoDir,
        agent.name,
        base,
        teammateBranch(teamName, agent.name),
        agent.scope,
      )),
    );
  }
  const excluded = new Set(violations.map((v) => v.agent));
  if (violations.length > 0) {
    result.scopeViolations = violations;
    const summary = violations
      .map((v) => `${v.agent} ${v.commit.slice(0, 8)} (${v.files.join(", ")})`)
      .join("; ");
    if ((options.scopePolicy ?? "fail") === "fail" || excluded.has(lead.name)) {
      fail(result, `commits touch files outside their agent's scope: ${summary}`);
      return;
    }
    log(`leaving out ${[...excluded].join(", ")}: commits outside scope: ${summary}`);
  }

  await git(["checkout", "-q", "-B", localBranch, leadBranch], { cwd: repoDir });
  const conflicts: MergeConflict[] = [];
  // Pipeline stages order the merges as they ordered the work (upstream stages first).
  const ordered = team.spec.teammates.map((t) => ({ ...t, dependsOn: effectiveDependsOn(team.spec, t) }));
  for (const mate of dependencyOrder(ordered)) {
    if (excluded.has(mate.name)) continue;
    const outcome = await mergeBranch(repoDir, mate.name, teammateBranch(teamName, mate.name));
    if (outcome.merged) result.merged.push(mate.name);
    if (outcome.conflict) conflicts.push(outcome.conflict);
  }
  result.commits = await commitsBetween(repoDir, base, "HEAD");
  if (conflicts.length > 0) {
    result.conflicts = conflicts;
    const summary = conflicts
      .map((c) => `${c.agent}: ${c.files.length > 0 ? c.files.join(", ") : c.message}`)
      .join("; ");
    fail(result, `merging the teammates' branches conflicts (${summary})`);
    return;
  }

  result.gates = await runQualityGates(team.spec.qualityGates, repoDir, {
    env,
    timeoutMs: options.gateTimeoutMs,
    signal: options.signal,
    log,
  });
  const failed = result.gates.filter((g) => !g.ok);
  if (failed.length > 0) {
    fail(result, describeFailedGates(failed));
    return;
  }

  if (action(result) !== "push-branch" && action(result) !== "create-pr") return;
  if (result.commits.length === 0) {
    fail(
      result,
      `the team made no commits on top of ${repository.branch}; there is nothing to ${action(result) === "create-pr" ? "open a pull request for" : "push"}`,
    );
    return;
  }
  const branchTemplate = team.spec.lifecycle.consolidatedBranchTemplate;
  const remoteBranch = branchTemplate
    ? renderBranchTemplate(branchTemplate, {
        team: teamName,
        namespace: team.metadata.namespace,
        runId: options.runId,
      })
    : consolidatedBranch(teamName);
  await git(["push", "--porcelain", "origin", `${localBranch}:refs/heads/${remoteBranch}`], {
    cwd: repoDir,
    env,
    credentialsFor: httpOrigin(repository.url),
  }).catch((error: Error) => {
    throw new Error(
      `pushing ${remoteBranch} was refused (if an earlier run left a branch of that name, delete it or rename the team): ${error.message}`,
    );
  });
  result.branch = remoteBranch;
  result.pushed = true;
  log(`pushed ${remoteBranch} (${result.commits.length} commits)`);

  if (action(result) === "create-pr") {
    const pr = team.spec.lifecycle.pullRequest;
    const parsed = options.github?.owner && options.github.repo ? undefined : parseGitHubUrl(repository.url);
    const owner = options.github?.owner ?? (parsed?.owner as string);
    const repo = options.github?.repo ?? (parsed?.repo as string);
    const baseUrl =
      options.github?.baseUrl ?? env.SQUADRON_GITHUB_API_URL ?? apiBaseUrl(parsed?.host ?? "github.com");
    const token =
      options.github?.token ??
      env.SQUADRON_GITHUB_TOKEN ??
      env.GITHUB_TOKEN ??
      env.GH_TOKEN ??
      env.SQUADRON_GIT_TOKEN;
    const targetBranch = pr?.targetBranch ?? repository.branch;
    const values = templateValues(
      { team: teamName, namespace: team.metadata.namespace, runId: options.runId },
      { branch: remoteBranch, base: targetBranch },
    );
    const created = await openPullRequest(githubClient({ baseUrl, token }), {
      owner,
      repo,
      title: renderTemplate(pr?.titleTemplate ?? DEFAULT_PR_TITLE, values),
      body: pullRequestBody({
        team,
        runId: options.runId,
        agents: options.agents ?? [],
        commits: result.commits,
        gates: result.gates,
        scopeViolations: violations,
        intro: pr?.bodyTemplate ? renderTemplate(pr.bodyTemplate, values) : undefined,
      }),
      head: remoteBranch,
      base: targetBranch,
      draft: pr?.draft ?? false,
      reviewers: pr?.reviewers ?? [],
      labels: pr?.labels ?? [],
    });
    result.pullRequestUrl = created.url;
    result.pullRequestNumber = created.number;
    log(`pull request ${created.url}${created.created ? "" : " (already open)"}`);
  }
}

const action = (result: FinalizeResult) => result.action;

async function finalizeCowork(options: FinalizeOptions, layout: RunLayout, result: FinalizeResult) {
  const { team } = options;
  result.gates = await runQualityGates(team.spec.qualityGates, layout.workspaceDir, {
    env: options.env,
    timeoutMs: options.gateTimeoutMs,
    signal: options.signal,
    ...(options.log ? { log: options.log } : {}),
  });
  const failed = result.gates.filter((g) => !g.ok);
  if (failed.length > 0) {
    fail(result, describeFailedGates(failed));
    return;
  }
  // Delivery is not the runner's: the state machine's DeliverOutputs step copies this directory to
  // the bucket with a role the runner does not hold (core/control/run-outputs.ts).
  const output = team.spec.workspace?.output ?? { mountPath: "/workspace/output", size: "5Gi" };
  result.outputs = {
    mountPath: output.mountPath,
    files: await listFiles(resolveMountPath(layout, output.mountPath)),
  };
}

/** Posts the outcome to `observability.webhook`, signed, with retries. Never throws. */
async function notify(
  options: FinalizeOptions,
  result: FinalizeResult,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  const webhook = options.team.spec.observability.webhook;
  if (!webhook) {
    if (result.action === "notify")
      (options.log ?? (() => {}))("onComplete is notify but the team has no observability.webhook");
    return;
  }
  const timestamp = new Date().toISOString();
  const payload = {
    event: result.ok ? "run.completed" : "run.failed",
    team: options.team.metadata.name,
    namespace: options.team.metadata.namespace,
    phase: result.ok ? (options.phase ?? "Succeeded") : "Failed",
    runId: options.runId,
    costUsd: result.costUsd,
    ...(result.error ? { message: result.error.split("\n")[0] } : {}),
    timestamp,
    outcome: {
      ...result,
      gates: result.gates.map(({ output: _output, ...rest }) => rest),
      notification: undefined,
    },
    agents: options.agents ?? [],
  } satisfies WebhookPayload & Record<string, unknown>;
  const secret = options.webhook?.secret ?? env.SQUADRON_WEBHOOK_SECRET;
  // The timestamp also travels in a header so receivers can reject stale deliveries cheaply.
  const fetchWithTimestamp: typeof fetch = (input, init) =>
    fetch(input, {
      ...init,
      headers: { ...(init?.headers as Record<string, string>), [TIMESTAMP_HEADER]: timestamp },
    });
  try {
    const delivery = await sendWebhook({
      url: webhook.url,
      payload,
      ...(secret ? { secret } : {}),
      attempts: options.webhook?.attempts ?? 5,
      baseDelayMs: options.webhook?.baseDelayMs ?? 500,
      fetch: fetchWithTimestamp,
    });
    result.notification = { url: webhook.url, attempts: delivery.attempts, status: delivery.status };
  } catch (error) {
    const e = error as { attempts?: number; lastStatus?: number; message?: string };
    result.notification = {
      url: webhook.url,
      attempts: e.attempts ?? 0,
      ...(e.lastStatus ? { status: e.lastStatus } : {}),
      error: redact(e.message ?? String(error), env),
    };
    if (result.action === "notify")
      fail(result, `the outcome could not be posted to the webhook: ${result.notification.error}`);
  }
}

export { SIGNATURE_HEADER };
