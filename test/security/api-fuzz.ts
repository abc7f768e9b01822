/**
 * The bounded property-based API fuzzer of issue 14. Its routes are the router's own
 * (`Router.list()`), each sent the same share of the requests, round robin, so a route added to the
 * router is fuzzed at once; a route whose handler the fuzz did not reach is reported (`uncovered`).
 * Requests go in process (an API Gateway event, any path bytes) or over HTTP on 127.0.0.1 through
 * the local gateway (local/http-gateway.ts); nothing leaves the machine. Hostile path segments,
 * methods, queries, headers, signatures and bodies (valid manifests of every kind, the same with one
 * field mutated into a hostile value, random text and JSON). Never a 5xx, never a hang, and the
 * table is audited afterwards (no orphan RUNID# pointer). Shared by test and bench.
 */
import http from "node:http";
import { text as readText } from "node:stream/consumers";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import fc from "fast-check";
import { parse as parseYaml } from "yaml";
import type { RouteInfo, Router } from "../../core/control/http.ts";
import { pathParamIssues } from "../../core/control/path-params.ts";
import { hubSignature } from "../../core/triggers/signature.ts";
import { serveGateway } from "../../local/http-gateway.ts";
import { event } from "../lambdas/harness.ts";
import { storeConsistencyProblems } from "../support/store-consistency.ts";
import {
  bodyFor,
  checkParamsKnown,
  fillTemplate,
  paramValue,
  type SuiteFigures,
  seed,
  suiteApi,
  TRIGGER_KEY,
} from "./api-suite.ts";

export interface FuzzOptions {
  table: { client: DynamoDBClient; tableName: string };
  /** At least this many requests in all (default 2,000)... */
  requests?: number;
  /** ...and at least this many per route (default 50), whichever is more. */
  perRoute?: number;
  seed?: number;
  /** The whole run stops (a defect) after this long (default 90 s). */
  timeLimitMs?: number;
  /** A request not answered within this is a hang (default 10 s). */
  requestTimeoutMs?: number;
  /** Routes added to the API's own (test/security/api-attacks.test.ts). */
  extend?: (router: Router) => void;
  /** Fuzz only these of the router's routes (default: all). */
  only?: (route: RouteInfo) => boolean;
}

export interface FuzzFigures extends SuiteFigures {
  routes: number;
  accepted: number;
  serverErrors: number;
  hangs: number;
  /** 503s of a trigger whose secret does not exist (documented, not a defect). */
  secretUnavailable: number;
  overHttp: number;
  /** Per route (`METHOD template`): requests sent, and those that reached its handler. */
  perRoute: Record<string, { sent: number; reached: number; accepted: number; ms: number }>;
  /** Routes whose handler fewer than MIN_REACHED requests reached. */
  uncovered: string[];
  consistency: string[];
  ms: number;
}

/** The webhook's answer when the trigger's key cannot be read (core/triggers/fire.ts). */
const SECRET_UNAVAILABLE = "the trigger cannot verify signatures right now";

/** A route counts as fuzzed when at least this many requests got past routing, auth and path checks. */
export const MIN_REACHED = 5;

const NAMES = ["fuzz-a", "fuzz-new", "default"];

/** A path segment: `raw` is put in the path as it is, otherwise percent-encoded. */
interface Segment {
  value: string;
  raw: boolean;
}

const segmentArb: fc.Arbitrary<Segment | null> = fc.oneof(
  { weight: 10, arbitrary: fc.constant(null) }, // the parameter's valid value
  { weight: 2, arbitrary: fc.constantFrom(...NAMES).map((value) => ({ value, raw: true })) },
  {
    weight: 3,
    arbitrary: fc
      .constantFrom(
        "constructor",
        "__proto__",
        "toString",
        "hasOwnProperty",
        "..",
        ".",
        "%2F",
        "%2e%2e",
        "%00",
        "%ZZ",
        "%",
        "UPPER",
        "a".repeat(63),
        "a".repeat(64),
        "a".repeat(3000),
        "-x",
        "x-",
        "0",
        "1e400",
      )
      .map((value) => ({ value, raw: true })),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(" ", "😀", "a/b", "default/../prod", "*", "\u0000", "\u202e", "dev-agents\n")
      .map((value) => ({ value, raw: false })),
  },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-z0-9-]{1,70}$/).map((value) => ({ value, raw: true })) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }).map((value) => ({ value, raw: false })) },
);

