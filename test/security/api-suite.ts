/**
 * The API the security suites attack (issue 14): the real router of lambdas/api with every optional
 * dependency given, so it has every route a deployment can have (health, tasks, teams, logs, runs,
 * templates, triggers and their public webhook, schedules, the lists across namespaces), on
 * DynamoDB Local. The suites derive their requests from `router.list()`: a route added to the
 * router is fuzzed and put through the authorization matrix without being listed anywhere.
 * Shared by test/security/*.test.ts and bench/security.bench.ts (no vitest import here).
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { APIGatewayProxyResult } from "aws-lambda";
import type { Authorizer, Router } from "../../core/control/http.ts";
import { DirectoryTeamFiles } from "../../core/control/team-files.ts";
import { DirectoryTeamLogs } from "../../core/control/team-logs.ts";
import { ScheduleStore } from "../../core/schedules/store.ts";
import { EventBridgeScheduleTimers } from "../../core/schedules/timers.ts";
import { type ApiDeps, apiRouter } from "../../lambdas/api/routes.ts";
import { event, type Harness, harness, schedulerStandIn, teamYaml } from "../lambdas/harness.ts";

export const SUITE_NS = "dev-agents";
/** The namespace of `POST /api/tasks`. */
export const TASK_NS = "default";
/** The trigger secret's name and its HMAC key (`squadron/<ns>/triggers/<name>` in the stand-in). */
export const TRIGGER_SECRET = "suite-hook-key";
export const TRIGGER_KEY = "suite-hmac-key";
/** The gate every seeded team has (teamYaml's `spawn-backend-api`). */
export const SUITE_GATE = "spawn-backend-api";

export interface SuiteApi {
  h: Harness;
  router: Router;
  send(event: Parameters<Router["handle"]>[0]): Promise<APIGatewayProxyResult>;
  /** What the router logged for each 500 it answered (the cause a defect report names). */
  errors: string[];
  /** Team files and logs directories (real readers on an empty tree), removed by close(). */
  close(): void;
}

/**
 * The router with every optional dependency of ApiDeps (Required: a new optional dependency, which
 * is how routes are switched on, fails the typecheck here until the suites get it too).
 */
