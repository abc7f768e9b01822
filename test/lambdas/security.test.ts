import { beforeAll, describe, expect, it } from "vitest";
import { storeConsistencyProblems } from "../support/store-consistency.ts";
import { call, type Harness, harness, newTable, teamYaml } from "./harness.ts";

/** Attacks on the API found by issue 14; each answer must be a 4xx naming the field, never 5xx. */

const cowork = (name: string, outputPrefix: string) => `apiVersion: squadron.dev/v1alpha1
kind: AgentTeam
metadata:
  name: ${name}
spec:
  workspace:
    output:
      mountPath: /workspace/output
      s3Prefix: ${outputPrefix}
  lead:
    prompt: Write the report.
`;

describe("API security (issue 14)", () => {
  let h: Harness;
  beforeAll(async () => {
    h = harness(await newTable());
  });

  it("checks an output prefix against the path's namespace when the manifest names none (1)", async () => {
    const planted = await call(h, "POST", "/api/namespaces/dev-agents/teams", {
      token: "dev-token",
      body: cowork("planted", "outputs/default/planted/"),
    });
    expect(planted.status).toBe(400);
    expect(planted.body.issues).toContainEqual(
      expect.objectContaining({ path: "spec.workspace.output.s3Prefix" }),
    );
    const own = await call(h, "POST", "/api/namespaces/dev-agents/teams", {
      token: "dev-token",
      body: cowork("own-area", "outputs/dev-agents/reports/"),
    });
    expect(own.status).toBe(201);
  });

  const badNamespaces = ["😀", "%2F", "%20", "*", "UPPER", "default%2F..%2Fprod", "a".repeat(64), "-x"];

  it.each(badNamespaces)("refuses namespace %s in the path before storing anything (6)", async (ns) => {
    const res = await call(h, "POST", `/api/namespaces/${ns}/teams`, {
      body: teamYaml("x", { namespace: "dev-agents" }).replace("  namespace: dev-agents\n", ""),
    });
    expect(res.status).toBe(400);
    expect(res.body.issues?.[0]?.path).toBe("namespace");
    const listed = await call(h, "GET", `/api/namespaces/${ns}/teams`);
    expect(listed.status).toBe(400);
  });

  it("refuses bad team names on every per-team route, including names longer than a DynamoDB key (6, 7)", async () => {
    const longName = "a".repeat(3000);
    for (const [method, suffix] of [
      ["GET", ""],
      ["DELETE", ""],
      ["GET", "/events"],
      ["GET", "/tasks"],
      ["GET", "/messages"],
      ["POST", "/gates/g/approve"],
    ] as const) {
      for (const name of [longName, "UP", "..", "a%2Fb"]) {
        const res = await call(h, method, `/api/namespaces/dev-agents/teams/${name}${suffix}`);
        expect(res.status, `${method} ${name.slice(0, 8)}${suffix}`).toBe(400);
        expect(res.body.issues?.[0]?.path).toBe("name");
      }
    }
    const gate = await call(
      h,
      "POST",
      `/api/namespaces/dev-agents/teams/alpha/gates/${"g".repeat(3000)}/approve`,
    );
    expect(gate.status).toBe(400);
    expect(gate.body.issues?.[0]?.path).toBe("gate");
  });

  it("writes nothing of a hostile manifest to the process's warnings (found by the API fuzzer)", async () => {
    // yaml logs a document's warnings (an unresolved tag, with the client's text) through
    // process.emitWarning unless told not to: anyone could write lines into the API's logs.
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on("warning", onWarning);
    try {
      for (const [path, body] of [
        ["/api/namespaces/dev-agents/teams", "!forged\nERROR admin logged in: x"],
        ["/api/namespaces/dev-agents/templates/t/runs", "!forged-run x"],
        ["/api/namespaces/dev-agents/triggers", "!forged-trigger\nkind: AgentTeamTrigger"],
      ] as const) {
        const res = await call(h, "POST", path, { body });
        expect(res.status, `${path}: ${JSON.stringify(res.body)}`).toBe(400);
      }
      await new Promise((r) => setImmediate(r)); // emitWarning delivers on the next tick
    } finally {
      process.off("warning", onWarning);
    }
    expect(warnings.filter((m) => /forged/.test(m))).toEqual([]);
  });

  it("answers 404, not 500, for messages of agent __proto__ or constructor (7)", async () => {
    expect(
      (await call(h, "POST", "/api/namespaces/dev-agents/teams", { body: teamYaml("protos") })).status,
    ).toBe(201);
    for (const agent of ["__proto__", "constructor", "toString"]) {
      const res = await call(h, "GET", "/api/namespaces/dev-agents/teams/protos/messages", {
        query: { agent },
      });
      expect(res.status, agent).toBe(404);
    }
  });
});

