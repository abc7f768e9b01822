import { event, harness, teamYaml } from "../test/lambdas/harness.ts";
import { type Benchmark, percentile } from "./figure.ts";
import { withDynamoDbLocal } from "./local-dynamodb.ts";

/** API handler latency for create (POST team) and get (GET team) against DynamoDB Local. */
const bench: Benchmark = () =>
  withDynamoDbLocal(async (newTable) => {
    const h = harness(await newTable("bench-api"));
    const n = 100;
    const create: number[] = [];
    const get: number[] = [];
    for (let i = 0; i < 10; i++)
      await h.api(
        event("POST", "/api/namespaces/bench/teams", { body: teamYaml(`warm-${i}`, { namespace: "bench" }) }),
      );
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const res = await h.api(
        event("POST", "/api/namespaces/bench/teams", { body: teamYaml(`team-${i}`, { namespace: "bench" }) }),
      );
      create.push(performance.now() - t0);
      if (res.statusCode !== 201) throw new Error(`create failed: ${res.body}`);
      const t1 = performance.now();
      await h.api(event("GET", `/api/namespaces/bench/teams/team-${i}`));
      get.push(performance.now() - t1);
    }
    const note = `${n} requests, DynamoDB Local, handler in-process`;
    return [
      { name: "api.create.p50", value: percentile(create, 50), unit: "ms", better: "lower", note },
      { name: "api.create.p99", value: percentile(create, 99), unit: "ms", better: "lower", note },
      { name: "api.get.p50", value: percentile(get, 50), unit: "ms", better: "lower", note },
      { name: "api.get.p99", value: percentile(get, 99), unit: "ms", better: "lower", note },
    ];
  });

export default bench;
