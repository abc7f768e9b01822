import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { parse as parseYaml } from "yaml";
import { approveAnnotatedGates, decideGate, GateDecisionError } from "../../core/control/approvals.ts";
import type { ControlDeps } from "../../core/control/deps.ts";
import {
  type Authorizer,
  assertNameOfPath,
  assertNamespaceAllowed,
  HttpError,
  type HttpRequest,
  type HttpResponse,
  json,
  type Logger,
  parseJsonBody,
  Router,
  text,
} from "../../core/control/http.ts";
import type { IdempotencyKeys } from "../../core/control/idempotency.ts";
import {
  type LabelRequirement,
  LabelSelectorError,
  matchesLabels,
  parseLabelSelector,
} from "../../core/control/label-selector.ts";
import { UnknownRunError } from "../../core/control/run-index.ts";
import { changedPaths } from "../../core/control/spec-diff.ts";
import {
  BeingCreatedError,
  createTeamRun,
  deleteTeam,
  teamSummary,
  teamView,
} from "../../core/control/team-runs.ts";
import { teamFromRun } from "../../core/control/template-runs.ts";
import { annotatedApprovals } from "../../core/manifest/approval-annotations.ts";
import { ManifestError } from "../../core/manifest/issues.ts";
import {
  checkManifestDefaults,
  type ManifestDefaults,
  type ManifestOptions,
} from "../../core/manifest/options.ts";
import { parseResource } from "../../core/manifest/parse.ts";
import { type TaskTeamOptions, teamFromTask } from "../../core/manifest/task.ts";
import {
  type AgentTeam,
  type AgentTeamTemplate,
  SQUADRON_API_VERSION,
  type SquadronResource,
} from "../../core/manifest/types.ts";
import { InvalidTransitionError, isTerminalTeamPhase } from "../../core/status/phases.ts";
import {
  ConflictError,
  InvalidPageTokenError,
  MAX_STORED_MANIFEST_BYTES,
  ManifestTooLargeError,
  NotFoundError,
  StillRunningError,
  UnknownNameError,
  VersionConflictError,
} from "../../core/store/errors.ts";
import type { PublicTeamRun, TeamRunRef, TemplateRecord } from "../../core/store/items.ts";
import type { TriggerStore } from "../../core/triggers/trigger-store.ts";
import { TriggerNotFoundError, TriggerPathTakenError } from "../../core/triggers/trigger-store.ts";
import { type ScheduleRouteDeps, scheduleRoutes } from "./schedule-routes.ts";
import { registerTriggerRoutes } from "./trigger-routes.ts";

export interface ApiDeps
  extends Pick<
    ControlDeps,
    | "store"
    | "runs"
    | "starter"
    | "stopper"
    | "tokens"
    | "notifier"
    | "teamFiles"
    | "teamLogs"
    | "logger"
    | "now"
  > {
  idempotency: IdempotencyKeys;
  authorize: Authorizer;
  /** Namespace of `POST /api/tasks`. */
  taskNamespace?: string;
  /** The deployment's timeout and budget for manifests (teams, templates, runs, tasks) that set none. */
  manifestDefaults?: ManifestDefaults;
  /** AgentTeamTriggers and their HMAC keys (a team secret by namespace and name); both or no trigger routes. */
  triggers?: TriggerStore;
  triggerSecret?: (namespace: string, name: string) => Promise<string | undefined>;
  /** AgentTeamSchedule's store and timers; without them the API has no schedule routes. */
  schedules?: Pick<ScheduleRouteDeps, "schedules" | "scheduleTimers">;
}

