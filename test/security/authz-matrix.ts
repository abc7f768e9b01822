/**
 * The authorization matrix of issue 14: every route of the router (`Router.list()`, so a new route
 * is in it at once) × {no token, malformed header, wrong token, a token named like a prototype
 * member, other-namespace token, admin (2xx or 409 on seeded resources: it reached the work)}, and every signed (trigger webhook) route × {unsigned, a
 * bearer token instead of a signature, wrong key, malformed, body changed after signing, another
 * namespace's trigger key, oversize, not JSON, unknown path, signed, replayed, redelivered}.
 * A refused request must change nothing in the table. Shared by test and bench.
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { bearerTokenAuthorizer, type RouteInfo } from "../../core/control/http.ts";
import { hubSignature } from "../../core/triggers/signature.ts";
import { event } from "../lambdas/harness.ts";
import { tableItems } from "../support/store-consistency.ts";
import {
  bodyFor,
  checkParamsKnown,
  fillTemplate,
  manifests,
  paramValue,
  SUITE_NS,
  type SuiteFigures,
  seed,
  suiteApi,
  TRIGGER_KEY,
} from "./api-suite.ts";

export interface MatrixFigures extends SuiteFigures {
  routes: number;
  /** Of `tried`, the cases of the signed webhook routes. */
  webhookCases: number;
  ms: number;
}

/**
 * Routes across namespaces (`get teams -A`, the web view's namespace list): every valid token may
 * ask and gets the namespaces it may read only. Any other route without a namespace in its path
 * acts in one namespace (POST /api/tasks: the task namespace) and refuses a token confined elsewhere.
 */
export const CROSS_NAMESPACE_ROUTES = new Set(["GET /api/teams", "GET /api/namespaces"]);
/** Public routes whose credential is a signature of the body (AgentTeamTrigger webhooks). */
export const SIGNED_ROUTES = new Set(["POST /hooks/{namespace}/{path+}"]);

const OTHER_NS = "prod";
const OTHER_KEY = "prod-hmac-key";

type Expect = (status: number, body: string) => boolean;
const CALLERS: Array<[who: string, auth: string | undefined, expect: "401" | "403" | "allowed"]> = [
  ["no token", undefined, "401"],
  ["malformed header", "Basic YWRtaW46YWRtaW4=", "401"],
  ["wrong token", "Bearer not-a-token", "401"],
  ["token named like a prototype member", "Bearer __proto__", "401"],
  ["other-namespace token", "Bearer prod-token", "403"],
  ["admin", "Bearer admin", "allowed"],
];

