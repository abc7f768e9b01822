import { isDeepStrictEqual } from "node:util";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { parse as parseYaml } from "yaml";
import { approveAnnotatedGates, decideGate, GateDecisionError } from "../../core/control/approvals.ts";
import type { ControlDeps } from "../../core/control/deps.ts";
import {
  type Authorizer,
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
import {
  BeingCreatedError,
  cancelTeamRun,
  createTeamRun,
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
  UnknownNameError,
  VersionConflictError,
} from "../../core/store/errors.ts";
import type { TeamRunRef } from "../../core/store/items.ts";
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
    raw = parseYaml(req.body);
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
 * `apply` of an AgentTeam: creates the run, then approves the gates its kagents approval
 * annotations name. Applying the same team again while it runs, with approval annotations added
 * (kagents' `kubectl annotate ... approved.kagents.dev/<event>=true`), approves those gates:
 * each exactly once, decided by whoever applied. Any other change to a running team is a 409.
 */
async function applyTeam(deps: ApiDeps, team: AgentTeam, appliedBy: string): Promise<HttpResponse> {
  const ref = { namespace: team.metadata.namespace, name: team.metadata.name };
  const approvals = annotatedApprovals(team.metadata);
  try {
    await createTeamRun(deps, team);
  } catch (error) {
    if (!(error instanceof ConflictError) || approvals.length === 0) throw error;
    const existing = await deps.store.getRun(ref);
    if (isTerminalTeamPhase(existing.status.phase) || !sameSpec(existing.team, team)) throw error;
    const approved = await approveAnnotatedGates(deps, ref, team, appliedBy);
    const record = await deps.store.getRun(ref);
    const events = await deps.store.listEvents(ref, { limit: 100 });
    return json(200, { ...teamView(record, events.items), approved });
  }
  const approved = approvals.length > 0 ? await approveAnnotatedGates(deps, ref, team, appliedBy) : [];
  const record = await deps.store.getRun(ref);
  return json(201, { ...teamView(record, []), ...(approvals.length > 0 ? { approved } : {}) });
}

/** Deep equality: the stored spec comes back from DynamoDB with its map keys in another order. */
function sameSpec(a: AgentTeam, b: AgentTeam): boolean {
  return isDeepStrictEqual(a.spec, b.spec);
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
      return json(200, teamView(record, events.items));
    }),
  );

  router.on(
    "DELETE",
    `${ns}/teams/{name}`,
    guarded(async (req) => {
      const record = await cancelTeamRun(deps, ref(req), req.principal.id);
      const events = await deps.store.listEvents(ref(req), { limit: 100 });
      return json(202, teamView(record, events.items));
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
    router.on(
      "GET",
      `${ns}/teams/{name}/logs`,
      guarded(async (req) => {
        const record = await deps.store.getRun(ref(req));
        const known = Object.keys(record.status.agents);
        const agent = req.query.agent;
        if (agent !== undefined && !known.includes(agent)) {
          throw new HttpError(
            400,
            `team ${record.name} has no agent ${agent}; its agents are ${known.join(", ")}`,
            [{ path: "agent", message: `must be one of ${known.join(", ")}` }],
          );
        }
        const page = await teamLogs.read({
          runId: record.runId,
          agents: agent === undefined ? known : [agent],
          ...(req.query.since !== undefined ? { since: sinceOf(req.query.since) } : {}),
          notBefore: new Date(record.createdAt),
          ...logsPageOptions(req),
        });
        return json(200, page.nextToken ? page : { items: page.items });
      }),
    );
  }

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

  const templateView = (t: {
    namespace: string;
    name: string;
    template: AgentTeamTemplate;
    version: number;
    createdAt: string;
    updatedAt: string;
  }) => t;
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
      if (template.metadata.name !== req.params.name) {
        throw new HttpError(
          400,
          `manifest name ${template.metadata.name} differs from the path's ${req.params.name}`,
          [{ path: "metadata.name", message: `must be ${req.params.name}` }],
        );
      }
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
          raw = parseYaml(req.body);
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
      const raw = parseYaml(req.body) as Record<string, unknown>;
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
