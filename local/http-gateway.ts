/**
 * API Gateway (REST, v1 proxy integration) on node:http: a request becomes the
 * `APIGatewayProxyEvent` the api Lambda receives in AWS, and its `APIGatewayProxyResult` becomes
 * the response. Local mode and tests serve the real handler through this one module.
 */
import { randomUUID } from "node:crypto";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";

export type ProxyHandler = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;

/** API Gateway refuses payloads over 10 MB; so do we, before reading them whole. */
export const MAX_REQUEST_BYTES = 10 * 1024 * 1024;

const TEXT_TYPES = /^(text\/|application\/(json|yaml|x-yaml|x-www-form-urlencoded|xml)|[^;]*\+json)/i;

export interface GatewayOptions {
  /** The API Gateway stage, `prod` in AWS; only informative here. */
  stage?: string;
  /** Requests outside this prefix get a 404 without reaching the handler (undefined: all). */
  pathPrefix?: string;
  /** Called for every request with its outcome (access log). */
  onRequest?: (entry: { method: string; path: string; status: number; ms: number }) => void;
  /** Serves what is not the API (the web view) first; returns true when it answered. */
  before?: (req: IncomingMessage, res: ServerResponse) => boolean;
}

/**
 * Null-prototype maps for everything keyed by what the client sent (header and query names): a
 * name such as `constructor` or `__proto__` is a key like any other, never an Object.prototype
 * member (`{}["constructor"]` is a function; the API fuzzer's `?constructor=x` made this a 502).
 */
function keyed<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

function single(headers: IncomingMessage["headers"]): Record<string, string> {
  const out = keyed<string>();
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(",") : value;
  }
  return out;
}

function multi(headers: IncomingMessage["headers"]): Record<string, string[]> {
  const out = keyed<string[]>();
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value : [value];
  }
  return out;
}

/** What varies between two REST proxy events; the rest is the shape API Gateway always sends. */
export interface ProxyEventFields {
  method: string;
  path: string;
  headers: Record<string, string>;
  multiValueHeaders: Record<string, string[]>;
  query: Record<string, string> | null;
  multiQuery: Record<string, string[]> | null;
  body: string | null;
  isBase64Encoded: boolean;
  stage: string;
  protocol: string;
  sourceIp: string;
  userAgent: string | null;
  requestId: string;
  requestTimeEpoch: number;
  /** The account, API and resource ids the event names (placeholders outside AWS). */
  accountId: string;
  apiId: string;
  resourceId: string;
}

/**
 * A REST (v1) proxy event as API Gateway sends it to the api Lambda through `/{proxy+}`: the
 * local gateway builds its requests with it, and the Lambda tests their events, so both hand the
 * handler the same shape.
 */
