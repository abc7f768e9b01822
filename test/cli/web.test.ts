/**
 * `squadron web` as a user runs it, against the API with IAM auth (the deployed shape): the page
 * is served, its API calls are relayed signed with SigV4 from the credential chain, and nothing
 * reaches the API without the session token the command printed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { iamAuthorizer } from "../../core/control/http.ts";
import { apiHandler } from "../../lambdas/api/routes.ts";
import { harness, newTable } from "../lambdas/harness.ts";
import {
  type ApiServer,
  type CliResult,
  type RecordedRequest,
  squadron,
  startApiServer,
} from "./support/api-server.ts";
import { AUTHORIZATION, CREDENTIALS, expectedSignature } from "./support/sigv4.ts";

let api: ApiServer;
let page: URL;
let token: string;
const stop = new AbortController();
let exited: Promise<CliResult>;

beforeAll(async () => {
  api = await startApiServer(apiHandler({ ...harness(await newTable()).deps, authorize: iamAuthorizer }));
  let found: (url: string) => void = () => {};
  const printed = new Promise<string>((resolve) => {
    found = resolve;
  });
  exited = squadron(["web", "--endpoint", api.endpoint, "--auth", "sigv4", "--port", "0"], {
    env: {
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      AWS_SESSION_TOKEN: CREDENTIALS.sessionToken,
      AWS_REGION: "eu-west-1",
    },
    signal: stop.signal,
    onStdout: (soFar) => {
      const url = /http:\/\/127\.0\.0\.1:\d+\/#token=[\w-]+/.exec(soFar)?.[0];
      if (url) found(url);
    },
  });
  page = new URL(await Promise.race([printed, exited.then((r) => Promise.reject(new Error(r.stderr)))]));
  token = new URLSearchParams(page.hash.slice(1)).get("token") as string;
}, 60_000);

afterAll(async () => {
  stop.abort();
  await exited;
  await api?.close();
});

const at = (path: string) => new URL(path, page.origin);

describe("squadron web", () => {
  it("serves the web view", async () => {
    const res = await fetch(at("/"));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await res.text()).toContain("Squadron");
  });

  it("relays the page's API calls signed with SigV4, never with the page's token", async () => {
    const before = api.requests.length;
    const res = await fetch(at("/api/namespaces/web-signed/teams?limit=7"), {
      headers: { authorization: `Bearer ${token}`, accept: "application/json" },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ items: [] });
    expect(api.requests).toHaveLength(before + 1);
    const request = api.requests.at(-1) as RecordedRequest;
    expect(request.path).toBe("/api/namespaces/web-signed/teams");
    expect(request.query).toEqual({ limit: "7" });
    expect(request.headers.authorization).not.toContain(token);
    const match = AUTHORIZATION.exec(request.headers.authorization ?? "");
    expect(match?.[2]).toBe("eu-west-1");
    const signed = (match?.[3] ?? "").split(";");
    expect(match?.[4]).toBe(expectedSignature(request, signed, "eu-west-1"));
  });

  it("relays bodies and the API's errors as they are", async () => {
    const res = await fetch(at("/api/namespaces/web-signed/teams"), {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({
        apiVersion: "squadron.dev/v1alpha1",
        kind: "AgentTeam",
        metadata: { name: "Bad" },
      }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { issues: Array<{ path: string }> };
    expect(body.issues.map((i) => i.path)).toContain("metadata.name");
    const request = api.requests.at(-1) as RecordedRequest;
    expect(JSON.parse(request.body)).toMatchObject({ metadata: { name: "Bad" } });
    const match = AUTHORIZATION.exec(request.headers.authorization ?? "");
    expect(match?.[4]).toBe(expectedSignature(request, (match?.[3] ?? "").split(";"), "eu-west-1"));
  });

  it("refuses requests without its session token, or naming another host, before the API sees them", async () => {
    const before = api.requests.length;
    const none = await fetch(at("/api/namespaces/web-signed/teams"));
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: string }).error).toContain("session token");
    const wrong = await fetch(at("/api/namespaces/web-signed/teams"), {
      headers: { authorization: `Bearer ${token}x` },
    });
    expect(wrong.status).toBe(401);
    // A DNS-rebinding page reaches this port under its own name: refused.
    const rebound = await new Promise<number>((resolve, reject) => {
      import("node:http").then(({ request }) =>
        request(
          {
            host: "127.0.0.1",
            port: Number(page.port),
            path: "/api/namespaces/x/teams",
            headers: { host: "evil.example:80", authorization: `Bearer ${token}` },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        )
          .on("error", reject)
          .end(),
      );
    });
    expect(rebound).toBe(403);
    expect(api.requests.length).toBe(before);
  });

  it("stops on Ctrl-C with status 0", async () => {
    stop.abort();
    const result = await exited;
    expect(result.stdout).toContain(`Web view for ${api.endpoint}/ (SigV4 (eu-west-1)) at`);
    expect(result.code, result.stderr).toBe(0);
  });
});
