import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { call, event, type Harness, harness, newTable, teamYaml } from "../lambdas/harness.ts";
import { storeConsistencyProblems } from "../support/store-consistency.ts";

/**
 * The API attack suites of issue 14, in process against DynamoDB Local on loopback:
 * - an authorization matrix: every route × {no token, wrong token, other-namespace token, admin};
 * - a property-based fuzzer over every route (FUZZ_REQUESTS requests, default 2,000): hostile path
 *   segments, methods, queries, headers and bodies; never a 5xx, and the store consistent after.
 * Each prints tried / refused correctly / defects.
 */

const FUZZ_REQUESTS = Number(process.env.SQUADRON_FUZZ_REQUESTS ?? 2000);
const NS = "dev-agents";

type Route = [method: string, path: string, body?: string];
const ROUTES = (ns: string, name: string): Route[] => [
  ["POST", "/api/tasks", JSON.stringify({ task: "Summarise the repo." })],
  ["GET", `/api/tasks/${name}`],
  ["GET", `/api/namespaces/${ns}/teams`],
  ["POST", `/api/namespaces/${ns}/teams`, teamYaml(`${name}-new`).replace("  namespace: dev-agents\n", "")],
  ["GET", `/api/namespaces/${ns}/teams/${name}`],
  ["GET", `/api/namespaces/${ns}/teams/${name}/events`],
  ["GET", `/api/namespaces/${ns}/teams/${name}/tasks`],
  ["GET", `/api/namespaces/${ns}/teams/${name}/messages`],
  ["POST", `/api/namespaces/${ns}/teams/${name}/gates/spawn-backend-api/approve`],
  ["POST", `/api/namespaces/${ns}/teams/${name}/gates/spawn-backend-api/deny`],
  ["GET", `/api/namespaces/${ns}/templates`],
  ["POST", `/api/namespaces/${ns}/templates`, "kind: AgentTeamTemplate"],
  ["GET", `/api/namespaces/${ns}/templates/${name}`],
  ["PUT", `/api/namespaces/${ns}/templates/${name}`, "kind: AgentTeamTemplate"],
  ["DELETE", `/api/namespaces/${ns}/templates/${name}`],
  ["POST", `/api/namespaces/${ns}/templates/${name}/runs`, "{}"],
  ["DELETE", `/api/namespaces/${ns}/teams/${name}`],
  ["GET", `/api/namespaces/${ns}/triggers`],
  ["POST", `/api/namespaces/${ns}/triggers`, "kind: AgentTeamTrigger"],
  ["GET", `/api/namespaces/${ns}/triggers/${name}`],
  ["PUT", `/api/namespaces/${ns}/triggers/${name}`, "kind: AgentTeamTrigger"],
  ["GET", `/api/namespaces/${ns}/triggers/${name}/events`],
  // Public: the trigger's HMAC is the credential, so no token (not even admin's) gets past 401.
  ["POST", `/hooks/${ns}/hooks/${name}`, '{"deal":1}'],
  ["DELETE", `/api/namespaces/${ns}/triggers/${name}`],
  ["GET", `/api/namespaces/${ns}/schedules`],
  ["POST", `/api/namespaces/${ns}/schedules`, "kind: AgentTeamSchedule"],
  ["GET", `/api/namespaces/${ns}/schedules/${name}`],
  ["PUT", `/api/namespaces/${ns}/schedules/${name}`, "kind: AgentTeamSchedule"],
  ["POST", `/api/namespaces/${ns}/schedules/${name}/suspend`],
  ["POST", `/api/namespaces/${ns}/schedules/${name}/resume`],
  ["DELETE", `/api/namespaces/${ns}/schedules/${name}`],
  ["GET", `/api/namespaces/${ns}/runs/${name}-0badc0de`],
];

/** The public trigger webhook route, refused for every caller without the trigger's signature. */
const isPublicHook = (path: string) => path.startsWith("/hooks/");

