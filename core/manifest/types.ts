/**
 * The normalized team model: what a manifest becomes after parsing, defaulting and
 * (for an AgentTeamRun) merging with its template. Every other part of Squadron (store,
 * state machine, runner, CLI) works on these types, never on raw manifests.
 *
 * The zod schemas in this folder produce exactly these shapes (checked at compile time in
 * schema.ts), so these interfaces are the contract other modules code against.
 */

export const SQUADRON_API_VERSION = "squadron.dev/v1alpha1";
export const KAGENTS_API_VERSION = "claude.amcheste.io/v1alpha1";
/** kagents v0.8's API group (a rename of the previous one, same schema); kept as written. */
export const KAGENTS_DEV_API_VERSION = "kagents.dev/v1alpha1";
export type ApiVersion =
  | typeof SQUADRON_API_VERSION
  | typeof KAGENTS_API_VERSION
  | typeof KAGENTS_DEV_API_VERSION;

/** kagents' `spec.harness`: only Claude Code exists there, which is Squadron's `cli: claude`. */
export const HARNESSES = ["claude-code"] as const;
export type Harness = (typeof HARNESSES)[number];

/** Agent CLIs a runner can drive. `scripted` is Squadron's deterministic test/demo agent. */
export const AGENT_CLIS = ["claude", "codex", "gemini", "aider", "scripted"] as const;
export type AgentCli = (typeof AGENT_CLIS)[number];

/** Claude Code's `--permission-mode` choices (checked against `claude --help` 2.1.329). */
export const PERMISSION_MODES = [
  "acceptEdits",
  "auto",
  "bypassPermissions",
  "manual",
  "dontAsk",
  "plan",
] as const;
export type PermissionMode = (typeof PERMISSION_MODES)[number];

export const ON_COMPLETE_ACTIONS = ["create-pr", "push-branch", "notify", "deliver", "none"] as const;
export type OnComplete = (typeof ON_COMPLETE_ACTIONS)[number];

/** kagents v0.8's delivery target types Squadron sends (`email` and `google-drive` are refused). */
export const DELIVERY_TYPES = ["webhook", "slack"] as const;
export type DeliveryType = (typeof DELIVERY_TYPES)[number];

/**
 * One `lifecycle.delivery[]` target, sent when the team completes (onComplete: deliver).
 * webhook: a JSON envelope POSTed to `url`, signed with `credentialsSecret` (else the team's
 * observability secretRef, else the deployment's webhook key). slack: an incoming-webhook message,
 * the URL read at send time from the key `slack-webhook-url` of the secret `credentialsSecret`.
 */
export type DeliveryTargetSpec =
  | { type: "webhook"; url: string; message?: string; credentialsSecret?: string }
  | { type: "slack"; credentialsSecret: string; channel?: string; message?: string };

export type TeamMode = "coding" | "cowork";

