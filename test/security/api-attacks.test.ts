import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { json } from "../../core/control/http.ts";
import { newTable } from "../lambdas/harness.ts";
import { MIN_REACHED, runApiFuzz } from "./api-fuzz.ts";
import { figureLine, suiteApi } from "./api-suite.ts";
import { runAuthorizationMatrix } from "./authz-matrix.ts";

/**
 * The API attack suites of issue 14, against DynamoDB Local and the local gateway on loopback, over
 * every route of the router (test/security/api-suite.ts builds it with every optional dependency;
 * the suites take their routes from `Router.list()`, so a new route is covered without a list here):
 * - the authorization matrix (test/security/authz-matrix.ts);
 * - the bounded property-based fuzzer (test/security/api-fuzz.ts): at least
 *   SQUADRON_FUZZ_REQUESTS requests (default 2,000) and 50 per route; never a 5xx or a hang, every
 *   route's handler reached, the store consistent after.
 * Each prints tried / refused correctly / defects.
 */

const FUZZ_REQUESTS = Number(process.env.SQUADRON_FUZZ_REQUESTS ?? 2000);

describe("API attack suites", () => {
  let table: Awaited<ReturnType<typeof newTable>>;
  beforeAll(async () => {
    table = await newTable();
  });

  it("authorization matrix: every route × no token / wrong token / other-namespace token / admin, and every way to call a trigger webhook", async () => {
    const figures = await runAuthorizationMatrix({ table: await newTable() });
    console.log(
      figureLine(
        "authorization matrix",
        figures,
        ` (${figures.routes} routes, ${figures.webhookCases} webhook cases)`,
      ),
    );
    expect(figures.defects).toEqual([]);
    expect(figures.webhookCases).toBeGreaterThan(0);
  }, 60_000);

  it(
    `fuzzes every route of the router with at least ${FUZZ_REQUESTS} hostile requests: no 5xx, no hang, store consistent`,
    async () => {
      const figures = await runApiFuzz({
        table,
        requests: FUZZ_REQUESTS,
        seed: Number(process.env.SQUADRON_FUZZ_SEED ?? 14),
        ...(process.env.SQUADRON_FUZZ_TIME_LIMIT_MS
          ? { timeLimitMs: Number(process.env.SQUADRON_FUZZ_TIME_LIMIT_MS) }
          : {}),
      });
      console.log(
        figureLine(
          "api fuzzer",
          figures,
          ` (${figures.routes} routes, ${figures.overHttp} over loopback HTTP, ${figures.accepted} accepted, ${figures.serverErrors} × 5xx, ${figures.hangs} hangs, ${figures.secretUnavailable} × 503 of a trigger without its secret, ${(figures.ms / 1000).toFixed(1)} s)`,
        ),
      );
      if (process.env.SQUADRON_FUZZ_VERBOSE)
        for (const [route, c] of Object.entries(figures.perRoute))
          console.log(
            `  ${route}: ${c.sent} sent, ${c.reached} reached the handler, ${c.accepted} accepted, ${Math.round(c.ms)} ms`,
          );
      expect(figures.defects).toEqual([]);
      expect(figures.tried).toBeGreaterThanOrEqual(FUZZ_REQUESTS);
      for (const [route, c] of Object.entries(figures.perRoute))
        expect(c.reached, `${route} reached its handler`).toBeGreaterThanOrEqual(MIN_REACHED);
    },
    Number(process.env.SQUADRON_FUZZ_TIME_LIMIT_MS ?? 90_000) + 30_000,
  );

  it("docs/api.md's route table lists every route of the router, and no route the router lacks", async () => {
    const api = suiteApi(table);
    api.close();
    // `{ns}` and `{path}` as the docs write them; `?query` dropped.
    const normal = (p: string) =>
      p
        .replace(/\?.*$/, "")
        .replace(/\{ns\}/g, "{namespace}")
        .replace(/\/\{path\+\}$/, "{path}");
    const routed = api.router
      .list()
      .map((r) => `${r.method} ${normal(r.template)}`)
      .sort();
    const documented: string[] = [];
    const doc = readFileSync(new URL("../../docs/api.md", import.meta.url), "utf8");
    const section = doc.slice(doc.indexOf("## Routes"), doc.indexOf("### Schedule fires"));
    for (const line of section.split("\n")) {
      const cells = line.split("|").map((c) => c.trim());
      const methods = cells[1]?.split("/").map((m) => m.trim()) ?? [];
      const paths = [...(cells[2] ?? "").matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);
      if (!methods.every((m) => /^[A-Z]+$/.test(m)) || paths.length === 0) continue;
      const [first, ...more] = paths as [string, ...string[]];
      // "`.../suspend`, `/resume`": a sibling of the first path.
      const all = [first, ...more.map((m) => first.replace(/\/[^/]+$/, m))];
      for (const method of methods) for (const p of all) documented.push(`${method} ${normal(p)}`);
    }
    expect(documented.sort()).toEqual(routed);
  });

  it("fuzzes a route added to the router without its being listed, and stops at one whose parameters it cannot fill", async () => {
    const reached: string[] = [];
    const figures = await runApiFuzz({
      table: await newTable(),
      requests: 0,
      perRoute: 30,
      only: (route) => route.template.includes("/widgets/"),
      extend: (router) =>
        router.on("GET", "/api/namespaces/{namespace}/widgets/{name}", async (req) => {
          reached.push(req.params.name as string);
          return json(200, {});
        }),
    });
    const widgets = figures.perRoute["GET /api/namespaces/{namespace}/widgets/{name}"];
    expect(figures.tried).toBe(30);
    expect(widgets?.sent).toBe(30);
    // What the fuzzer counts as reaching a handler is what reached it.
    expect(widgets?.reached).toBe(reached.length);
    expect(reached.length).toBeGreaterThan(0);
    await expect(
      runApiFuzz({
        table: await newTable(),
        requests: 0,
        perRoute: 1,
        extend: (router) => router.on("GET", "/api/things/{thingId}", async () => json(200, {})),
      }),
    ).rejects.toThrow(/no value for path parameter \{thingId\}/);
  });
});