/** A trigger at /hooks/<name> of the namespace (its secret readable), so the hook route answers 401, not 404. */
const triggerYaml = (name: string) => `apiVersion: kagents.dev/v1alpha1
kind: AgentTeamTrigger
metadata: {name: ${name}}
spec:
  trigger: {webhook: {path: /hooks/${name}, secret: matrix-key}}
  templateRef: {name: ${name}}
  workspace: {}
  lead: {prompt: "Read the payload."}
  payloadInjection: {mountPath: /workspace/payload.json}
`;

/**
 * Routes across namespaces (`get teams -A`, the web view's namespace list): every token may ask,
 * and each gets only the namespaces it may read; without a valid token, 401.
 */
const CROSS_NAMESPACE_ROUTES = ["/api/teams", "/api/namespaces"];

describe("API attack suites", () => {
  let h: Harness;
  let table: Awaited<ReturnType<typeof newTable>>;
  beforeAll(async () => {
    table = await newTable();
    h = harness(table);
  });

  it("authorization matrix: every route × no token / wrong token / other-namespace token / admin", async () => {
    const { bearerTokenAuthorizer } = await import("../../core/control/http.ts");
    const { apiHandler } = await import("../../lambdas/api/routes.ts");
    const { ScheduleStore } = await import("../../core/schedules/store.ts");
    const api = apiHandler({
      ...h.deps,
      schedules: {
        schedules: new ScheduleStore(table.client, table.tableName),
        scheduleTimers: { sync: async () => {}, remove: async () => {} },
      },
      authorize: bearerTokenAuthorizer({
        admin: { name: "admin", namespaces: "*" },
        "prod-token": { name: "prod", namespaces: ["prod"] },
      }),
    });
    const send = async (method: string, path: string, body: string | undefined, auth: string | undefined) => {
      const res = await api(
        event(method, path, {
          ...(body !== undefined ? { body } : {}),
          token: null,
          headers: auth ? { Authorization: auth } : {},
        }),
      );
      return { status: res.statusCode, body: res.body };
    };
    const callers: Array<[string, string | undefined, (status: number) => boolean]> = [
      ["no token", undefined, (s) => s === 401],
      ["malformed header", "Basic YWRtaW46YWRtaW4=", (s) => s === 401],
      ["wrong token", "Bearer not-a-token", (s) => s === 401],
      ["token named like a prototype member", "Bearer __proto__", (s) => s === 401],
      ["other-namespace token", "Bearer prod-token", (s) => s === 403],
      ["admin", "Bearer admin", (s) => s !== 401 && s !== 403 && s < 500],
    ];
    h.secrets.set(`squadron/${NS}/triggers/matrix-key`, "matrix-hmac-key");
    expect(
      (await send("POST", `/api/namespaces/${NS}/triggers`, triggerYaml("matrix"), "Bearer admin")).status,
    ).toBe(201);
    let tried = 0;
    const defects: string[] = [];
    for (const [method, path, body] of ROUTES(NS, "matrix")) {
      for (const [who, auth, ok] of callers) {
        tried += 1;
        const res = await send(method, path, body, auth);
        if (isPublicHook(path) ? res.status !== 401 : !ok(res.status))
          defects.push(`${method} ${path} as ${who}: ${res.status} ${res.body.slice(0, 80)}`);
      }
    }
    console.log(
      `authorization matrix: ${tried} tried / ${tried - defects.length} refused correctly / ${defects.length} defects`,
    );
    expect(defects).toEqual([]);

    // Across namespaces: a confined token sees its own namespaces only, never another's teams.
    expect(
      (await call(h, "POST", `/api/namespaces/${NS}/teams`, { body: teamYaml("matrix-seen") })).status,
    ).toBe(201);
    for (const path of CROSS_NAMESPACE_ROUTES) {
      for (const [, auth] of callers.slice(0, 4))
        expect((await send("GET", path, undefined, auth)).status).toBe(401);
      const confined = await send("GET", path, undefined, "Bearer prod-token");
      expect(confined.status).toBe(200);
      expect(confined.body).not.toContain(NS);
      const admin = await send("GET", path, undefined, "Bearer admin");
      expect(admin.status).toBe(200);
      expect(admin.body).toContain(NS);
    }
  });

  it(`fuzzes every route with ${FUZZ_REQUESTS} hostile requests: no 5xx, store consistent`, async () => {
    expect(
      (await call(h, "POST", `/api/namespaces/${NS}/teams`, { body: teamYaml("fuzz-target") })).status,
    ).toBe(201);
    const segment = fc.oneof(
      fc.constantFrom(
        NS,
        "default",
        "fuzz-target",
        "constructor",
        "__proto__",
        "toString",
        "..",
        ".",
        "%2F",
        "%2e%2e",
        "%00",
        "%ZZ",
        "😀",
        "UPPER",
        "a".repeat(64),
        "a".repeat(3000),
        "-x",
        "x-",
        " ",
      ),
      fc.stringMatching(/^[a-z0-9-]{1,70}$/),
      fc.string({ maxLength: 40 }).map((s) => encodeURIComponent(s)),
    );
    const body = fc.oneof(
      fc.constant(undefined),
      fc.constant(teamYaml("fuzz-new")),
      fc.string({ maxLength: 200 }),
      fc.json({ maxDepth: 3 }),
      fc.constantFrom(
        '{"task": ""}',
        '{"task": 5}',
        "{}",
        "[]",
        "null",
        "kind: AgentTeam\nmetadata: {name: constructor}\nspec: {workspace: {}, lead: {prompt: x}}",
        "kind: AgentTeam\nmetadata: {name: big}\nspec: {workspace: {}, lead: {prompt: x}, lifecycle: {budgetLimit: 1e308, timeout: 2400000000h}}",
        "kind: AgentTeam\nmetadata: {name: lbl, labels: {__proto__: x, constructor: y}}\nspec: {workspace: {}, lead: {prompt: x}}",
        `{"apiVersion":"squadron.dev/v1alpha1","kind":"AgentTeam","metadata":{"name":"${"n".repeat(300)}"},"spec":{"workspace":{},"lead":{"prompt":"x"}}}`,
        "&&&: [",
      ),
    );
    const request = fc.record({
      route: fc.integer({ min: 0, max: ROUTES(NS, "x").length - 1 }),
      ns: segment,
      name: segment,
      method: fc.oneof(
        fc.constant(""),
        fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"),
      ),
      body,
      query: fc.dictionary(
        fc.constantFrom("limit", "nextToken", "agent", "since", "__proto__", "constructor"),
        fc.oneof(
          fc.constantFrom("0", "-1", "1e400", "2", "abc", "__proto__", "constructor", "2026-01-01"),
          fc.string({ maxLength: 30 }),
        ),
        { maxKeys: 3 },
      ),
      idempotencyKey: fc.option(fc.constantFrom("k1", "k2", "bad key with spaces", "x".repeat(200)), {
        nil: undefined,
      }),
    });
    let tried = 0;
    let refused = 0;
    const defects: string[] = [];
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const [routeMethod, path, routeBody] = ROUTES(r.ns, r.name)[r.route] as Route;
        const method = r.method || routeMethod;
        const payload =
          r.body === undefined ? routeBody : typeof r.body === "string" ? r.body : JSON.stringify(r.body);
        tried += 1;
        const res = await h.api(
          event(method, path, {
            ...(payload !== undefined ? { body: payload } : {}),
            query: r.query,
            headers: r.idempotencyKey ? { "Idempotency-Key": r.idempotencyKey } : {},
          }),
        );
        if (res.statusCode >= 500)
          defects.push(`${method} ${path.slice(0, 120)} → ${res.statusCode} ${res.body.slice(0, 100)}`);
        else if (res.statusCode >= 400) refused += 1;
        return true;
      }),
      { numRuns: FUZZ_REQUESTS, seed: Number(process.env.SQUADRON_FUZZ_SEED ?? 14), endOnFailure: true },
    );
    const consistency = await storeConsistencyProblems(table.client, table.tableName);
    console.log(
      `api fuzzer: ${tried} tried / ${refused} refused correctly (4xx) / ${defects.length + consistency.length} defects${defects.length ? `: ${defects.slice(0, 5).join("; ")}` : ""}${consistency.length ? ` store: ${consistency.slice(0, 3).join("; ")}` : ""}`,
    );
    expect(defects).toEqual([]);
    expect(consistency).toEqual([]);
  }, 120_000);
});
