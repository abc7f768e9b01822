import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assetFor, serveWebView } from "../../web/serve.ts";

let base: string;
let close: () => Promise<void>;

beforeAll(async () => {
  const server = createServer((req, res) => {
    if (!serveWebView(req, res)) {
      res.writeHead(418, { "content-type": "text/plain" });
      res.end("passed on");
    }
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => new Promise((done) => server.close(() => done()));
});
afterAll(() => close());

/** A raw request, so paths reach the server exactly as written (fetch would normalise them). */
function raw(path: string, method = "GET", headers: Record<string, string> = {}) {
  return new Promise<{
    status: number;
    headers: Record<string, string | string[] | undefined>;
    body: string;
  }>((done, fail) => {
    const url = new URL(base);
    const req = request({ host: url.hostname, port: url.port, path, method, headers }, (res) => {
      let body = "";
      res.on("data", (c) => {
        body += c;
      });
      res.on("end", () => done({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", fail);
    req.end();
  });
}

describe("serveWebView", () => {
  it("serves index.html at / and /ui/ with no-cache, an ETag and a strict CSP", async () => {
    for (const path of ["/", "/ui", "/ui/", "/ui/index.html"]) {
      const res = await raw(path);
      expect(res.status, path).toBe(200);
      expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
      expect(res.body).toContain('<script type="module" src="/ui/app.js">');
      expect(res.headers["cache-control"]).toBe("no-cache");
      expect(res.headers.etag).toMatch(/^"[\w-]{22}"$/);
      expect(res.headers["content-security-policy"]).toContain("script-src 'self'");
      expect(res.headers["x-content-type-options"]).toBe("nosniff");
    }
  });

  it("answers each asset with its content type", async () => {
    const cases: Array<[string, string]> = [
      ["/ui/app.js", "text/javascript; charset=utf-8"],
      ["/ui/graph.js", "text/javascript; charset=utf-8"],
      ["/ui/styles.css", "text/css; charset=utf-8"],
      ["/ui/favicon.svg", "image/svg+xml"],
    ];
    for (const [path, type] of cases) {
      const res = await raw(path);
      expect(res.status, path).toBe(200);
      expect(res.headers["content-type"]).toBe(type);
      expect(Number(res.headers["content-length"])).toBe(Buffer.byteLength(res.body));
    }
  });

  it("revalidates with If-None-Match (304) and answers HEAD without a body", async () => {
    const first = await raw("/ui/app.js");
    const again = await raw("/ui/app.js", "GET", { "if-none-match": String(first.headers.etag) });
    expect(again.status).toBe(304);
    expect(again.body).toBe("");
    const head = await raw("/ui/styles.css", "HEAD");
    expect(head.status).toBe(200);
    expect(head.body).toBe("");
  });

  it("refuses traversal, hidden files, sub-folders and non-asset files without leaving web/", async () => {
    for (const path of [
      "/ui/..%2fpackage.json",
      "/ui/%2e%2e%2fpackage.json",
      "/ui/..%5cpackage.json",
      "/ui/serve.ts",
      "/ui/.gitignore",
      "/ui/sub/app.js",
      "/ui/app.js%00.css",
      "/ui/%E0%A4%A",
      "/ui/missing.js",
    ]) {
      const res = await raw(path);
      expect(res.status, path).toBe(404);
      expect(res.body, path).not.toContain("serveWebView");
      expect(res.body, path).not.toContain('"name"');
    }
    // Dot segments are resolved by the URL parser first, so they land outside /ui/ and pass on.
    expect((await raw("/ui/../package.json")).status).toBe(418);
  });

  it("refuses methods other than GET and HEAD with 405 and Allow", async () => {
    const res = await raw("/ui/app.js", "POST");
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe("GET, HEAD");
  });

  it("returns false for everything else, leaving the response to the API", async () => {
    for (const path of [
      "/api/health",
      "/api/namespaces/default/teams",
      "/uix",
      "/favicon.ico",
      "/index.html",
    ]) {
      const res = await raw(path);
      expect(res.status, path).toBe(418);
      expect(res.body).toBe("passed on");
    }
  });

  it("maps paths to asset names", () => {
    expect(assetFor("/")).toBe("index.html");
    expect(assetFor("/ui/app.js")).toBe("app.js");
    expect(assetFor("/ui/APP.JS")).toBe("APP.JS");
    expect(assetFor("/ui/x/../app.js")).toBeNull();
    expect(assetFor("/api/tasks")).toBeUndefined();
  });
});
