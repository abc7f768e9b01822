import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningGateway, serveGateway } from "../../local/http-gateway.ts";

let gateway: RunningGateway;
const seen: APIGatewayProxyEvent[] = [];

beforeAll(async () => {
  gateway = await serveGateway(async (event): Promise<APIGatewayProxyResult> => {
    seen.push(event);
    if (event.path === "/boom") throw new Error("handler crashed");
    if (event.path === "/bin")
      return {
        statusCode: 200,
        isBase64Encoded: true,
        headers: { "content-type": "application/octet-stream" },
        body: Buffer.from([0, 1, 2]).toString("base64"),
      };
    return {
      statusCode: 201,
      headers: { "content-type": "application/json", "x-one": "1" },
      multiValueHeaders: { "set-cookie": ["a=1", "b=2"] },
      body: JSON.stringify({ echo: event.body }),
    };
  });
});

afterAll(() => gateway.close());

describe("local API gateway", () => {
  it("turns a request into an API Gateway REST proxy event and the result into a response", async () => {
    const res = await fetch(`${gateway.url}/api/namespaces/dev/teams?limit=5&x=1&x=2`, {
      method: "POST",
      headers: { authorization: "Bearer t", "content-type": "application/yaml" },
      body: "kind: AgentTeam\n",
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("x-one")).toBe("1");
    expect(res.headers.get("set-cookie")).toBe("a=1, b=2");
    expect(await res.json()).toEqual({ echo: "kind: AgentTeam\n" });
    const event = seen.at(-1) as APIGatewayProxyEvent;
    expect(event.httpMethod).toBe("POST");
    expect(event.path).toBe("/api/namespaces/dev/teams");
    expect(event.headers.authorization).toBe("Bearer t");
    expect(event.queryStringParameters).toEqual({ limit: "5", x: "2" });
    expect(event.multiValueQueryStringParameters).toEqual({ limit: ["5"], x: ["1", "2"] });
    expect(event.isBase64Encoded).toBe(false);
    expect(event.requestContext.identity.sourceIp).toMatch(/127\.0\.0\.1/);
    expect(event.requestContext.requestId).toMatch(/[0-9a-f-]{36}/);
  });

  it("base64-encodes binary bodies both ways and has null for no body", async () => {
    const res = await fetch(`${gateway.url}/bin`, {
      method: "PUT",
      headers: { "content-type": "application/octet-stream" },
      body: new Uint8Array([255, 0]),
    });
    expect(Buffer.from(await res.arrayBuffer())).toEqual(Buffer.from([0, 1, 2]));
    expect(seen.at(-1)?.isBase64Encoded).toBe(true);
    expect(Buffer.from(seen.at(-1)?.body ?? "", "base64")).toEqual(Buffer.from([255, 0]));
    await fetch(`${gateway.url}/x`);
    expect(seen.at(-1)?.body).toBeNull();
    expect(seen.at(-1)?.queryStringParameters).toBeNull();
  });

  it("passes query parameters and headers named like Object.prototype members on, never a 502 (found by the API fuzzer)", async () => {
    const res = await fetch(`${gateway.url}/api/health?constructor=a&__proto__=b&toString=c&toString=d`, {
      headers: [
        ["constructor", "h1"],
        ["__proto__", "h2"],
        ["hasOwnProperty", "h3"],
      ],
    });
    expect(res.status).toBe(201);
    const event = seen.at(-1) as APIGatewayProxyEvent;
    // Entries, not object literals: `{__proto__: ...}` in a literal would set a prototype.
    expect(Object.entries(event.queryStringParameters ?? {})).toEqual([
      ["constructor", "a"],
      ["__proto__", "b"],
      ["toString", "d"],
    ]);
    expect(Object.entries(event.multiValueQueryStringParameters ?? {})).toEqual([
      ["constructor", ["a"]],
      ["__proto__", ["b"]],
      ["toString", ["c", "d"]],
    ]);
    // (Node's own req.headers drops a `__proto__` header; the others reach the handler as keys.)
    expect(Object.entries(event.headers)).toEqual(
      expect.arrayContaining([
        ["constructor", "h1"],
        ["hasownproperty", "h3"],
      ]),
    );
    expect(Object.entries(event.multiValueHeaders)).toEqual(
      expect.arrayContaining([["constructor", ["h1"]]]),
    );
  });

  it("answers 502 when the handler throws, as API Gateway does", async () => {
    const res = await fetch(`${gateway.url}/boom`);
    expect(res.status).toBe(502);
    expect(await res.json()).toEqual({ error: "internal server error" });
  });
});
