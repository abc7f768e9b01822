/**
 * The security suites of issue 14 as figures: the same engines `npm test` runs (test/security/*),
 * against DynamoDB Local on loopback. The API fuzzer (every route of the router, 2,000 requests or
 * 50 per route), the authorization matrix (every route × every caller, and the trigger webhook's
 * signature cases), the Slack interactivity attacks and the path confinement cases. Each suite's
 * defects have a target of 0. Bounded: the fuzzer stops at 90 s; the whole bench takes well under
 * 3 minutes on an idle machine. The fault suites (kill -9 of runners and of the stack) need the
 * whole local stack and its runners for minutes: bench/faults.bench.ts reports them.
 */
import { runApiFuzz } from "../test/security/api-fuzz.ts";
import { figureLine } from "../test/security/api-suite.ts";
import { runAuthorizationMatrix } from "../test/security/authz-matrix.ts";
import { runPathConfinement } from "../test/security/path-cases.ts";
import { runSlackAttacks } from "../test/security/slack-cases.ts";
import type { BenchFigure, Benchmark } from "./figure.ts";
import { withDynamoDbLocal } from "./local-dynamodb.ts";

const FUZZ_REQUESTS = Number(process.env.SQUADRON_FUZZ_REQUESTS ?? 2000);

const bench: Benchmark = () =>
  withDynamoDbLocal(async (tables) => {
    const newTable = () => tables("bench-security");
    const figures: BenchFigure[] = [];
    const count = (name: string, value: number, unit: string, note: string): BenchFigure => ({
      name,
      value,
      unit,
      better: "higher",
      note,
    });
    const defects = (name: string, value: string[], note: string): BenchFigure => ({
      name,
      value: value.length,
      unit: "defects",
      target: 0,
      better: "lower",
      note: value.length ? `${note}; first: ${value[0]?.slice(0, 120)}` : note,
    });

    const fuzz = await runApiFuzz({ table: await newTable(), requests: FUZZ_REQUESTS });
    const fuzzNote = `${fuzz.routes} routes (from the router), ${fuzz.overHttp} over loopback HTTP, ${(fuzz.ms / 1000).toFixed(1)} s`;
    figures.push(
      count("security.fuzz.requests", fuzz.tried, "requests", fuzzNote),
      count("security.fuzz.routes", fuzz.routes, "routes", `${fuzz.uncovered.length} not reached`),
      count("security.fuzz.refused", fuzz.refused, "requests", "answered 4xx"),
      { name: "security.fuzz.5xx", value: fuzz.serverErrors, unit: "responses", target: 0, better: "lower" },
      { name: "security.fuzz.hangs", value: fuzz.hangs, unit: "requests", target: 0, better: "lower" },
      {
        name: "security.fuzz.store-problems",
        value: fuzz.consistency.length,
        unit: "items",
        target: 0,
        better: "lower",
        note: "orphan RUNID# pointers and runs without one, audited after the fuzz",
      },
      defects("security.fuzz.defects", fuzz.defects, fuzzNote),
    );

    const matrix = await runAuthorizationMatrix({ table: await newTable() });
    const matrixNote = `${matrix.routes} routes × 6 callers, ${matrix.webhookCases} webhook cases`;
    figures.push(
      count("security.authz.checks", matrix.tried, "checks", matrixNote),
      count("security.authz.refused", matrix.refused, "checks", "answered as expected"),
      defects("security.authz.defects", matrix.defects, matrixNote),
    );

    const slack = await runSlackAttacks({ table: await newTable() });
    figures.push(
      count(
        "security.slack.cases",
        slack.tried,
        "cases",
        `forged, stale, tampered, spoofed, malformed, replayed; ${slack.fuzzed} property-based`,
      ),
      count("security.slack.refused", slack.refused, "cases", "refused or decided exactly once"),
      defects("security.slack.defects", slack.defects, "gate left Pending by every refused click"),
    );

    const paths = await runPathConfinement();
    figures.push(
      count("security.paths.cases", paths.tried, "cases", "links at every component, .., absolute paths"),
      count("security.paths.refused", paths.refused, "cases", "no secret outside the run read"),
      defects("security.paths.defects", paths.defects, "outputs, tasks, messages, logs, confined open"),
    );
    for (const [suite, f] of [
      ["api fuzzer", fuzz],
      ["authorization matrix", matrix],
      ["slack attacks", slack],
      ["path confinement", paths],
    ] as const) {
      console.error(`  ${figureLine(suite, f)}`);
    }
    return figures;
  });

export default bench;