export function proxyEvent(f: ProxyEventFields): APIGatewayProxyEvent {
  return {
    resource: "/{proxy+}",
    path: f.path,
    httpMethod: f.method,
    headers: f.headers,
    multiValueHeaders: f.multiValueHeaders,
    queryStringParameters: f.query,
    multiValueQueryStringParameters: f.multiQuery,
    pathParameters: { proxy: f.path.replace(/^\//, "") },
    stageVariables: null,
    body: f.body,
    isBase64Encoded: f.isBase64Encoded,
    requestContext: {
      accountId: f.accountId,
      apiId: f.apiId,
      authorizer: null,
      protocol: f.protocol,
      httpMethod: f.method,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: f.sourceIp,
        user: null,
        userAgent: f.userAgent,
        userArn: null,
      },
      path: `/${f.stage}${f.path}`,
      stage: f.stage,
      requestId: f.requestId,
      requestTimeEpoch: f.requestTimeEpoch,
      resourceId: f.resourceId,
      resourcePath: "/{proxy+}",
    },
  };
}

/** Builds the proxy event API Gateway would send for this request and body. */
export function toProxyEvent(
  req: IncomingMessage,
  body: Buffer,
  options: GatewayOptions = {},
): APIGatewayProxyEvent {
  const url = new URL(req.url ?? "/", "http://localhost");
  const query = keyed<string>();
  const multiQuery = keyed<string[]>();
  for (const [k, v] of url.searchParams) {
    query[k] = v; // API Gateway keeps the last value in queryStringParameters
    multiQuery[k] = [...(multiQuery[k] ?? []), v];
  }
  const contentType = req.headers["content-type"] ?? "";
  const binary = body.length > 0 && contentType !== "" && !TEXT_TYPES.test(contentType);
  return proxyEvent({
    method: (req.method ?? "GET").toUpperCase(),
    path: url.pathname,
    headers: single(req.headers),
    multiValueHeaders: multi(req.headers),
    query: Object.keys(query).length ? query : null,
    multiQuery: Object.keys(multiQuery).length ? multiQuery : null,
    body: body.length === 0 ? null : binary ? body.toString("base64") : body.toString("utf8"),
    isBase64Encoded: binary,
    stage: options.stage ?? "local",
    protocol: `HTTP/${req.httpVersion}`,
    sourceIp: req.socket.remoteAddress ?? "127.0.0.1",
    userAgent: req.headers["user-agent"] ?? null,
    requestId: randomUUID(),
    requestTimeEpoch: Date.now(),
    accountId: "000000000000",
    apiId: "local",
    resourceId: "local",
  });
}

/** Writes a proxy result the way API Gateway does (base64 bodies decoded, multi-value headers). */
export function sendProxyResult(res: ServerResponse, result: APIGatewayProxyResult): void {
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(result.headers ?? {})) headers[k.toLowerCase()] = String(v);
  for (const [k, v] of Object.entries(result.multiValueHeaders ?? {}))
    headers[k.toLowerCase()] = v.map(String);
  const body = result.isBase64Encoded
    ? Buffer.from(result.body, "base64")
    : Buffer.from(result.body ?? "", "utf8");
  headers["content-length"] = String(body.length);
  res.writeHead(result.statusCode, headers);
  res.end(body);
}

function jsonError(res: ServerResponse, status: number, message: string): void {
  sendProxyResult(res, {
    statusCode: status,
    headers: { "content-type": "application/json; charset=utf-8" },
    body: JSON.stringify({ error: message }),
  });
}

/** A request listener that hands every request to `handler` as a proxy event. */
export function gatewayListener(handler: ProxyHandler, options: GatewayOptions = {}) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now();
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const done = (status: number) =>
      options.onRequest?.({ method: req.method ?? "GET", path, status, ms: performance.now() - started });
    if (options.before?.(req, res)) {
      res.once("finish", () => done(res.statusCode));
      return;
    }
    if (options.pathPrefix && !path.startsWith(options.pathPrefix)) {
      jsonError(res, 404, `no route for ${path}`);
      done(404);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size > MAX_REQUEST_BYTES) {
          jsonError(res, 413, "request body is larger than 10 MB");
          req.destroy();
          done(413);
          return;
        }
        chunks.push(chunk as Buffer);
      }
    } catch {
      return; // the client went away
    }
    let result: APIGatewayProxyResult;
    try {
      result = await handler(toProxyEvent(req, Buffer.concat(chunks), options));
    } catch {
      // API Gateway answers a crashed integration with 502; the handler logs the cause.
      result = {
        statusCode: 502,
        headers: { "content-type": "application/json; charset=utf-8" },
        body: JSON.stringify({ error: "internal server error" }),
      };
    }
    if (!res.destroyed) sendProxyResult(res, result);
    done(result.statusCode);
  };
}

export interface RunningGateway {
  server: http.Server;
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Serves `handler` on host:port (port 0: any free port). */
export async function serveGateway(
  handler: ProxyHandler,
  listen: { host?: string; port?: number } = {},
  options: GatewayOptions = {},
): Promise<RunningGateway> {
  const listener = gatewayListener(handler, options);
  const server = http.createServer((req, res) => void listener(req, res));
  server.keepAliveTimeout = 5_000;
  const host = listen.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