const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Parses a request's YAML without logging: yaml's default `logLevel: "warn"` passes a document's
 * warnings (an unresolved tag, quoting the client's text) to process.emitWarning, which would let
 * any caller write lines into the API's logs. Errors still throw; warnings stay on the document.
 */
function parseRequestYaml(text: string): unknown {
  return parseYaml(text, { logLevel: "error" });
}

/** Maps domain errors to HTTP: bad input is always a 4xx, never a 500. */
function toHttp(error: unknown): never {
  if (error instanceof HttpError) throw error;
  if (error instanceof ManifestError) {
    const errors = error.issues.filter((i) => i.severity === "error");
    throw new HttpError(
      400,
      `manifest is invalid (${errors.length} problem${errors.length === 1 ? "" : "s"})`,
      errors.map(({ path, message }) => ({ path, message })),
    );
  }
  if (error instanceof NotFoundError) throw new HttpError(404, error.message);
  if (error instanceof BeingCreatedError) throw new HttpError(409, error.message);
  if (error instanceof StillRunningError) throw new HttpError(409, error.message);
  if (error instanceof UnknownRunError) throw new HttpError(404, error.message);
  if (error instanceof ConflictError) throw new HttpError(409, error.message);
  if (error instanceof VersionConflictError) throw new HttpError(409, error.message);
  if (error instanceof InvalidTransitionError) throw new HttpError(409, error.message);
  if (error instanceof InvalidPageTokenError) throw new HttpError(400, error.message);
  if (error instanceof ManifestTooLargeError) {
    throw new HttpError(413, error.message, [
      { path: "spec", message: `at most ${MAX_STORED_MANIFEST_BYTES / 1024} KiB once normalized` },
    ]);
  }
  if (error instanceof UnknownNameError) throw new HttpError(404, error.message);
  if (error instanceof TriggerNotFoundError) throw new HttpError(404, error.message);
  if (error instanceof TriggerPathTakenError) {
    throw new HttpError(409, error.message, [{ path: "spec.trigger.webhook.path", message: error.message }]);
  }
  if (error instanceof GateDecisionError) throw new HttpError(error.status, error.message);
  if (error instanceof RangeError) throw new HttpError(400, error.message);
  throw error;
}

function guarded(fn: (req: HttpRequest) => Promise<HttpResponse>) {
  return async (req: HttpRequest) => {
    try {
      return await fn(req);
    } catch (error) {
      toHttp(error);
    }
  };
}

function pageOptions(req: HttpRequest): { limit: number; nextToken?: string } {
  const raw = req.query.limit;
  const limit = raw === undefined ? 50 : Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
    throw new HttpError(400, "limit must be an integer from 1 to 100", [
      { path: "limit", message: `got ${raw}` },
    ]);
  }
  return req.query.nextToken ? { limit, nextToken: req.query.nextToken } : { limit };
}

/** `?labelSelector=` as kubectl sends it; a page holds the matching runs of the page read. */
function labelSelectorOf(req: HttpRequest): LabelRequirement[] | undefined {
  const raw = req.query.labelSelector;
  if (raw === undefined || raw === "") return undefined;
  try {
    return parseLabelSelector(raw);
  } catch (error) {
    if (!(error instanceof LabelSelectorError)) throw error;
    throw new HttpError(400, "invalid label selector", [{ path: "labelSelector", message: error.message }]);
  }
}

const LOGS_DEFAULT_LIMIT = 500;
const LOGS_MAX_LIMIT = 1000;

/** Log pages are larger than other lists: a reader wants hundreds of lines per request. */
function logsPageOptions(req: HttpRequest): { limit: number; nextToken?: string } {
  const raw = req.query.limit;
  const limit = raw === undefined ? LOGS_DEFAULT_LIMIT : Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > LOGS_MAX_LIMIT) {
    throw new HttpError(400, `limit must be an integer from 1 to ${LOGS_MAX_LIMIT}`, [
      { path: "limit", message: `got ${raw}` },
    ]);
  }
  return req.query.nextToken ? { limit, nextToken: req.query.nextToken } : { limit };
}

/** `since` is an ISO 8601 time (a date alone means its midnight UTC). */
function sinceOf(raw: string): Date {
  const ms = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(raw)
    ? Date.parse(raw)
    : Number.NaN;
  if (!Number.isFinite(ms)) {
    throw new HttpError(400, `since must be an ISO 8601 time such as 2026-01-01T10:00:00Z, got ${raw}`, [
      { path: "since", message: "not an ISO 8601 time" },
    ]);
  }
  return new Date(ms);
}

/** Manifest text (YAML or JSON; JSON is YAML) → one resource, namespace defaulted from the path. */
function manifestFrom(req: HttpRequest, namespace: string, options: ManifestOptions): SquadronResource {
  if (req.body.trim() === "")
    throw new HttpError(400, "request body is empty; send a manifest (YAML or JSON)");
  if (Buffer.byteLength(req.body) > MAX_BODY_BYTES) throw new HttpError(413, "manifest is larger than 1 MiB");
  // The path's namespace applies when the manifest names none; a different one is a mistake.
  let raw: unknown;
  try {
    raw = parseRequestYaml(req.body);
  } catch {
    raw = undefined; // parseResource reports the syntax error with its position
  }
  if (raw && typeof raw === "object" && !Array.isArray(raw)) {
    const meta = (raw as { metadata?: { namespace?: unknown } }).metadata;
    if (meta && typeof meta === "object" && meta.namespace !== undefined && meta.namespace !== namespace) {
      throw new HttpError(
        400,
        `manifest namespace ${String(meta.namespace)} differs from the path's ${namespace}`,
        [{ path: "metadata.namespace", message: `must be ${namespace} (or omitted) on this path` }],
      );
    }
  }
  // Validated for the namespace it will be stored in (output prefixes depend on it).
  const resource = parseResource(req.body, { ...options, namespace });
  resource.metadata.namespace = namespace;
  return resource;
}