export interface ObjectMeta {
  name: string;
  /** Defaults to "default", as in Kubernetes. */
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface RepositorySpec {
  url: string;
  /** Defaults to "main". */
  branch: string;
  /** Name of the secret holding git credentials (a Secrets Manager name in AWS). */
  credentialsSecret?: string;
}

/**
 * One input of a cowork workspace. Exactly one source is set:
 * - `configMap`: kagents' form; Squadron maps the name to the prefix
 *   `configmaps/<namespace>/<name>/` of its bucket (a directory locally);
 * - `s3Prefix`: `s3://bucket/prefix/` or a prefix of Squadron's own bucket;
 * - `files`: inline files, path (relative to mountPath) to content.
 */
export interface WorkspaceInput {
  mountPath: string;
  configMap?: string;
  s3Prefix?: string;
  files?: Record<string, string>;
}

export interface WorkspaceOutput {
  /** Defaults to "/workspace/output". */
  mountPath: string;
  /** Defaults to "5Gi" (kept for kagents compatibility; EFS is elastic). */
  size: string;
  /** Where outputs are delivered; defaults to the run's own prefix of Squadron's bucket. */
  s3Prefix?: string;
}

export interface WorkspaceSpec {
  inputs: WorkspaceInput[];
  output: WorkspaceOutput;
}

export interface AuthSpec {
  /** Anthropic API key secret (kagents' field). */
  apiKeySecret?: string;
  /** Secrets for other CLIs' keys, by CLI. */
  cliSecrets?: Partial<Record<Exclude<AgentCli, "scripted">, string>>;
}

export interface ScopeSpec {
  includePaths: string[];
  excludePaths: string[];
}

/** A skill materialised as `.claude/skills/<name>/SKILL.md`. Exactly one source is set. */
export interface SkillSpec {
  name: string;
  source: {
    configMap?: string;
    s3Prefix?: string;
    /** The SKILL.md content itself. */
    inline?: string;
    /**
     * kagents v0.8: an OCI artifact reference (registry/repository[:tag][@sha256:digest]) as
     * `oras push` publishes a skill directory; pulled by the runner (runner/workspace/oci-skill.ts)
     * with the team's first imagePullSecret.
     */
    oci?: string;
  };
}

/** kagents v0.8 `spec.imagePullSecrets[]`: a kubernetes.io/dockerconfigjson secret by name. */
export interface ImagePullSecret {
  name: string;
}

/** A remote MCP server given to one agent (streamable HTTP or SSE). */
export interface McpServerSpec {
  name: string;
  url: string;
  /** Defaults to "http" (streamable HTTP). */
  transport: "http" | "sse";
  /** Secret whose value is sent in `authHeader` (never written to disk). */
  authSecret?: string;
  /** Defaults to "Authorization". */
  authHeader: string;
}

export interface ResourcesSpec {
  cpu?: string;
  memory?: string;
}

/** One step of a scripted agent's script (schema in agent-script.ts). */
export type { ScriptStep } from "./agent-script.ts";

import type { ScriptStep } from "./agent-script.ts";

/**
 * kagents v0.8 artifact routing. A declared output is a file the teammate must have written when
 * it ends (else it fails); `path` is a container path under `/workspace` (or relative to it),
 * resolved against the agent's working directory as Squadron maps every `/workspace` mount.
 */
export interface ArtifactOutput {
  path: string;
  description?: string;
}

/**
 * An artifact a teammate consumes: the output of teammate `from` whose path's basename is
 * `artifact`, copied read-only to `<mountPath>/<artifact>` before this teammate starts. `from`
 * is an implicit dependency.
 */
export interface ArtifactInput {
  from: string;
  artifact: string;
  mountPath: string;
}

export interface AgentSpec {
  /** DNS-1123 label. The lead is named "lead" unless its manifest names it. */
  name: string;
  role: "lead" | "teammate";
  /** opus | sonnet | haiku or a full model id. Lead defaults to opus, teammates to sonnet. */
  model: string;
  prompt: string;
  /** Defaults to "claude". */
  cli: AgentCli;
  /** Defaults to "acceptEdits" (headless agents cannot answer prompts). */
  permissionMode: PermissionMode;
  scope?: ScopeSpec;
  dependsOn: string[];
  skills: SkillSpec[];
  mcpServers: McpServerSpec[];
  resources?: ResourcesSpec;
  /** Script for `cli: scripted` (and for simulated agents); see runner/scripted-agent. */
  script?: ScriptStep[];
  /** Upper bound on agent turns per session, passed to CLIs that support it. */
  maxTurns?: number;
  /** Teammates only (kagents v0.8): files this teammate must produce. Absent when not declared. */
  outputs?: ArtifactOutput[];
  /** Teammates only (kagents v0.8): artifacts staged for this teammate before it starts. */
  inputs?: ArtifactInput[];
}

export interface PullRequestSpec {
  /** Defaults to the repository branch. */
  targetBranch?: string;
  titleTemplate?: string;
  bodyTemplate?: string;
  reviewers: string[];
  labels: string[];
  draft: boolean;
}

export type ApprovalChannel = "webhook" | "slack" | "api";

export interface ApprovalGateSpec {
  /**
   * `spawn-<teammate>`: the teammate is not started until approved; `stage-<stage>`: no teammate
   * of that pipeline stage is started until approved.
   */
  event: string;
  /** Defaults to "api" when no webhookUrl is given, "webhook" otherwise. */
  channel: ApprovalChannel;
  webhookUrl?: string;
  slackChannel?: string;
  /** Who may approve (Slack user ids or IAM principal names); empty means the deployment's list. */
  approvers: string[];
}

export interface LifecycleSpec {
  /** As written, e.g. "2h", "90m", "1h30m". Defaults to the deployment's default timeout, else "4h". */
  timeout: string;
  /** The timeout in seconds. */
  timeoutSeconds: number;
  /** USD; defaults to the deployment's default budget; absent means no budget. */
  budgetLimit?: number;
  /** Defaults to "notify". */
  onComplete: OnComplete;
  /** Where onComplete "deliver" sends its notices (required with it, refused without it). */
  delivery?: DeliveryTargetSpec[];
  pullRequest?: PullRequestSpec;
  /**
   * kagents: the branch Finalize pushes (push-branch, create-pr), e.g. "teams/{{.TeamName}}";
   * default `squadron/<team>` (core/run-files/layout.ts consolidatedBranch).
   */
  consolidatedBranchTemplate?: string;
  approvalGates: ApprovalGateSpec[];
  /** Restarts of a failed teammate (never the lead). Defaults to 3. */
  maxRestarts: number;
}

export interface QualityGatesSpec {
  requireTests: boolean;
  requireLint: boolean;
  /** A shell script run in the consolidated checkout; non-zero exit fails the run. */
  validationScript?: string;
  /** Commands used by requireTests/requireLint; default to `npm test` / `npm run lint`. */
  testCommand?: string;
  lintCommand?: string;
}

export interface CoordinationSpec {
  /** How work reaches teammates: the lead assigns (default) or teammates claim freely. */
  taskAssignment: "lead-assigns" | "self-claim";
  /** Whether teammates may message each other directly, not only the lead. */
  peerMessaging: boolean;
  /** kagents' field, kept when given; Squadron always uses the shared file system ("shared-volume"). */
  mailboxBackend?: "shared-volume";
  /** kagents' field, kept when given; Squadron always uses the shared file system ("shared-volume"). */
  taskBackend?: "shared-volume";
}

export interface WebhookSpec {
  url: string;
  /** Secret used to HMAC-sign payloads (X-Squadron-Signature). */
  secretRef?: string;
  /**
   * kagents' subscription list: the run-level events to send, by Squadron's or kagents' name
   * (webhook-events.ts); absent means every event. Gate approval requests are not filtered.
   */
  events?: string[];
}

export interface ObservabilitySpec {
  webhook?: WebhookSpec;
}

/**
 * One stage of kagents' `spec.pipeline`. Its teammates start only after every teammate of every
 * upstream stage (transitively) has succeeded; with `approvalRequired` the gate `stage-<name>`
 * must also be approved first.
 */
export interface PipelineStage {
  name: string;
  teammates: string[];
  /** Upstream stage names. */
  dependsOn: string[];
  /** kagents marks it informational: how the stage's teammates relate. Defaults to "parallel". */
  fan: "parallel" | "merge";
  /** Defaults to false. */
  approvalRequired: boolean;
}

export interface PipelineSpec {
  stages: PipelineStage[];
}

export interface TeamSpec {
  mode: TeamMode;
  /** kagents' harness, kept as written; every agent then runs Claude Code. */
  harness?: Harness;
  /** Stage ordering (kagents v0.8); exclusive with teammates' `dependsOn`. */
  pipeline?: PipelineSpec;
  repository?: RepositorySpec;
  workspace?: WorkspaceSpec;
  auth: AuthSpec;
  /** Registry credentials for `source.oci` skills; the first is used (kagents). */
  imagePullSecrets?: ImagePullSecret[];
  lead: AgentSpec;
  teammates: AgentSpec[];
  coordination: CoordinationSpec;
  lifecycle: LifecycleSpec;
  qualityGates?: QualityGatesSpec;
  observability: ObservabilitySpec;
  /**
   * Set only by an AgentTeamTrigger fire (never parsed from a manifest): the webhook's JSON body,
   * written by WorkspaceInit as a read-only file at `mountPath` (core/triggers, docs/manifests.md).
   */
  triggerPayload?: TriggerPayload;
}

/** The payload of the fire that created a run (see core/triggers/fire.ts). */
export interface TriggerPayload {
  /** The trigger that fired. */
  trigger: string;
  /** Absolute file path as written in `payloadInjection.mountPath` (`/workspace/...`). */
  mountPath: string;
  /** The request body exactly as received and verified (JSON text, never executed). */
  content: string;
  /** Hex SHA-256 of the body. */
  sha256: string;
}

/** A concrete team, ready to store and run. */
export interface AgentTeam {
  apiVersion: ApiVersion;
  kind: "AgentTeam";
  metadata: ObjectMeta;
  spec: TeamSpec;
}

/** A reusable pattern: teammates, coordination, quality gates and a default lifecycle. */
export interface AgentTeamTemplate {
  apiVersion: ApiVersion;
  kind: "AgentTeamTemplate";
  metadata: ObjectMeta;
  spec: {
    description?: string;
    teammates: AgentSpec[];
    /** Stage ordering of the template's teammates, copied into every run's team. */
    pipeline?: PipelineSpec;
    coordination: CoordinationSpec;
    qualityGates?: QualityGatesSpec;
    lifecycle: LifecycleSpec;
    lead?: Partial<AgentSpec>;
  };
}

/** Instantiates a template with a repository or workspace, auth and a lead. */
export interface AgentTeamRun {
  apiVersion: ApiVersion;
  kind: "AgentTeamRun";
  metadata: ObjectMeta;
  spec: {
    templateRef: { name: string };
    repository?: RepositorySpec;
    workspace?: WorkspaceSpec;
    auth: AuthSpec;
    imagePullSecrets?: ImagePullSecret[];
    lead: AgentSpec;
    /** Replaces the template's lifecycle whole when given (kagents' rule). */
    lifecycle?: LifecycleSpec;
    observability: ObservabilitySpec;
  };
}

export const CONCURRENCY_POLICIES = ["Allow", "Forbid", "Replace"] as const;
export type ConcurrencyPolicy = (typeof CONCURRENCY_POLICIES)[number];

/**
 * kagents v0.8's signed webhook trigger: each verified POST creates an AgentTeamRun of
 * `templateRef` with the run fields below (core/triggers).
 */
export interface AgentTeamTrigger {
  apiVersion: ApiVersion;
  kind: "AgentTeamTrigger";
  metadata: ObjectMeta;
  spec: {
    trigger: { webhook: { path: string; secret: string } };
    templateRef: { name: string };
    repository?: RepositorySpec;
    workspace?: WorkspaceSpec;
    auth: AuthSpec;
    imagePullSecrets?: ImagePullSecret[];
    lead: AgentSpec;
    lifecycle?: LifecycleSpec;
    observability: ObservabilitySpec;
    payloadInjection?: { mountPath: string };
    /** Defaults to "Allow" (kagents' default). */
    concurrencyPolicy: ConcurrencyPolicy;
  };
}

/**
 * kagents v0.8: creates an AgentTeamRun of `templateRef` at every fire of a five-field cron
 * (core/schedules/). The run's fields are the schedule's; `status` is kept apart (ScheduleRecord).
 */
export interface AgentTeamSchedule {
  apiVersion: ApiVersion;
  kind: "AgentTeamSchedule";
  metadata: ObjectMeta;
  spec: {
    /** Five-field cron: minute hour day-of-month month day-of-week. */
    schedule: string;
    /** IANA time zone the cron is read in; default UTC. */
    timeZone: string;
    templateRef: { name: string };
    repository?: RepositorySpec;
    workspace?: WorkspaceSpec;
    auth: AuthSpec;
    imagePullSecrets?: ImagePullSecret[];
    lead: AgentSpec;
    lifecycle?: LifecycleSpec;
    observability: ObservabilitySpec;
    /** Finished runs kept; older ones are deleted. 0 keeps every run (kagents' meaning). */
    historyLimit: number;
    suspend: boolean;
  };
}

export type SquadronResource =
  | AgentTeam
  | AgentTeamTemplate
  | AgentTeamRun
  | AgentTeamTrigger
  | AgentTeamSchedule;

/** One validation problem: where it is and a sentence a person can act on. */
export interface ValidationIssue {
  /** Dotted path from the document root, e.g. `spec.teammates[1].dependsOn[0]`. */
  path: string;
  message: string;
  severity: "error" | "warning";
  /** 1-based line and column in the source text, when the manifest came from text. */
  line?: number;
  column?: number;
  /** 0-based index of the resource in a multi-document input. */
  document?: number;
}