/** `{path+}` of the trigger webhook: slashes, dot segments and encodings around the real path. */
const greedyArb: fc.Arbitrary<Segment | null> = fc.oneof(
  { weight: 6, arbitrary: fc.constant(null) },
  {
    weight: 3,
    arbitrary: fc
      .constantFrom(
        "hooks/fuzz-a/",
        "hooks/../hooks/fuzz-a",
        "hooks//fuzz-a",
        "hooks/fuzz-a%2F..",
        "%2e%2e/%2e%2e/api/teams",
        "hooks/FUZZ-A",
        `hooks/${"x/".repeat(600)}`,
        "hooks/fuzz-a?x=1",
      )
      .map((value) => ({ value, raw: true })),
  },
  { weight: 2, arbitrary: segmentArb },
);

/** Values a manifest field is mutated into: wrong types, extremes, prototype names, shell and paths. */
const hostileValue = fc.oneof(
  fc.constantFrom<unknown>(
    null,
    -1,
    0,
    1e308,
    -1e308,
    Number.MAX_SAFE_INTEGER,
    "",
    "__proto__",
    "constructor",
    "toString",
    [],
    {},
    true,
    "2400000000h",
    "9".repeat(400),
    "a';touch pt-injected;'",
    "$(touch pt-injected)",
    "../../../etc/passwd",
    "/etc/passwd",
    "outputs/default/planted/",
    "\u0000",
    "x".repeat(70_000),
    { constructor: "x", __proto__: { polluted: true } },
    [null, 3, "a"],
  ),
  fc.jsonValue({ maxDepth: 2 }),
);

interface Mutation {
  /** Indexes choosing a key (or element) at each level, from the manifest's root. */
  at: number[];
  op: "set" | "delete" | "add";
  key: string;
  value: unknown;
}

export const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  at: fc.array(fc.nat(), { maxLength: 5 }),
  op: fc.constantFrom<Mutation["op"]>("set", "set", "delete", "add"),
  key: fc.constantFrom("constructor", "__proto__", "toString", "extra", "namespace", "labels", "script"),
  value: hostileValue,
});