async function teamFromManifest(
  deps: ApiDeps,
  resource: SquadronResource,
  namespace: string,
  options: ManifestOptions,
): Promise<AgentTeam> {
  if (resource.kind === "AgentTeam") return resource;
  if (resource.kind === "AgentTeamRun") {
    return teamFromRun(deps, resource, { ...options, namespace }).catch((error) => {
      if (error instanceof NotFoundError && error.kind === "template") {
        throw new HttpError(400, error.message, [
          {
            path: "spec.templateRef.name",
            message: `no template ${resource.spec.templateRef.name} in ${namespace}`,
          },
        ]);
      }
      throw error;
    });
  }
  throw new HttpError(400, `expected an AgentTeam or AgentTeamRun, got ${resource.kind}`, [
    { path: "kind", message: "templates are created under /templates, triggers under /triggers" },
  ]);
}

/**
 * `apply` of an AgentTeam, as `kubectl apply`: creates the run when the name is free. When a team
 * of that name exists, the same manifest is a no-op (200, `unchanged: true`; approval annotations
 * added to it approve those gates of a running team, kagents' `kubectl annotate ...
 * approved.kagents.dev/<event>=true`, each exactly once, decided by whoever applied), and a
 * changed one is a 409 naming every field path that differs: a running team's spec cannot change,
 * and a finished one is deleted first to run again (docs/api.md, "Names and re-runs").
 */
async function applyTeam(deps: ApiDeps, team: AgentTeam, appliedBy: string): Promise<HttpResponse> {
  const ref = { namespace: team.metadata.namespace, name: team.metadata.name };
  const approvals = annotatedApprovals(team.metadata);
  try {
    await createTeamRun(deps, team);
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    const existing = await deps.store.findRun(ref);
    if (!existing) throw error; // deleted meanwhile: the caller may apply again
    const changes = [
      ...changedPaths(existing.team.spec, team.spec, "spec"),
      ...changedPaths(existing.team.metadata.labels ?? {}, team.metadata.labels ?? {}, "metadata.labels"),
    ];
    const ended = isTerminalTeamPhase(existing.status.phase);
    if (changes.length > 0) {
      throw new HttpError(
        409,
        ended
          ? `team ${ref.name} has ended (${existing.status.phase}) with another spec; delete it (squadron delete team ${ref.name}), then apply again to start a new run`
          : `team ${ref.name} is ${existing.status.phase}: a running team's spec cannot change (${changes.length} field${changes.length === 1 ? "" : "s"} differ); delete it, or wait until it has ended, then apply again`,
        changes.map((path) => ({ path, message: `differs from team ${ref.name}'s run ${existing.runId}` })),
      );
    }
    const approved =
      !ended && approvals.length > 0 ? await approveAnnotatedGates(deps, ref, team, appliedBy) : [];
    const record = await deps.store.getRun(ref);
    const events = await deps.store.listEvents(ref, { limit: 100 });
    return json(200, {
      ...teamView(record, ownEvents(record, events.items)),
      unchanged: approved.length === 0,
      ...(approvals.length > 0 ? { approved } : {}),
    });
  }
  const approved = approvals.length > 0 ? await approveAnnotatedGates(deps, ref, team, appliedBy) : [];
  const record = await deps.store.getRun(ref);
  return json(201, { ...teamView(record, []), ...(approvals.length > 0 ? { approved } : {}) });
}

/** A late writer of a deleted run may still append under the name: a view shows its own run's events only. */
function ownEvents<E extends { runId: string }>(record: { runId: string }, events: E[]): E[] {
  return events.filter((e) => e.runId === record.runId);
}

/** Workspace init and finalize: logged like agents, under these names. */
const RUN_STAGES = ["init", "finalize"];

