import type { ControlDeps } from "../../core/control/deps.ts";
import {
  assertNameOfPath,
  HttpError,
  type HttpRequest,
  type HttpResponse,
  json,
  type Router,
} from "../../core/control/http.ts";
import { mergeTemplateRun } from "../../core/manifest/merge.ts";
import type { ManifestOptions } from "../../core/manifest/options.ts";
import type { AgentTeamSchedule, SquadronResource } from "../../core/manifest/types.ts";
import { runFromSchedule } from "../../core/schedules/fire.ts";
import type { ScheduleRecord, ScheduleStore } from "../../core/schedules/store.ts";
import type { ScheduleTimers } from "../../core/schedules/timers.ts";
import { type ScheduleView, scheduleView } from "../../core/schedules/view.ts";
import { NotFoundError } from "../../core/store/errors.ts";

export interface ScheduleRouteDeps extends Pick<ControlDeps, "store"> {
  schedules: ScheduleStore;
  scheduleTimers: ScheduleTimers;
  now?: () => Date;
}

/** The helpers of routes.ts the schedule routes share (passed in: no import cycle). */
export interface RouteHelpers {
  guarded(fn: (req: HttpRequest) => Promise<HttpResponse>): (req: HttpRequest) => Promise<HttpResponse>;
  manifestFrom(req: HttpRequest, namespace: string, options: ManifestOptions): SquadronResource;
  pageOptions(req: HttpRequest): { limit: number; nextToken?: string };
  idempotent(req: HttpRequest, namespace: string, create: () => Promise<HttpResponse>): Promise<HttpResponse>;
  manifestOptions: ManifestOptions;
}

/**
 * `/api/namespaces/{ns}/schedules...`: AgentTeamSchedule stored as written (like templates), its
 * timer (an EventBridge Scheduler schedule in AWS, a local timer locally) kept in step with every
 * write. A write whose timer cannot be set is undone, so no schedule is stored that never fires.
 */
export function scheduleRoutes(router: Router, deps: ScheduleRouteDeps, helpers: RouteHelpers): void {
  const ns = "/api/namespaces/{namespace}";
  const { guarded } = helpers;
  const now = () => deps.now?.() ?? new Date();
  const view = async (record: ScheduleRecord): Promise<ScheduleView> =>
    scheduleView(record, await deps.schedules.runsOf(record.namespace, record.name), now());

  const scheduleFrom = (req: HttpRequest): AgentTeamSchedule => {
    const resource = helpers.manifestFrom(req, req.params.namespace as string, helpers.manifestOptions);
    if (resource.kind !== "AgentTeamSchedule") {
      throw new HttpError(400, `expected an AgentTeamSchedule, got ${resource.kind}`, [
        { path: "kind", message: "must be AgentTeamSchedule" },
      ]);
    }
    return resource;
  };

  /**
   * kagents looks the template up at each fire, so applying a schedule before its template is
   * allowed (answered with a warning). When the template is there, the merge is checked now: a
   * schedule whose every fire would fail is refused with the problems (400).
   */
  const templateWarnings = async (schedule: AgentTeamSchedule): Promise<string[]> => {
    const { namespace } = schedule.metadata;
    const template = await deps.store
      .getTemplate(namespace, schedule.spec.templateRef.name)
      .catch((error) => {
        if (error instanceof NotFoundError) return undefined;
        throw error;
      });
    if (!template) {
      return [
        `template ${schedule.spec.templateRef.name} does not exist in ${namespace} yet; each fire fails (recorded in status.lastFailure) until it does`,
      ];
    }
    mergeTemplateRun(template.template, runFromSchedule(schedule, now()), {
      ...helpers.manifestOptions,
      namespace,
    });
    return [];
  };

  /** Writes, then sets the timer; if the timer cannot be set, puts back what was there before. */
  const writeAndSync = async (
    schedule: AgentTeamSchedule,
    mode: "create" | "put",
  ): Promise<{ record: ScheduleRecord; warnings: string[] }> => {
    const warnings = await templateWarnings(schedule);
    const { namespace, name } = schedule.metadata;
    const before = mode === "put" ? await deps.schedules.find(namespace, name) : undefined;
    const record = await deps.schedules.write(schedule, mode);
    try {
      await deps.scheduleTimers.sync(schedule);
    } catch (error) {
      if (before) await deps.schedules.write(before.schedule, "put");
      else await deps.schedules.delete(namespace, name);
      throw error;
    }
    return { record, warnings };
  };

  router.on(
    "GET",
    `${ns}/schedules`,
    guarded(async (req) => {
      const page = await deps.schedules.list(req.params.namespace as string, helpers.pageOptions(req));
      return json(200, {
        items: await Promise.all(page.items.map(view)),
        ...(page.nextToken ? { nextToken: page.nextToken } : {}),
      });
    }),
  );
  router.on(
    "POST",
    `${ns}/schedules`,
    guarded(async (req) =>
      helpers.idempotent(req, req.params.namespace as string, async () => {
        const { record, warnings } = await writeAndSync(scheduleFrom(req), "create");
        return json(201, { ...(await view(record)), ...(warnings.length ? { warnings } : {}) });
      }),
    ),
  );
  router.on(
    "GET",
    `${ns}/schedules/{name}`,
    guarded(async (req) =>
      json(
        200,
        await view(await deps.schedules.get(req.params.namespace as string, req.params.name as string)),
      ),
    ),
  );
  router.on(
    "PUT",
    `${ns}/schedules/{name}`,
    guarded(async (req) => {
      const schedule = scheduleFrom(req);
      assertNameOfPath(schedule.metadata.name, req.params.name as string);
      const { record, warnings } = await writeAndSync(schedule, "put");
      return json(200, { ...(await view(record)), ...(warnings.length ? { warnings } : {}) });
    }),
  );
  router.on(
    "DELETE",
    `${ns}/schedules/{name}`,
    guarded(async (req) => {
      const namespace = req.params.namespace as string;
      const name = req.params.name as string;
      await deps.schedules.get(namespace, name);
      // The timer first: a schedule that is gone from the table but still fires would find nothing
      // (NotFound, skipped), while the other order could leave a timer nobody can delete.
      await deps.scheduleTimers.remove(namespace, name);
      await deps.schedules.delete(namespace, name);
      return { status: 204 };
    }),
  );
  for (const action of ["suspend", "resume"] as const) {
    router.on(
      "POST",
      `${ns}/schedules/{name}/${action}`,
      guarded(async (req) => {
        const namespace = req.params.namespace as string;
        const name = req.params.name as string;
        const suspend = action === "suspend";
        const before = await deps.schedules.get(namespace, name);
        const record = await deps.schedules.setSuspend(namespace, name, suspend);
        try {
          await deps.scheduleTimers.sync(record.schedule);
        } catch (error) {
          await deps.schedules.setSuspend(namespace, name, before.schedule.spec.suspend);
          throw error;
        }
        return json(200, await view(record));
      }),
    );
  }
}
