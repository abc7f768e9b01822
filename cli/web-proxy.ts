/**
 * `squadron web`: the web view on this machine, in front of any Squadron API. Browsers cannot
 * sign requests with SigV4, so this server serves the page and relays its `/api/*` requests to
 * the API with the CLI's own auth (SigV4 from the AWS credential chain, or a bearer token).
 *
 * It holds the user's credentials, so it answers only requests that carry its session token (the
 * page takes it from the URL fragment, as in local mode) and name it by a loopback host (no DNS
 * rebinding); the browser's own Authorization header is never passed on.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { serveWebView } from "../web/serve.ts";
import { ApiError, type SquadronClient, UnreachableError } from "./client/index.ts";

export interface WebProxyOptions {
  client: SquadronClient;
  host: string;
  port: number;
  /** Fixed session token (tests); random by default. */
  token?: string;
  /** Largest request body relayed, in bytes. */
  maxBodyBytes?: number;
}

export interface WebProxy {
  /** The page's address with the session token in the fragment. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** A host name or address of this machine (127.0.0.0/8, ::1, localhost). */
function isLoopback(host: string): boolean {
  return (
    host === "localhost" ||
    host === "[::1]" ||
    host === "::1" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
  );
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": String(Buffer.byteLength(text)),
    "cache-control": "no-store",
  });
  res.end(text);
}

async function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new RangeError(`request body over ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return chunks.length === 0 ? undefined : Buffer.concat(chunks).toString("utf8");
}

export async function startWebProxy(options: WebProxyOptions): Promise<WebProxy> {
  const token = options.token ?? randomBytes(24).toString("base64url");
  const expected = Buffer.from(`Bearer ${token}`);
  const limit = options.maxBodyBytes ?? 1024 * 1024;
  const loopbackOnly = isLoopback(options.host);

  const authorized = (req: IncomingMessage): boolean => {
    const given = Buffer.from(req.headers.authorization ?? "");
    return given.length === expected.length && timingSafeEqual(given, expected);
  };

  const relay = async (req: IncomingMessage, res: ServerResponse, pathAndQuery: string) => {
    const method = req.method ?? "GET";
    let body: string | undefined;
    try {
      body = await readBody(req, limit);
    } catch (problem) {
      json(res, 413, { error: (problem as Error).message });
      return;
    }
    try {
      const answer = await options.client.send(method, pathAndQuery, body, req.headers["content-type"]);
      res.writeHead(answer.status, {
        "content-type": answer.contentType ?? "application/json",
        "content-length": String(Buffer.byteLength(answer.text)),
        "cache-control": "no-store",
      });
      res.end(answer.text);
    } catch (problem) {
      // The API was not reached or the request could not be signed: say so as the API would.
      const status =
        problem instanceof ApiError ? problem.status : problem instanceof UnreachableError ? 502 : 500;
      json(res, status, { error: (problem as Error).message });
    }
  };

  const server: Server = createServer((req, res) => {
    const hostname = (req.headers.host ?? "").replace(/:\d+$/, "");
    if (loopbackOnly && !isLoopback(hostname)) {
      json(res, 403, { error: `requests must name this machine (127.0.0.1 or localhost), not ${hostname}` });
      return;
    }
    if (serveWebView(req, res)) return;
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname === "/api" || url.pathname.startsWith("/api/")) {
      if (url.pathname !== "/api/health" && !authorized(req)) {
        json(res, 401, {
          error: "this page's session token is missing or wrong: open the address `squadron web` printed",
        });
        return;
      }
      void relay(req, res, `${url.pathname}${url.search}`);
      return;
    }
    json(res, 404, { error: `no route ${url.pathname}: the web view is at /, the API under /api/` });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    url: `http://${shownHost}:${port}/#token=${token}`,
    port,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
