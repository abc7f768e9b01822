import { beforeAll, describe, expect, it } from "vitest";
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