describe("API robustness on hostile manifests (issue 14: 7, 8)", () => {
  let h: Harness;
  beforeAll(async () => {
    h = harness(await newTable());
  });

  const team = (name: string, extra = "", lifecycle = "") => `apiVersion: squadron.dev/v1alpha1
kind: AgentTeam
metadata:
  name: ${name}
  labels:
    constructor: x
    __proto__: y
    toString: z
spec:
  workspace: {}
  lead:
    prompt: Lead.${extra}
  teammates:
    - name: constructor
      prompt: Build.
    - name: tostring
      prompt: Check.
${lifecycle}`;

  it("stores and shows a team whose agents and labels are named like Object.prototype members", async () => {
    const created = await call(h, "POST", "/api/namespaces/dev-agents/teams", { body: team("protos") });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const got = await call(h, "GET", "/api/namespaces/dev-agents/teams/protos");
    expect(got.status).toBe(200);
    expect(got.body.teammates.map((t: { name: string }) => t.name)).toEqual(["constructor", "tostring"]);
    const messages = await call(h, "GET", "/api/namespaces/dev-agents/teams/protos/messages", {
      query: { agent: "constructor" },
    });
    expect(messages.status).toBe(200);
  });

  it("answers 400 naming the field for absurd budgets and timeouts, before storing", async () => {
    for (const [lifecycle, path] of [
      ["  lifecycle:\n    budgetLimit: 1e308\n", "spec.lifecycle.budgetLimit"],
      ["  lifecycle:\n    budgetLimit: 100000000\n", "spec.lifecycle.budgetLimit"],
      [`  lifecycle:\n    timeout: "${"9".repeat(400)}s"\n`, "spec.lifecycle.timeout"],
      ['  lifecycle:\n    timeout: "2400000000h"\n', "spec.lifecycle.timeout"],
      [`  lifecycle:\n    timeoutSeconds: ${"9".repeat(400)}\n`, "spec.lifecycle.timeoutSeconds"],
    ] as const) {
      const res = await call(h, "POST", "/api/namespaces/dev-agents/teams", {
        body: team("absurd", "", lifecycle),
      });
      expect(res.status, lifecycle).toBe(400);
      expect(
        res.body.issues.map((i: { path: string }) => i.path),
        lifecycle,
      ).toContain(path);
    }
    expect((await call(h, "GET", "/api/namespaces/dev-agents/teams/absurd")).status).toBe(404);
  });

  it("answers 413 naming the limit for a valid manifest too large for one stored item", async () => {
    const prompt = "p".repeat(31 * 1024);
    const teammates = Array.from(
      { length: 20 },
      (_, i) => `    - name: t${i}\n      prompt: ${prompt}\n`,
    ).join("");
    const body = `apiVersion: squadron.dev/v1alpha1
kind: AgentTeam
metadata:
  name: huge
spec:
  workspace: {}
  lead:
    prompt: ${prompt}
  teammates:
${teammates}`;
    const res = await call(h, "POST", "/api/namespaces/dev-agents/teams", { body });
    expect(res.status).toBe(413);
    expect(res.body.error).toMatch(/KiB/);
    expect(res.body.issues?.[0]?.path).toBe("spec");
    expect((await call(h, "GET", "/api/namespaces/dev-agents/teams/huge")).status).toBe(404);
  });
});