export async function runAuthorizationMatrix(options: {
  table: { client: DynamoDBClient; tableName: string };
}): Promise<MatrixFigures> {
  const started = Date.now();
  const { table } = options;
  const api = suiteApi(table, {
    authorize: bearerTokenAuthorizer({
      admin: { name: "admin", namespaces: "*" },
      "prod-token": { name: "prod", namespaces: [OTHER_NS] },
    }),
  });
  const figures: MatrixFigures = { tried: 0, refused: 0, defects: [], routes: 0, webhookCases: 0, ms: 0 };
  const check = (label: string, ok: boolean, got: string) => {
    figures.tried += 1;
    if (ok) figures.refused += 1;
    else figures.defects.push(`${label}: ${got}`);
  };
  const send = async (
    method: string,
    path: string,
    body: string | undefined,
    headers: Record<string, string>,
    query?: Record<string, string>,
  ) => {
    const res = await api.send(
      event(method, path, {
        ...(body !== undefined ? { body } : {}),
        token: null,
        headers,
        ...(query ? { query } : {}),
      }),
    );
    return { status: res.statusCode, body: res.body };
  };
  const snapshot = async () =>
    JSON.stringify((await tableItems(table.client, table.tableName)).map((i) => JSON.stringify(i)).sort());

  try {
    // `matrix` resources exist (with admin's token) so allowed calls reach real work, not a 404.
    checkParamsKnown(api.router.list());
    const admin = { Authorization: "Bearer admin" };
    const seeded = await seed(api, "matrix");
    // A trigger of another namespace with its own key: its signature must not open this one's hook.
    api.h.secrets.set(`squadron/${OTHER_NS}/triggers/prod-key`, OTHER_KEY);
    await send("POST", `/api/namespaces/${OTHER_NS}/templates`, manifests.template("other"), admin);
    const other = await send(
      "POST",
      `/api/namespaces/${OTHER_NS}/triggers`,
      manifests.trigger("other", "other", "prod-key"),
      admin,
    );
    if (other.status !== 201)
      throw new Error(`seeding the ${OTHER_NS} trigger: ${other.status} ${other.body}`);

    const routes = api.router.list();
    figures.routes = routes.length;
    // Deletes last, so every other route still finds what it reads.
    const ordered = [...routes].sort((a, b) => Number(a.method === "DELETE") - Number(b.method === "DELETE"));
    for (const route of ordered) {
      const key = `${route.method} ${route.template}`;
      const path = fillTemplate(route.template, (p) => paramValue(p, seeded));
      const body = bodyFor(route.method, route.template, seeded.name);
      if (SIGNED_ROUTES.has(key)) {
        await signedRoute(route, path);
        continue;
      }
      const before = await snapshot();
      for (const [who, auth, expected] of CALLERS) {
        const label = `${key} as ${who}`;
        if (expected === "allowed") {
          // The refused callers before wrote nothing.
          const after = await snapshot();
          check(`${key}: refused callers changed nothing`, after === before, "the table changed");
        }
        const res = await send(route.method, path, body, auth ? { Authorization: auth } : {});
        const got = `${res.status} ${res.body.slice(0, 100)}`;
        let ok: boolean;
        if (route.public)
          ok = res.status >= 200 && res.status < 300; // health: open to anyone
        else if (expected === "401") ok = res.status === 401;
        else if (expected === "403" && CROSS_NAMESPACE_ROUTES.has(key))
          ok = res.status === 200 && !res.body.includes(SUITE_NS);
        else if (expected === "403") ok = res.status === 403;
        // Admin reaches the handler's real work on the seeded resources: done (2xx), or refused
        // for the state it found (409: the name is taken, the gate already decided).
        else
          ok =
            ((res.status >= 200 && res.status < 300) || res.status === 409) &&
            (!CROSS_NAMESPACE_ROUTES.has(key) || res.body.includes(SUITE_NS));
        check(label, ok, got);
      }
    }
    for (const key of [...CROSS_NAMESPACE_ROUTES, ...SIGNED_ROUTES]) {
      if (!routes.some((r) => `${r.method} ${r.template}` === key))
        figures.defects.push(`${key} is listed as special here but is no route of the router`);
    }
  } finally {
    api.close();
  }
  figures.ms = Date.now() - started;
  return figures;

  /** The trigger webhook: the body's HMAC is the credential; a token is none. */
  async function signedRoute(route: RouteInfo, path: string): Promise<void> {
    const key = `${route.method} ${route.template}`;
    const runsOfTrigger = async () => {
      const res = await send(
        "GET",
        `/api/namespaces/${SUITE_NS}/teams`,
        undefined,
        { Authorization: "Bearer admin" },
        { labelSelector: "squadron.dev/trigger=matrix" },
      );
      const items = (JSON.parse(res.body) as { items?: unknown[] }).items;
      if (!items) throw new Error(`listing the trigger's runs: ${res.status} ${res.body}`);
      return items.length;
    };
    const body = JSON.stringify({ ref: "refs/heads/main", after: "0badc0de" });
    const sig = (b: string, k = TRIGGER_KEY) => hubSignature(b, k);
    const big = JSON.stringify({ pad: "x".repeat(130 * 1024) });
    const refusals: Array<[string, string, string, Record<string, string>, Expect]> = [];
    for (const [who, auth] of CALLERS)
      refusals.push([`unsigned, ${who}`, path, body, auth ? { Authorization: auth } : {}, (s) => s === 401]);
    refusals.push(
      [
        "signed with a guessed key",
        path,
        body,
        { "X-Hub-Signature-256": sig(body, "guessed") },
        (s) => s === 401,
      ],
      [
        "signed with another namespace's trigger key",
        path,
        body,
        { "X-Hub-Signature-256": sig(body, OTHER_KEY) },
        (s) => s === 401,
      ],
      [
        "malformed signature (sha1)",
        path,
        body,
        { "X-Hub-Signature-256": "sha1=0123456789abcdef" },
        (s) => s === 401,
      ],
      [
        "truncated signature",
        path,
        body,
        { "X-Hub-Signature-256": sig(body).slice(0, 40) },
        (s) => s === 401,
      ],
      [
        "body changed after signing",
        path,
        body.replace("main", "prod"),
        { "X-Hub-Signature-256": sig(body) },
        (s) => s === 401,
      ],
      ["signed, not JSON", path, "not json", { "X-Hub-Signature-256": sig("not json") }, (s) => s === 400],
      [
        "signed, larger than the payload limit",
        path,
        big,
        { "X-Hub-Signature-256": sig(big) },
        (s) => s === 413,
      ],
      [
        "signed, for a path no trigger has",
        fillTemplate(route.template, (p) => (p === "path" ? "hooks/nobody" : SUITE_NS)),
        body,
        { "X-Hub-Signature-256": sig(body) },
        (s) => s === 404,
      ],
    );
    const runsBefore = await runsOfTrigger();
    for (const [label, at, b, headers, ok] of refusals) {
      figures.webhookCases += 1;
      const res = await send(route.method, at, b, headers);
      check(`${key} ${label}`, ok(res.status, res.body), `${res.status} ${res.body.slice(0, 100)}`);
    }
    figures.webhookCases += 1;
    check(
      `${key}: refused deliveries created no run`,
      (await runsOfTrigger()) === runsBefore,
      "a run was created",
    );

    const signed = { "X-Hub-Signature-256": sig(body), "X-GitHub-Delivery": "d-1" };
    const accepted = await send(route.method, path, body, signed);
    figures.webhookCases += 1;
    check(`${key} signed`, accepted.status === 202, `${accepted.status} ${accepted.body.slice(0, 100)}`);
    for (const [label, headers] of [
      ["replayed as captured", signed],
      ["redelivered under another delivery id", { ...signed, "X-GitHub-Delivery": "d-2" }],
      ["replayed with admin's token", { ...signed, Authorization: "Bearer admin" }],
    ] as const) {
      figures.webhookCases += 1;
      const res = await send(route.method, path, body, headers);
      check(
        `${key} ${label}`,
        res.status === 200 && /"duplicate":true/.test(res.body),
        `${res.status} ${res.body.slice(0, 100)}`,
      );
    }
    figures.webhookCases += 1;
    const runs = await runsOfTrigger();
    check(`${key}: one run for one delivery`, runs === runsBefore + 1, `${runs - runsBefore} runs`);
  }
}
