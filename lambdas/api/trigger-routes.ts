/**
 * AgentTeamTrigger routes: the triggers of a namespace (IAM / bearer token, like templates) and
 * the public webhook route `POST /hooks/{namespace}/{path+}`, authenticated by the sender's HMAC
 * signature instead (core/triggers/fire.ts). Registered by routes.ts.
 */
import {
  assertNameOfPath,
  HttpError,
  type HttpRequest,
  type HttpResponse,
  json,
  type Router,
} from "../../core/control/http.ts";
import type { AgentTeamTrigger, SquadronResource } from "../../core/manifest/types.ts";
import { isTerminalTeamPhase } from "../../core/status/phases.ts";
import { NotFoundError } from "../../core/store/errors.ts";
import { type CreateTriggeredRun, fireTrigger, type TriggerFireDeps } from "../../core/triggers/fire.ts";
import type { TriggerRecord, TriggerStore } from "../../core/triggers/trigger-store.ts";

export interface TriggerRouteDeps extends Omit<TriggerFireDeps, "triggers" | "triggerSecret"> {
  triggers?: TriggerStore;
  triggerSecret?: TriggerFireDeps["triggerSecret"];
}

export interface TriggerRouteHelpers {
  /** Wraps a handler so domain errors become 4xx (routes.ts `guarded`). */
  guarded: (fn: (req: HttpRequest) => Promise<HttpResponse>) => (req: HttpRequest) => Promise<HttpResponse>;
  /** The request's manifest, validated for the path's namespace, and its parsed JSON as applied. */
  manifestOf: (req: HttpRequest) => { resource: SquadronResource; raw: Record<string, unknown> };
  /** Creates a fire's run through the AgentTeamRun apply path. */
  createRun: (namespace: string) => CreateTriggeredRun;
  pageOptions: (req: HttpRequest) => { limit: number; nextToken?: string };
}

/** What `get trigger` / `describe trigger` show: the trigger as applied and its fire status. */
async function triggerView(deps: TriggerRouteDeps, record: TriggerRecord) {
  let activeRun: { name: string; phase: string } | undefined;
  if (record.activeRun) {
    try {
      const run = await deps.store.getRun({ namespace: record.namespace, name: record.activeRun });
      if (!isTerminalTeamPhase(run.status.phase)) activeRun = { name: run.name, phase: run.status.phase };
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
  }
  const { path, secret } = record.trigger.spec.trigger.webhook;
  return {
    namespace: record.namespace,
    name: record.name,
    path,
    url: `/hooks/${record.namespace}${path}`,
    secret,
    templateRef: record.trigger.spec.templateRef.name,
    concurrencyPolicy: record.trigger.spec.concurrencyPolicy,
    status: {
      activeRun: activeRun?.name ?? null,
      activePhase: activeRun?.phase ?? null,
      lastTriggeredAt: record.lastTriggeredAt ?? null,
      totalRuns: record.totalRuns,
    },
    trigger: record.trigger,
    version: record.version,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}

export function registerTriggerRoutes(
  router: Router,
  deps: TriggerRouteDeps,
  helpers: TriggerRouteHelpers,
): void {
  const { triggers, triggerSecret } = deps;
  if (!triggers || !triggerSecret) return; // a deployment without triggers has none of these routes
  const fireDeps: TriggerFireDeps = { ...deps, triggers, triggerSecret };
  const { guarded } = helpers;
  const ns = "/api/namespaces/{namespace}/triggers";
  const triggerOf = (req: HttpRequest) => {
    const { resource, raw } = helpers.manifestOf(req);
    if (resource.kind !== "AgentTeamTrigger") {
      throw new HttpError(400, `expected an AgentTeamTrigger, got ${resource.kind}`, [
        { path: "kind", message: "must be AgentTeamTrigger" },
      ]);
    }
    return { trigger: resource as AgentTeamTrigger, raw };
  };
  const put = async (req: HttpRequest, expectedName?: string) => {
    const { trigger, raw } = triggerOf(req);
    if (expectedName !== undefined) assertNameOfPath(trigger.metadata.name, expectedName);
    const { record, created } = await triggers.put(trigger, raw);
    return json(created ? 201 : 200, await triggerView(deps, record));
  };

  router.on(
    "GET",
    ns,
    guarded(async (req) => {
      const page = await triggers.list(req.params.namespace as string, helpers.pageOptions(req));
      const items = [];
      for (const record of page.items) items.push(await triggerView(deps, record));
      return json(200, { items, ...(page.nextToken ? { nextToken: page.nextToken } : {}) });
    }),
  );
  // Creates or replaces (`apply`): a trigger has no run state a replacement could lose.
  router.on(
    "POST",
    ns,
    guarded(async (req) => put(req)),
  );
  router.on(
    "PUT",
    `${ns}/{name}`,
    guarded(async (req) => put(req, req.params.name)),
  );
  router.on(
    "GET",
    `${ns}/{name}`,
    guarded(async (req) => {
      const record = await triggers.get(req.params.namespace as string, req.params.name as string);
      const events = await triggers.listEvents(record, { limit: 20 });
      return json(200, { ...(await triggerView(deps, record)), events: events.items });
    }),
  );
  router.on(
    "GET",
    `${ns}/{name}/events`,
    guarded(async (req) => {
      const record = await triggers.get(req.params.namespace as string, req.params.name as string);
      return json(200, await triggers.listEvents(record, helpers.pageOptions(req)));
    }),
  );
  router.on(
    "DELETE",
    `${ns}/{name}`,
    guarded(async (req) => {
      await triggers.delete(req.params.namespace as string, req.params.name as string);
      return { status: 204 };
    }),
  );

  // Public: the sender proves itself with the trigger's HMAC, never with a token or IAM.
  router.on(
    "POST",
    "/hooks/{namespace}/{path+}",
    guarded(async (req) => {
      const namespace = req.params.namespace as string;
      return fireTrigger(
        fireDeps,
        { namespace, path: `/${req.params.path}`, body: req.rawBody, headers: req.headers },
        helpers.createRun(namespace),
      );
    }),
    { public: true },
  );
}