/** The manifest with one field (chosen by `m.at`) set, deleted or given a new hostile key. */
export function mutate(text: string, m: Mutation): string {
  let root: unknown;
  try {
    root = parseYaml(text);
  } catch {
    return text;
  }
  let node = root as Record<string, unknown> | unknown[];
  let parent: Record<string, unknown> | unknown[] | undefined;
  let slot: string | number | undefined;
  for (const i of m.at) {
    const keys = Array.isArray(node) ? node.map((_, k) => k) : Object.keys(node);
    if (keys.length === 0) break;
    const k = keys[i % keys.length] as string | number;
    const child = (node as Record<string | number, unknown>)[k];
    parent = node;
    slot = k;
    if (!child || typeof child !== "object") break;
    node = child as Record<string, unknown>;
  }
  if (m.op === "add" && !Array.isArray(node)) {
    // defineProperty: an own key even for "__proto__", as JSON.parse would make it.
    Object.defineProperty(node, m.key, {
      value: m.value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else if (parent !== undefined && slot !== undefined) {
    if (m.op === "delete") {
      if (Array.isArray(parent)) parent.splice(slot as number, 1);
      else delete (parent as Record<string, unknown>)[slot as string];
    } else (parent as Record<string | number, unknown>)[slot] = m.value;
  }
  return JSON.stringify(root);
}

const bodyArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: "valid" as const }) },
  { weight: 4, arbitrary: mutationArb.map((mutation) => ({ kind: "mutated" as const, mutation })) },
  { weight: 1, arbitrary: fc.constant({ kind: "none" as const }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }).map((text) => ({ kind: "text" as const, text })) },
  {
    weight: 1,
    arbitrary: fc.json({ maxDepth: 3 }).map((text) => ({ kind: "text" as const, text })),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(
        '{"task": ""}',
        '{"task": 5}',
        '{"task": "x", "timeout": "2400000000h", "budgetLimit": 1e308}',
        '{"task": "x", "name": "__proto__"}',
        "{}",
        "[]",
        "null",
        "&&&: [",
        "--- !!js/function 'function(){}'",
        "a: &a [*a]",
        "kind: AgentTeam\nmetadata: {name: constructor}\nspec: {workspace: {}, lead: {prompt: x}}",
        "kind: AgentTeam\nmetadata: {name: lbl, labels: {__proto__: x, constructor: y}}\nspec: {workspace: {}, lead: {prompt: x}}",
      )
      .map((text) => ({ kind: "text" as const, text })),
  },
);