function mayRead(req: HttpRequest, namespace: string): boolean {
  const allowed = req.principal.namespaces;
  return allowed === "*" || allowed.includes(namespace);
}

/** How long a deleted team's run stays readable by run id (`GET .../runs/{runId}`). */
function retention(deps: ApiDeps, record: PublicTeamRun) {
  return {
    deleted: true,
    retentionDays: deps.store.retentionPeriodDays,
    runPath: `/api/namespaces/${record.namespace}/runs/${record.runId}`,
  };
}

/** The run `runId` of the path's namespace: the team's current run, or one whose team was deleted. */
async function runById(
  deps: ApiDeps,
  req: HttpRequest,
): Promise<{ record: PublicTeamRun; deleted: boolean }> {
  const namespace = req.params.namespace as string;
  const runId = req.params.runId as string;
  const notFound = new HttpError(
    404,
    `no run ${runId} in namespace ${namespace} (deleted runs are kept for a retention period)`,
  );
  if (!/^[a-z0-9-]{1,80}$/.test(runId)) throw notFound;
  const retired = await deps.store.getRetiredRun(runId);
  if (retired) {
    if (retired.namespace !== namespace) throw notFound;
    return { record: retired, deleted: true };
  }
  const ref = await deps.runs.resolve(runId).catch((error) => {
    if (error instanceof UnknownRunError) throw notFound;
    throw error;
  });
  if (ref.namespace !== namespace) throw notFound;
  const live = await deps.store.findRun(ref);
  if (!live) throw notFound;
  return { record: live, deleted: false };
}

/** `nextToken` of the list across namespaces: the namespace to go on with and its own page token. */
function encodeAllNamespacesToken(namespace: string, inner: string | undefined): string {
  return Buffer.from(JSON.stringify({ all: namespace, ...(inner ? { t: inner } : {}) })).toString(
    "base64url",
  );
}

function allNamespacesPosition(
  token: string | undefined,
  namespaces: string[],
): { index: number; token?: string } {
  if (token === undefined) return { index: 0 };
  let body: { all?: unknown; t?: unknown };
  try {
    body = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as typeof body;
  } catch {
    throw new InvalidPageTokenError();
  }
  const index = typeof body?.all === "string" ? namespaces.indexOf(body.all) : -1;
  if (index < 0 || (body.t !== undefined && typeof body.t !== "string")) throw new InvalidPageTokenError();
  return body.t === undefined ? { index } : { index, token: body.t as string };
}

function idempotent(deps: ApiDeps, req: HttpRequest, namespace: string, create: () => Promise<HttpResponse>) {
  const key = req.headers["idempotency-key"];
  if (key === undefined) return create();
  return deps.idempotency.run({ namespace, key, method: req.method, path: req.path, body: req.body }, () =>
    create().catch(toHttp),
  );
}

function ref(req: HttpRequest): TeamRunRef {
  return { namespace: req.params.namespace as string, name: req.params.name as string };
}