describe("API failures leave nothing behind (issue 14: 9, 10)", () => {
  let h: Harness;
  let table: Awaited<ReturnType<typeof newTable>>;
  beforeAll(async () => {
    table = await newTable();
    h = harness(table);
  });

  it("a create refused after the pointer was written leaves no RUNID# pointer", async () => {
    expect(
      (await call(h, "POST", "/api/namespaces/dev-agents/teams", { body: teamYaml("twice") })).status,
    ).toBe(201);
    // The same manifest again is a no-op (200 unchanged), a changed one a 409: neither leaves a pointer.
    for (let i = 0; i < 3; i++) {
      expect(
        (await call(h, "POST", "/api/namespaces/dev-agents/teams", { body: teamYaml("twice") })).status,
      ).toBe(200);
      const changed = teamYaml("twice").replace('timeout: "2h"', `timeout: "${i + 3}h"`);
      expect((await call(h, "POST", "/api/namespaces/dev-agents/teams", { body: changed })).status).toBe(409);
    }
    expect(await storeConsistencyProblems(table.client, table.tableName)).toEqual([]);
  });

  it("releases an Idempotency-Key after a server error, so the retry is not stuck for 24 h", async () => {
    const starter = h.deps.starter;
    h.deps.starter = {
      start: async () => {
        throw new Error("Step Functions is unavailable");
      },
    } as typeof starter;
    const headers = { "Idempotency-Key": "retry-after-5xx" };
    const body = teamYaml("flaky").replace("  namespace: dev-agents\n", "");
    const first = await call(h, "POST", "/api/namespaces/dev-agents/teams", { body, headers });
    expect(first.status).toBeGreaterThanOrEqual(500);
    h.deps.starter = starter;
    const retry = await call(h, "POST", "/api/namespaces/dev-agents/teams", { body, headers });
    expect(retry.body.error ?? "").not.toMatch(/still in progress/);
    expect(retry.status).toBeLessThan(500);
  });
});

describe("delete racing apply (issue 14: 15)", () => {
  let h: Harness;
  beforeAll(async () => {
    h = harness(await newTable());
  });
  const del = (name: string) => call(h, "DELETE", `/api/namespaces/dev-agents/teams/${name}`);

  it("answers 409 'being created' to a delete that arrives before the team is stored", async () => {
    const put = h.deps.runs.put.bind(h.deps.runs);
    let during: Awaited<ReturnType<typeof del>> | undefined;
    h.deps.runs.put = async (runId, ref) => {
      during = await del(ref.name);
      return put(runId, ref);
    };
    try {
      expect(
        (await call(h, "POST", "/api/namespaces/dev-agents/teams", { body: teamYaml("race-a") })).status,
      ).toBe(201);
    } finally {
      h.deps.runs.put = put;
    }
    expect(during?.status).toBe(409);
    expect(during?.body.error).toMatch(/being created; retry/);
    expect((await del("race-a")).status).toBe(202);
    expect((await del("never-created")).status).toBe(404);
  });

  it("stops the execution of a team cancelled while its execution was starting", async () => {
    const starter = h.deps.starter;
    let during: Awaited<ReturnType<typeof del>> | undefined;
    h.deps.starter = {
      start: async (input: Parameters<typeof starter.start>[0]) => {
        during = await del(input.teamName);
        return starter.start(input);
      },
    } as typeof starter;
    try {
      await call(h, "POST", "/api/namespaces/dev-agents/teams", { body: teamYaml("race-b") });
    } finally {
      h.deps.starter = starter;
    }
    expect(during?.status).toBe(202);
    const view = await call(h, "GET", "/api/namespaces/dev-agents/teams/race-b");
    expect(view.body.phase).toBe("Cancelled");
    const arn = h.sfn.of("StartExecution").find((s) => String(s.name).startsWith("race-b"))?.name;
    expect(h.sfn.of("StopExecution").map((s) => String(s.executionArn))).toContainEqual(
      expect.stringContaining(String(arn)),
    );
  });
});