const requestArb = fc.record({
  segments: fc.array(segmentArb, { minLength: 4, maxLength: 4 }),
  greedy: greedyArb,
  method: fc.oneof(
    { weight: 8, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD") },
  ),
  bodyName: fc.constantFrom("path", "path", "fuzz-new", "fuzz-a"),
  body: bodyArb,
  query: fc.dictionary(
    fc.constantFrom("limit", "nextToken", "agent", "since", "labelSelector", "__proto__", "constructor"),
    fc.oneof(
      fc.constantFrom(
        "0",
        "-1",
        "1e400",
        "2",
        "100",
        "abc",
        "__proto__",
        "constructor",
        "2026-01-01",
        "lead",
        "init",
        "app in (a,b),!x",
        "eyJhbGwiOiJkZXYtYWdlbnRzIiwidCI6Ing9In0",
        "a=b=c",
      ),
      fc.string({ maxLength: 30 }),
    ),
    { maxKeys: 3 },
  ),
  // Rare enough that most creates are not a replay (or a 422) of an earlier request's key.
  idempotencyKey: fc.oneof(
    { weight: 8, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constantFrom("k1", "k2", "bad key with spaces", "x".repeat(200)) },
  ),
  token: fc.oneof(
    { weight: 10, arbitrary: fc.constant("admin") },
    { weight: 1, arbitrary: fc.constantFrom("dev-token", "nope", "__proto__") },
  ),
  signature: fc.constantFrom("valid", "valid", "none", "garbage", "other-key"),
  contentType: fc.constantFrom(
    undefined,
    "application/json",
    "application/yaml",
    "application/octet-stream",
    "text/plain; charset=latin1",
  ),
  overHttp: fc.boolean(),
});

type FuzzRequest = ReturnType<typeof requestArb.generate>["value"];

function segmentText(s: Segment): string {
  return s.raw ? s.value : encodeURIComponent(s.value);
}

/** Characters Node's HTTP client sends in a request target (others go in process). */
const SENDABLE = /^[\u0021-\u007e]*$/;

export async function runApiFuzz(options: FuzzOptions): Promise<FuzzFigures> {
  const started = Date.now();
  const api = suiteApi(options.table, options.extend ? { extend: options.extend } : {});
  const routes = api.router.list().filter((r) => options.only?.(r) ?? true);
  try {
    checkParamsKnown(routes);
  } catch (error) {
    api.close();
    throw error;
  }
  const seeded = await seed(api, "fuzz-a");
  const total = Math.max(options.requests ?? 2000, routes.length * (options.perRoute ?? 50));
  const timeLimit = options.timeLimitMs ?? 90_000;
  const requestTimeout = options.requestTimeoutMs ?? 10_000;
  const gateway = await serveGateway(api.send, { host: "127.0.0.1", port: 0 });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const figures: FuzzFigures = {
    tried: 0,
    refused: 0,
    defects: [],
    routes: routes.length,
    accepted: 0,
    serverErrors: 0,
    hangs: 0,
    secretUnavailable: 0,
    overHttp: 0,
    perRoute: Object.fromEntries(
      routes.map((r) => [`${r.method} ${r.template}`, { sent: 0, reached: 0, accepted: 0, ms: 0 }]),
    ),
    uncovered: [],
    consistency: [],
    ms: 0,
  };
  const samples = fc.sample(requestArb, { numRuns: total, seed: options.seed ?? 14 });
  // Nothing a client sends may reach the process's warnings (they are the API's logs). The AWS
  // SDK's one-time Node version notice is not about a request.
  const onWarning = (w: Error) => {
    if (w.name !== "NodeVersionSupportWarning")
      figures.defects.push(`process warning during the fuzz: ${w.name}: ${w.message.slice(0, 100)}`);
  };
  process.on("warning", onWarning);
  try {
    for (const [i, r] of samples.entries()) {
      if (Date.now() - started > timeLimit) {
        figures.defects.push(`time limit: stopped after ${i} of ${total} requests in ${timeLimit} ms`);
        break;
      }
      // Every 5 rounds, what the fuzz deleted of the seeded resources is put back, so the
      // routes that need them (a trigger's fire, a template's runs) reach their work again.
      if (i > 0 && i % (routes.length * 5) === 0) await seed(api, seeded.name, { again: true });
      const route = routes[i % routes.length] as RouteInfo;
      await one(route, r);
    }
  } finally {
    await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
    process.off("warning", onWarning);
    agent.destroy();
    await gateway.close();
    api.close();
  }
  for (const [key, c] of Object.entries(figures.perRoute))
    if (c.reached < MIN_REACHED) figures.uncovered.push(key);
  for (const key of figures.uncovered)
    figures.defects.push(`route not fuzzed: ${key} (${figures.perRoute[key]?.reached} reached its handler)`);
  figures.consistency = await storeConsistencyProblems(options.table.client, options.table.tableName);
  for (const p of figures.consistency) figures.defects.push(`store: ${p}`);
  figures.ms = Date.now() - started;
  return figures;

  async function one(route: RouteInfo, r: FuzzRequest): Promise<void> {
    const key = `${route.method} ${route.template}`;
    let n = 0;
    const path = fillTemplate(route.template, (param) => {
      const s = param === "path" ? r.greedy : r.segments[n++ % r.segments.length];
      return s ? segmentText(s) : paramValue(param, seeded);
    });
    const method = r.method ?? route.method;
    const name = pathName(path, route) ?? "fuzz-new";
    const bodyName = r.bodyName === "path" ? name : r.bodyName;
    const valid = bodyFor(
      route.method,
      route.template,
      /^[a-z0-9-]{1,63}$/.test(bodyName) ? bodyName : "fuzz-new",
    );
    const body =
      r.body.kind === "valid"
        ? valid
        : r.body.kind === "mutated"
          ? valid === undefined
            ? undefined
            : mutate(valid, r.body.mutation)
          : r.body.kind === "text"
            ? r.body.text
            : undefined;
    const headers: Record<string, string> = { Authorization: `Bearer ${r.token}` };
    if (r.idempotencyKey) headers["Idempotency-Key"] = r.idempotencyKey;
    if (r.contentType) headers["Content-Type"] = r.contentType;
    if (body !== undefined && r.signature !== "none") {
      headers["X-Hub-Signature-256"] =
        r.signature === "garbage"
          ? "sha256=zz"
          : hubSignature(body, r.signature === "valid" ? TRIGGER_KEY : "guessed-key");
    }
    const query = Object.fromEntries(Object.entries(r.query));
    const overHttp = r.overHttp && SENDABLE.test(path) && method !== "HEAD";
    figures.tried += 1;
    const counts = figures.perRoute[key] as FuzzFigures["perRoute"][string];
    counts.sent += 1;
    // What the router sees: over HTTP the gateway's URL parser has normalised dot segments.
    const seenPath = overHttp ? new URL(path, "http://127.0.0.1").pathname : path;
    const reached = reachesHandler(route, method, seenPath, r.token);
    if (reached) counts.reached += 1;
    let status: number;
    let text: string;
    const sentAt = performance.now();
    try {
      const res = await withTimeout(
        overHttp
          ? overLoopback(method, path, query, headers, body)
          : api
              .send(
                event(method, path, { ...(body !== undefined ? { body } : {}), query, headers, token: null }),
              )
              .then((e) => ({ status: e.statusCode, body: e.body })),
        requestTimeout,
      );
      status = res.status;
      text = res.body;
      counts.ms += performance.now() - sentAt;
    } catch (error) {
      figures.hangs += 1;
      figures.defects.push(`${method} ${path.slice(0, 100)}: ${(error as Error).message}`);
      return;
    }
    if (overHttp) figures.overHttp += 1;
    if (status === 503 && route.template.startsWith("/hooks/") && text.includes(SECRET_UNAVAILABLE)) {
      // A trigger (applied by the fuzz) naming a secret that does not exist: the sender cannot fix
      // it, and docs/api.md answers 503 with a SecretUnavailable event, by design.
      figures.secretUnavailable += 1;
    } else if (status >= 500) {
      figures.serverErrors += 1;
      const cause = api.errors.at(-1)?.split("\n").slice(0, 2).join(" ") ?? "";
      figures.defects.push(`${method} ${path.slice(0, 100)} → ${status} ${text.slice(0, 100)} ${cause}`);
    } else if (status >= 400) figures.refused += 1;
    else {
      figures.accepted += 1;
      if (reached) counts.accepted += 1;
    }
  }

  function reachesHandler(route: RouteInfo, method: string, path: string, token: string): boolean {
    const found = api.router.match(method, path);
    if (!found || found.route.template !== route.template || found.route.method !== route.method)
      return false;
    if (!route.public && token !== "admin") return false;
    const decoded: Record<string, string> = {};
    try {
      for (const [k, v] of Object.entries(found.params)) decoded[k] = decodeURIComponent(v);
    } catch {
      return false;
    }
    return pathParamIssues(decoded).length === 0;
  }

  function overLoopback(
    method: string,
    path: string,
    query: Record<string, string>,
    headers: Record<string, string>,
    body: string | undefined,
  ): Promise<{ status: number; body: string }> {
    const search = new URLSearchParams(query).toString();
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: "127.0.0.1",
          port: gateway.port,
          method,
          path: search ? `${path}?${search}` : path,
          headers: Object.fromEntries(
            Object.entries(headers).filter(([, v]) => SENDABLE.test(v.replace(/ /g, ""))),
          ),
          agent,
        },
        (res) => {
          readText(res).then((text) => resolve({ status: res.statusCode ?? 0, body: text }), reject);
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }
}

/** The `{name}` (or `{id}`) the request's path carries, when the route has one. */
function pathName(path: string, route: RouteInfo): string | undefined {
  const names = [...route.template.matchAll(/\{(\w+)\+?\}/g)].map((m) => m[1]);
  const i = names.findIndex((n) => n === "name" || n === "id");
  if (i < 0) return undefined;
  const re = new RegExp(`^${route.template.replace(/\{\w+\+\}/g, "(.+)").replace(/\{\w+\}/g, "([^/]+)")}/?$`);
  const value = re.exec(path)?.[i + 1];
  if (value === undefined) return undefined;
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms (hang)`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