export function apiRouter(deps: ApiDeps, logger?: Logger): Router {
  const taskNamespace = deps.taskNamespace ?? "default";
  // Checked here, once, so a misconfigured deployment fails at start-up and never answers 400.
  const manifestOptions: ManifestOptions = { defaults: checkManifestDefaults(deps.manifestDefaults ?? {}) };
  const router = new Router(deps.authorize, logger);
  const ns = "/api/namespaces/{namespace}";

  router.on("GET", "/api/health", async () => json(200, { status: "ok" }), { public: true });
  // The simple "agent orchestrator" API Squadron is compatible with serves `GET /health` → 200 `OK`.
  router.on("GET", "/health", async () => text(200, "OK"), { public: true });

  router.on(
    "POST",
    "/api/tasks",
    guarded(async (req) => {
      assertNamespaceAllowed(req.principal, taskNamespace);
      const body = parseJsonBody(req) as Record<string, unknown> | null;
      if (!body || typeof body !== "object" || Array.isArray(body)) {
        throw new HttpError(400, 'body must be a JSON object like {"task": "..."}');
      }
      if (typeof body.task !== "string" || body.task.trim() === "") {
        // Word for word the seed API's answer, so clients written for it keep working.
        throw new HttpError(400, "task field is required and cannot be empty", [
          { path: "task", message: "say what the agent should do" },
        ]);
      }
      const options: TaskTeamOptions = { ...manifestOptions, namespace: taskNamespace };
      for (const k of [
        "name",
        "model",
        "cli",
        "timeout",
        "budgetLimit",
        "repository",
        "permissionMode",
      ] as const) {
        if (body[k] !== undefined) (options as Record<string, unknown>)[k] = body[k];
      }
      return idempotent(deps, req, taskNamespace, async () => {
        const record = await createTeamRun(deps, teamFromTask(body.task, options));
        return json(202, {
          status: "accepted",
          message: "Task has been accepted and is being processed",
          id: record.name,
          name: record.name,
          namespace: record.namespace,
          runId: record.runId,
          phase: record.status.phase,
        });
      });
    }),
  );

  router.on(
    "GET",
    "/api/tasks/{id}",
    guarded(async (req) => {
      assertNamespaceAllowed(req.principal, taskNamespace);
      const r = { namespace: taskNamespace, name: req.params.id as string };
      const record = await deps.store.getRun(r);
      const events = await deps.store.listEvents(r, { limit: 100 });
      return json(200, teamView(record, events.items));
    }),
  );

  router.on(
    "GET",
    `${ns}/teams`,
    guarded(async (req) => {
      const selector = labelSelectorOf(req);
      const page = await deps.store.listRuns(req.params.namespace as string, pageOptions(req));
      const now = new Date();
      const runs = selector
        ? page.items.filter((r) => matchesLabels(r.team.metadata.labels, selector))
        : page.items;
      return json(200, {
        items: runs.map((r) => teamSummary(r, now)),
        ...(page.nextToken ? { nextToken: page.nextToken } : {}),
      });
    }),
  );

  router.on(
    "POST",
    `${ns}/teams`,
    guarded(async (req) => {
      const namespace = req.params.namespace as string;
      return idempotent(deps, req, namespace, async () => {
        const resource = manifestFrom(req, namespace, manifestOptions);
        const team = await teamFromManifest(deps, resource, namespace, manifestOptions);
        return applyTeam(deps, team, req.principal.id);
      });
    }),
  );

  router.on(
    "GET",
    `${ns}/teams/{name}`,
    guarded(async (req) => {
      const record = await deps.store.getRun(ref(req));
      const events = await deps.store.listEvents(ref(req), { limit: 100 });
      return json(200, teamView(record, ownEvents(record, events.items)));
    }),
  );

  router.on(
    "DELETE",
    `${ns}/teams/{name}`,
    guarded(async (req) => {
      const { record, removed } = await deleteTeam(deps, ref(req), req.principal.id);
      if (!removed) {
        const events = await deps.store.listEvents(ref(req), { limit: 100 });
        return json(202, teamView(record, ownEvents(record, events.items)));
      }
      const events = await deps.store.listRetiredRunEvents(record.runId, { limit: 100 });
      return json(200, { ...teamView(record, events.items), ...retention(deps, record) });
    }),
  );

  router.on(
    "GET",
    `${ns}/teams/{name}/events`,
    guarded(async (req) => {
      await deps.store.getRun(ref(req));
      const page = await deps.store.listEvents(ref(req), pageOptions(req));
      return json(200, {
        items: page.items.map(({ runId: _r, ...e }) => e),
        ...(page.nextToken ? { nextToken: page.nextToken } : {}),
      });
    }),
  );

  router.on(
    "GET",
    `${ns}/teams/{name}/tasks`,
    guarded(async (req) => {
      const record = await deps.store.getRun(ref(req));
      return json(200, { items: await deps.teamFiles.tasks(record.runId) });
    }),
  );

  router.on(
    "GET",
    `${ns}/teams/{name}/messages`,
    guarded(async (req) => {
      const record = await deps.store.getRun(ref(req));
      const agent = req.query.agent;
      if (agent !== undefined && !Object.hasOwn(record.status.agents, agent)) {
        throw new HttpError(404, `team ${record.name} has no agent ${agent}`);
      }
      return json(200, { items: await deps.teamFiles.messages(record.runId, agent) });
    }),
  );

  const teamLogs = deps.teamLogs;
  if (teamLogs) {
    const logsOf = async (req: HttpRequest, record: PublicTeamRun) => {
      const known = Object.keys(record.status.agents);
      // Workspace init and finalize are read with the agents: when a clone fails, that is all there is.
      const streams = [...RUN_STAGES, ...known.filter((a) => !RUN_STAGES.includes(a))];
      const agent = req.query.agent;
      if (agent !== undefined && !streams.includes(agent)) {
        throw new HttpError(
          400,
          `team ${record.name} has no agent ${agent}; its agents are ${known.join(", ")} (and ${RUN_STAGES.join(", ")})`,
          [{ path: "agent", message: `must be one of ${streams.join(", ")}` }],
        );
      }
      const page = await teamLogs.read({
        runId: record.runId,
        agents: agent === undefined ? streams : [agent],
        ...(req.query.since !== undefined ? { since: sinceOf(req.query.since) } : {}),
        notBefore: new Date(record.createdAt),
        ...logsPageOptions(req),
      });
      return json(200, page.nextToken ? page : { items: page.items });
    };
    router.on(
      "GET",
      `${ns}/teams/{name}/logs`,
      guarded(async (req) => logsOf(req, await deps.store.getRun(ref(req)))),
    );
    router.on(
      "GET",
      `${ns}/runs/{runId}/logs`,
      guarded(async (req) => logsOf(req, (await runById(deps, req)).record)),
    );
  }

  router.on(
    "GET",
    `${ns}/runs/{runId}`,
    guarded(async (req) => {
      const { record, deleted } = await runById(deps, req);
      const events = deleted
        ? await deps.store.listRetiredRunEvents(record.runId, { limit: 100 })
        : await deps.store.listEvents(record, { limit: 100 });
      return json(200, {
        ...teamView(record, ownEvents(record, events.items)),
        ...(deleted ? retention(deps, record) : { deleted: false }),
      });
    }),
  );

  // Across namespaces (`squadron get teams -A`): an admin token sees every namespace, a token
  // confined to namespaces sees theirs (never a 403 for asking). In AWS an IAM policy confined to
  // `/api/namespaces/<ns>/*` does not cover these paths: API Gateway answers 403.
  router.on(
    "GET",
    "/api/namespaces",
    guarded(async (req) => {
      const visible = (await deps.store.listNamespaces()).filter((n) => mayRead(req, n));
      return json(200, { items: visible.map((name) => ({ name })) });
    }),
  );
  router.on(
    "GET",
    "/api/teams",
    guarded(async (req) => {
      const selector = labelSelectorOf(req);
      const { limit, nextToken } = pageOptions(req);
      const namespaces = (await deps.store.listNamespaces()).filter((n) => mayRead(req, n));
      const position = allNamespacesPosition(nextToken, namespaces);
      const items: ReturnType<typeof teamSummary>[] = [];
      const now = new Date();
      let index = position.index;
      let inner = position.token;
      while (index < namespaces.length && items.length < limit) {
        const page = await deps.store.listRuns(namespaces[index] as string, {
          limit: limit - items.length,
          ...(inner ? { nextToken: inner } : {}),
        });
        for (const r of page.items) {
          if (!selector || matchesLabels(r.team.metadata.labels, selector)) items.push(teamSummary(r, now));
        }
        if (page.nextToken) inner = page.nextToken;
        else {
          index++;
          inner = undefined;
        }
      }
      const more = index < namespaces.length;
      return json(200, {
        items,
        ...(more ? { nextToken: encodeAllNamespacesToken(namespaces[index] as string, inner) } : {}),
      });
    }),
  );

  for (const decision of ["approve", "deny"] as const) {
    router.on(
      "POST",
      `${ns}/teams/{name}/gates/{gate}/${decision}`,
      guarded(async (req) => {
        const result = await decideGate(deps, {
          ref: ref(req),
          gate: req.params.gate as string,
          decision,
          decidedBy: req.principal.id,
        });
        if (!result.changed) {
          throw new HttpError(
            409,
            `gate ${req.params.gate} was already ${result.gate.state.toLowerCase()} by ${result.gate.decidedBy ?? "someone"}`,
          );
        }
        return json(200, {
          gate: req.params.gate,
          state: result.gate.state,
          decidedBy: result.gate.decidedBy,
        });
      }),
    );
  }

  const templateView = (t: TemplateRecord) => t;
  const templateFrom = (req: HttpRequest): AgentTeamTemplate => {
    const resource = manifestFrom(req, req.params.namespace as string, manifestOptions);
    if (resource.kind !== "AgentTeamTemplate") {
      throw new HttpError(400, `expected an AgentTeamTemplate, got ${resource.kind}`, [
        { path: "kind", message: "must be AgentTeamTemplate" },
      ]);
    }
    return resource;
  };

  router.on(
    "GET",
    `${ns}/templates`,
    guarded(async (req) => {
      const page = await deps.store.listTemplates(req.params.namespace as string, pageOptions(req));
      return json(200, {
        items: page.items.map(templateView),
        ...(page.nextToken ? { nextToken: page.nextToken } : {}),
      });
    }),
  );
  router.on(
    "POST",
    `${ns}/templates`,
    guarded(async (req) =>
      idempotent(deps, req, req.params.namespace as string, async () =>
        json(201, templateView(await deps.store.createTemplate(templateFrom(req)))),
      ),
    ),
  );
  router.on(
    "GET",
    `${ns}/templates/{name}`,
    guarded(async (req) =>
      json(
        200,
        templateView(await deps.store.getTemplate(req.params.namespace as string, req.params.name as string)),
      ),
    ),
  );
  router.on(
    "PUT",
    `${ns}/templates/{name}`,
    guarded(async (req) => {
      const template = templateFrom(req);
      assertNameOfPath(template.metadata.name, req.params.name as string);
      return json(200, templateView(await deps.store.putTemplate(template)));
    }),
  );
  router.on(
    "DELETE",
    `${ns}/templates/{name}`,
    guarded(async (req) => {
      await deps.store.deleteTemplate(req.params.namespace as string, req.params.name as string);
      return { status: 204 };
    }),
  );
  router.on(
    "POST",
    `${ns}/templates/{name}/runs`,
    guarded(async (req) => {
      const namespace = req.params.namespace as string;
      return idempotent(deps, req, namespace, async () => {
        // The templateRef comes from the path; a body naming another template is refused.
        let raw: unknown;
        try {
          raw = parseRequestYaml(req.body);
        } catch (error) {
          throw new HttpError(400, `body is not valid YAML or JSON: ${(error as Error).message}`);
        }
        if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
          throw new HttpError(400, "body must be an AgentTeamRun manifest");
        }
        const doc = raw as { apiVersion?: unknown; kind?: unknown; spec?: Record<string, unknown> };
        doc.apiVersion ??= SQUADRON_API_VERSION;
        doc.kind ??= "AgentTeamRun";
        if (doc.spec && typeof doc.spec === "object") {
          const refName = (doc.spec.templateRef as { name?: unknown } | undefined)?.name;
          if (refName !== undefined && refName !== req.params.name) {
            throw new HttpError(
              400,
              `templateRef ${String(refName)} differs from the path's ${req.params.name}`,
              [{ path: "spec.templateRef.name", message: `must be ${req.params.name} (or omitted)` }],
            );
          }
          doc.spec.templateRef = { name: req.params.name };
        }
        const resource = manifestFrom({ ...req, body: JSON.stringify(doc) }, namespace, manifestOptions);
        const team = await teamFromManifest(deps, resource, namespace, manifestOptions);
        return applyTeam(deps, team, req.principal.id);
      });
    }),
  );

  registerTriggerRoutes(router, deps, {
    guarded,
    pageOptions,
    manifestOf: (req) => {
      const namespace = req.params.namespace as string;
      const resource = manifestFrom(req, namespace, manifestOptions);
      const raw = parseRequestYaml(req.body) as Record<string, unknown>;
      raw.metadata = { ...(raw.metadata as object), namespace };
      return { resource, raw };
    },
    // A fire applies an AgentTeamRun exactly as POST .../teams does, then hands the run its payload.
    createRun: (namespace) => async (run, payload) => {
      const resource = parseResource(JSON.stringify(run), { ...manifestOptions, namespace });
      resource.metadata.namespace = namespace;
      const team = await teamFromManifest(deps, resource, namespace, manifestOptions);
      if (payload) team.spec.triggerPayload = payload;
      return applyTeam(
        deps,
        team,
        `trigger/${payload?.trigger ?? resource.metadata.labels["squadron.dev/trigger"]}`,
      );
    },
  });
  if (deps.schedules) {
    scheduleRoutes(
      router,
      { ...deps.schedules, store: deps.store, ...(deps.now ? { now: deps.now } : {}) },
      {
        guarded,
        manifestFrom,
        pageOptions,
        idempotent: (req, namespace, create) => idempotent(deps, req, namespace, create),
        manifestOptions,
      },
    );
  }
  return router;
}

export type ApiHandler = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;

export function apiHandler(deps: ApiDeps, logger?: Logger): ApiHandler {
  const router = apiRouter(deps, logger);
  return (event) => router.handle(event);
}
