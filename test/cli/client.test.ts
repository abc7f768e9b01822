import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveConnection, signRequest } from "../../cli/client/index.ts";
import { humanDuration, renderTable } from "../../cli/output/index.ts";
import { iamAuthorizer } from "../../core/control/http.ts";
import { apiHandler } from "../../lambdas/api/routes.ts";
import { harness, newTable } from "../lambdas/harness.ts";
import { type ApiServer, type RecordedRequest, squadron, startApiServer } from "./support/api-server.ts";
import { AUTHORIZATION, CREDENTIALS, expectedSignature } from "./support/sigv4.ts";

describe("SigV4 signing", () => {
  it("matches an independent computation at a fixed time, query and body included", async () => {
    const url = new URL(
      "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/api/namespaces/dev/teams?limit=5&nextToken=a%2Bb",
    );
    const body = JSON.stringify({ reason: "ok" });
    const headers = await signRequest(
      { method: "POST", url, headers: { "content-type": "application/json" }, body },
      { region: "eu-west-1", credentials: CREDENTIALS, signingDate: new Date("2026-02-03T04:05:06Z") },
    );
    expect(headers["x-amz-date"]).toBe("20260203T040506Z");
    expect(headers["x-amz-security-token"]).toBe(CREDENTIALS.sessionToken);
    const match = AUTHORIZATION.exec(headers.authorization ?? "");
    expect(match?.slice(1, 3)).toEqual(["20260203", "eu-west-1"]);
    const signed = (match?.[3] ?? "").split(";");
    expect(signed).toEqual(expect.arrayContaining(["host", "x-amz-date", "content-type"]));
    const recorded: RecordedRequest = {
      method: "POST",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: { ...headers, host: url.host },
      body,
    };
    expect(match?.[4]).toBe(expectedSignature(recorded, signed, "eu-west-1"));
  });

  describe("through the CLI against the API with IAM auth", () => {
    let server: ApiServer;
    beforeAll(async () => {
      const h = harness(await newTable());
      server = await startApiServer(apiHandler({ ...h.deps, authorize: iamAuthorizer }));
    });
    afterAll(async () => {
      await server?.close();
    });

    it("signs with credentials from the standard chain and the region from AWS_REGION", async () => {
      const result = await squadron(
        ["get", "teams", "-n", "signed", "--auth", "sigv4", "--endpoint", server.endpoint],
        {
          env: {
            AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
            AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
            AWS_SESSION_TOKEN: CREDENTIALS.sessionToken,
            AWS_REGION: "ap-southeast-2",
          },
        },
      );
      expect(result.stderr).toBe("No teams found in namespace signed.\n");
      expect(result.code).toBe(0);
      const request = server.requests.at(-1) as RecordedRequest;
      expect(request.query).toEqual({ limit: "100" });
      const match = AUTHORIZATION.exec(request.headers.authorization ?? "");
      expect(match?.[2]).toBe("ap-southeast-2");
      expect(request.headers["x-amz-security-token"]).toBe(CREDENTIALS.sessionToken);
      const signed = (match?.[3] ?? "").split(";");
      expect(signed).toEqual(expect.arrayContaining(["host", "x-amz-date"]));
      expect(match?.[4]).toBe(expectedSignature(request, signed, "ap-southeast-2"));
      // A changed query would not verify: the signature covers it.
      expect(match?.[4]).not.toBe(
        expectedSignature({ ...request, query: { limit: "99" } }, signed, "ap-southeast-2"),
      );
    });
  });
});

describe("connection resolution", () => {
  const config = async () => ({ endpoint: "http://127.0.0.1:8787", token: "local-token" });

  it("uses the config's endpoint and token together", async () => {
    const connection = await resolveConnection({}, {}, config);
    expect(connection).toMatchObject({ source: "config", auth: { kind: "token", token: "local-token" } });
  });

  it("never sends the config's token to another endpoint; a deployed API is signed, region from its host", async () => {
    const connection = await resolveConnection(
      { endpoint: "https://abc123.execute-api.eu-central-1.amazonaws.com/prod" },
      {},
      config,
    );
    expect(connection.auth).toEqual({ kind: "sigv4", region: "eu-central-1" });
    expect(connection.endpoint.pathname).toBe("/prod");
  });

  it("takes SQUADRON_TOKEN for any endpoint and no auth for an unconfigured loopback", async () => {
    const env = { SQUADRON_ENDPOINT: "http://localhost:9000" };
    expect((await resolveConnection({}, { ...env, SQUADRON_TOKEN: "t" }, config)).auth).toEqual({
      kind: "token",
      token: "t",
    });
    expect((await resolveConnection({}, env, config)).auth).toEqual({ kind: "none" });
  });

  it("asks for a region when a signed endpoint does not tell it", async () => {
    await expect(resolveConnection({ endpoint: "https://api.example.com" }, {}, config)).rejects.toThrow(
      /set AWS_REGION/,
    );
  });
});

describe("output", () => {
  it("prints ages like kubectl", () => {
    const cases: [number, string][] = [
      [-5_000, "<invalid>"],
      [-1_000, "0s"],
      [45_000, "45s"],
      [119_000, "119s"],
      [330_000, "5m30s"],
      [12 * 60_000, "12m"],
      [179 * 60_000, "179m"],
      [3 * 3_600_000, "3h"],
      [(3 * 60 + 20) * 60_000, "3h20m"],
      [47 * 3_600_000, "47h"],
      [2 * 86_400_000, "2d"],
      [(3 * 24 + 5) * 3_600_000, "3d5h"],
      [400 * 86_400_000, "400d"],
      [(2 * 365 + 30) * 86_400_000, "2y30d"],
      [9 * 365 * 86_400_000, "9y"],
    ];
    for (const [ms, text] of cases) expect(humanDuration(ms), String(ms)).toBe(text);
  });

  it("aligns tables with three spaces and no trailing blanks", () => {
    expect(
      renderTable(
        ["NAME", "PHASE"],
        [
          ["a", "Running"],
          ["longer-name", ""],
        ],
      ),
    ).toEqual(["NAME          PHASE", "a             Running", "longer-name"]);
  });
});