export function suiteApi(
  table: { client: DynamoDBClient; tableName: string },
  options: {
    authorize?: Authorizer;
    /** Routes added after the API's own (the suites' test: a new route is covered unlisted). */
    extend?: (router: Router) => void;
  } = {},
): SuiteApi {
  const dir = mkdtempSync(join(tmpdir(), "squadron-suite-"));
  mkdirSync(join(dir, "runs"));
  mkdirSync(join(dir, "logs"));
  const h = harness(table, { teamFiles: new DirectoryTeamFiles(join(dir, "runs")) });
  // The suite's trigger key is readable in every namespace (the fuzzer applies triggers in any), so a
  // fire reaches the signature check; a trigger naming another secret finds none (503, docs/api.md).
  const stored = h.secrets.get.bind(h.secrets);
  h.secrets.get = (id: string) =>
    stored(id) ?? (id.endsWith(`/triggers/${TRIGGER_SECRET}`) ? TRIGGER_KEY : undefined);
  const deps: Required<ApiDeps> = {
    ...h.deps,
    ...(options.authorize ? { authorize: options.authorize } : {}),
    taskNamespace: TASK_NS,
    manifestDefaults: {},
    teamLogs: new DirectoryTeamLogs(join(dir, "logs")),
    triggers: h.deps.triggers as NonNullable<ApiDeps["triggers"]>,
    triggerSecret: h.deps.triggerSecret as NonNullable<ApiDeps["triggerSecret"]>,
    schedules: {
      schedules: new ScheduleStore(table.client, table.tableName),
      scheduleTimers: new EventBridgeScheduleTimers(schedulerStandIn(), {
        targetArn: () => "arn:aws:lambda:us-east-1:123456789012:function:squadron-api",
        roleArn: "arn:aws:iam::123456789012:role/squadron-team-scheduler",
        groupName: "squadron-team-schedules",
      }),
    },
    logger: { error: () => {}, warn: () => {}, info: () => {} } as NonNullable<ApiDeps["logger"]>,
    now: () => new Date(),
  };
  const errors: string[] = [];
  const router = apiRouter(deps, {
    error: (_message, error) =>
      errors.push(error instanceof Error ? (error.stack ?? error.message) : String(error)),
  });
  options.extend?.(router);
  return {
    h,
    router,
    errors,
    send: (e) => router.handle(e),
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The manifests of every kind the routes take, named `name` (templateRef `template`). */
export const manifests = {
  team: (name: string) => teamYaml(name).replace(`  namespace: ${SUITE_NS}\n`, ""),
  template: (name: string) => `apiVersion: squadron.dev/v1alpha1
kind: AgentTeamTemplate
metadata: {name: ${name}}
spec:
  teammates:
    - {name: researcher, prompt: "Collect.", cli: scripted}
    - {name: writer, prompt: "Write.", cli: scripted, dependsOn: [researcher]}
  lifecycle: {timeout: 1h, budgetLimit: "10.00"}
`,
  run: (name: string, template: string) =>
    JSON.stringify({
      apiVersion: "squadron.dev/v1alpha1",
      kind: "AgentTeamRun",
      metadata: { name },
      spec: { templateRef: { name: template }, workspace: {}, lead: { prompt: "Lead." } },
    }),
  trigger: (name: string, template: string, secret = TRIGGER_SECRET) => `apiVersion: kagents.dev/v1alpha1
kind: AgentTeamTrigger
metadata: {name: ${name}}
spec:
  trigger: {webhook: {path: /hooks/${name}, secret: ${secret}}}
  templateRef: {name: ${template}}
  workspace: {}
  lead: {prompt: "Read the payload."}
  payloadInjection: {mountPath: /workspace/payload.json}
`,
  schedule: (name: string, template: string) => `apiVersion: kagents.dev/v1alpha1
kind: AgentTeamSchedule
metadata: {name: ${name}}
spec:
  schedule: "0 6 * * MON"
  timeZone: Europe/Paris
  templateRef: {name: ${template}}
  lead: {prompt: "Summarise the week.", cli: scripted}
  workspace: {}
  lifecycle: {timeout: 1h, budgetLimit: "10.00"}
`,
  task: () => JSON.stringify({ task: "Summarise the repo." }),
};

/** What `seed` made: the names every route's parameters can point at. */
export interface Seeded {
  name: string;
  runId: string;
  hookPath: string;
}

/**
 * One of each resource, all named `name` in SUITE_NS (and a task team `name` in TASK_NS), so that a
 * route called with these parameters reaches its handler's real work instead of a 404. `again`
 * puts back what was deleted since (the run id stays the first one's).
 */
export async function seed(api: SuiteApi, name: string, options: { again?: boolean } = {}): Promise<Seeded> {
  const post = async (path: string, body: string) => {
    const res = await api.send(event("POST", path, { body }));
    // Again (the fuzzer, after its own deletes): what still exists answers 200 or 409.
    if (res.statusCode >= 300 && !(options.again && res.statusCode < 500))
      throw new Error(`seeding ${path}: ${res.statusCode} ${res.body}`);
    return JSON.parse(res.body) as Record<string, unknown>;
  };
  const ns = `/api/namespaces/${SUITE_NS}`;
  const team = await post(`${ns}/teams`, manifests.team(name));
  await post(`${ns}/templates`, manifests.template(name));
  await post(`${ns}/triggers`, manifests.trigger(name, name));
  await post(`${ns}/schedules`, manifests.schedule(name, name));
  await post("/api/tasks", JSON.stringify({ task: "Seeded task.", name }));
  return { name, runId: team.runId as string, hookPath: `hooks/${name}` };
}

/**
 * A valid value for each path parameter of the routes, pointing at the seeded resources. A route
 * with a parameter not named here makes the suites fail: give it a value, and it is covered.
 */
export function paramValue(param: string, seeded: Seeded): string {
  switch (param) {
    case "namespace":
      return SUITE_NS;
    case "name":
    case "id":
      return seeded.name;
    case "gate":
      return SUITE_GATE;
    case "runId":
      return seeded.runId;
    case "path":
      return seeded.hookPath;
    default:
      throw new Error(
        `no value for path parameter {${param}}: add it to paramValue (test/security/api-suite.ts)`,
      );
  }
}

/** Fails at once (before any seeding) when a route has a parameter paramValue cannot fill. */
export function checkParamsKnown(routes: Array<{ template: string }>): void {
  const placeholder: Seeded = { name: "x", runId: "x", hookPath: "x" };
  for (const route of routes) for (const param of paramsOf(route.template)) paramValue(param, placeholder);
}

/** The path of `template` with each `{param}` (or `{param+}`) replaced by `value(param)`. */
export function fillTemplate(template: string, value: (param: string) => string): string {
  return template.replace(/\{(\w+)\+?\}/g, (_, param: string) => value(param));
}

/** Parameter names of a route template, in order. */
export function paramsOf(template: string): string[] {
  return [...template.matchAll(/\{(\w+)\+?\}/g)].map((m) => m[1] as string);
}

/** A valid body for the route, so authorized calls reach the handler's work (undefined: none). */
export function bodyFor(method: string, template: string, name: string): string | undefined {
  if (method !== "POST" && method !== "PUT") return undefined;
  const kind = /\/(teams|templates|triggers|schedules)(\/\{name\})?$/.exec(template);
  if (template === "/api/tasks") return manifests.task();
  if (template.endsWith("/runs")) return manifests.run(`${name}-run`, name);
  if (template.startsWith("/hooks/")) return JSON.stringify({ ref: "refs/heads/main", pushed: name });
  switch (kind?.[1]) {
    case "teams":
      return manifests.team(name);
    case "templates":
      return manifests.template(name);
    case "triggers":
      return manifests.trigger(name, name);
    case "schedules":
      return manifests.schedule(name, name);
    default:
      return undefined;
  }
}

/** tried / refused correctly / defects, the one line each suite prints (issue 14). */
export interface SuiteFigures {
  tried: number;
  refused: number;
  defects: string[];
}

export function figureLine(suite: string, f: SuiteFigures, extra = ""): string {
  return `${suite}: ${f.tried} tried / ${f.refused} refused correctly / ${f.defects.length} defects${extra}${
    f.defects.length ? `: ${f.defects.slice(0, 8).join("; ")}` : ""
  }`;
}
