import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { pathParamIssues } from "./path-params.ts";

/** An API error the client caused or should know about; rendered as `{"error", "issues"?}`. */
export class HttpError extends Error {
  override name = "HttpError";
  constructor(
    readonly status: number,
    message: string,
    readonly issues?: Array<{ path: string; message: string }>,
    readonly extra?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** A PUT to `.../{name}` must carry a manifest of that name (a 400 naming metadata.name otherwise). */
export function assertNameOfPath(manifestName: string, pathName: string): void {
  if (manifestName !== pathName) {
    throw new HttpError(400, `manifest name ${manifestName} differs from the path's ${pathName}`, [
      { path: "metadata.name", message: `must be ${pathName}` },
    ]);
  }
}

export interface HttpResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** The body is sent as it is (a string) instead of as JSON. */
  raw?: boolean;
}

/** Who is calling, as established by the authorizer. */
export interface Principal {
  /** IAM ARN in AWS, token name locally. */
  id: string;
  /** Namespaces the caller may use; `"*"` for all. Informative in AWS, where IAM already decided. */
  namespaces: string[] | "*";
}

export interface HttpRequest {
  method: string;
  path: string;
  params: Record<string, string>;
  query: Record<string, string>;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  /** The body as text (API Gateway base64-encodes binary bodies). */
  body: string;
  /**
   * The body's bytes as the client sent them, for signatures (webhook triggers): a base64 body
   * decoded; a text body is the UTF-8 API Gateway passed on.
   */
  rawBody: Buffer;
  principal: Principal;
  event: APIGatewayProxyEvent;
}

export type RouteHandler = (req: HttpRequest) => Promise<HttpResponse>;

/**
 * Decides who the caller is and whether it may touch `namespace` (absent for routes that are not
 * per namespace). Throws HttpError 401/403 to refuse.
 */
export type Authorizer = (input: {
  event: APIGatewayProxyEvent;
  headers: Record<string, string>;
  namespace?: string;
}) => Promise<Principal>;

interface Route {
  method: string;
  /** As registered, e.g. `/api/namespaces/{namespace}/teams/{name}`. */
  template: string;
  pattern: RegExp;
  names: string[];
  handler: RouteHandler;
  /** Routes such as health need no caller identity. */
  public: boolean;
}

/** A route as registered, for introspection (`Router.list`). */
export interface RouteInfo {
  method: string;
  template: string;
  public: boolean;
}

export interface Logger {
  error(message: string, ...extra: unknown[]): void;
}

export const JSON_HEADERS = { "content-type": "application/json; charset=utf-8" };
const TEXT_HEADERS = { "content-type": "text/plain; charset=utf-8" };

export function json(status: number, body: unknown, headers?: Record<string, string>): HttpResponse {
  return headers ? { status, body, headers } : { status, body };
}

/** A plain-text answer, for clients that expect one (the seed API's `GET /health` → `OK`). */
export function text(status: number, body: string): HttpResponse {
  return { status, body, raw: true };
}

function render(res: HttpResponse): APIGatewayProxyResult {
  if (res.raw) {
    return {
      statusCode: res.status,
      headers: { ...TEXT_HEADERS, ...res.headers },
      body: String(res.body ?? ""),
    };
  }
  return {
    statusCode: res.status,
    headers: { ...JSON_HEADERS, ...res.headers },
    body: res.body === undefined ? "" : JSON.stringify(res.body),
  };
}

export function errorResponse(error: HttpError): HttpResponse {
  const body: Record<string, unknown> = { error: error.message, ...error.extra };
  if (error.issues) body.issues = error.issues;
  return { status: error.status, body };
}

function lowerHeaders(event: APIGatewayProxyEvent): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const [k, v] of Object.entries(event.headers ?? {})) if (v !== undefined) out[k.toLowerCase()] = v;
  return out;
}

/** A tiny method+path router over API Gateway REST (v1) proxy events. */
export class Router {
  private readonly routes: Route[] = [];

  constructor(
    private readonly authorize: Authorizer,
    private readonly logger?: Logger,
  ) {}

  /**
   * `pattern` is a path such as `/api/namespaces/{namespace}/teams/{name}`; a last segment
   * `{name+}` takes the rest of the path, slashes included (API Gateway's greedy form).
   */
  on(method: string, pattern: string, handler: RouteHandler, options: { public?: boolean } = {}): this {
    const names: string[] = [];
    const source = pattern
      .split("/")
      .map((segment) => {
        const m = /^\{(\w+)(\+?)\}$/.exec(segment);
        if (!m) return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        names.push(m[1] as string);
        return m[2] ? "(.+)" : "([^/]+)";
      })
      .join("/");
    this.routes.push({
      method: method.toUpperCase(),
      template: pattern,
      pattern: new RegExp(`^${source}/?$`),
      names,
      handler,
      public: options.public ?? false,
    });
    return this;
  }

  /**
   * Every route as registered (method, path template, public or not). The security suites derive
   * their requests from this list, so a route added here is fuzzed and put through the
   * authorization matrix without anyone listing it (test/security/api-routes.ts).
   */
  list(): RouteInfo[] {
    return this.routes.map(({ method, template, public: isPublic }) => ({
      method,
      template,
      public: isPublic,
    }));
  }

  /**
   * The route `method path` reaches and its raw (still percent-encoded) parameters, as dispatch
   * finds it; undefined when no route of that method matches.
   */
  match(method: string, path: string): { route: RouteInfo; params: Record<string, string> } | undefined {
    const upper = method.toUpperCase();
    for (const route of this.routes) {
      if (route.method !== upper) continue;
      const m = route.pattern.exec(path);
      if (!m) continue;
      const params: Record<string, string> = Object.create(null);
      for (const [i, name] of route.names.entries()) params[name] = m[i + 1] ?? "";
      return { route: { method: route.method, template: route.template, public: route.public }, params };
    }
    return undefined;
  }

  async handle(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
    try {
      return render(await this.dispatch(event));
    } catch (error) {
      if (error instanceof HttpError) return render(errorResponse(error));
      this.logger?.error("unhandled error in API route", error as Error);
      return render({ status: 500, body: { error: "internal error" } });
    }
  }

  private async dispatch(event: APIGatewayProxyEvent): Promise<HttpResponse> {
    const method = (event.httpMethod ?? "GET").toUpperCase();
    const path = event.path ?? "/";
    const matching = this.routes
      .map((route) => ({ route, match: route.pattern.exec(path) }))
      .filter((m) => m.match !== null);
    if (matching.length === 0) throw new HttpError(404, `no route for ${path}`);
    const found = matching.find((m) => m.route.method === method);
    if (!found) {
      const allowed = [...new Set(matching.map((m) => m.route.method))].join(", ");
      throw new HttpError(405, `method ${method} is not allowed on ${path}`, undefined, { allowed });
    }
    // Null prototype: a parameter is looked up by name, and no name may reach Object.prototype.
    const params: Record<string, string> = Object.create(null);
    for (const [i, name] of found.route.names.entries()) {
      const raw = found.match?.[i + 1] ?? "";
      try {
        params[name] = decodeURIComponent(raw);
      } catch {
        throw new HttpError(400, `path segment ${JSON.stringify(raw)} is not valid percent-encoding`);
      }
    }
    const headers = lowerHeaders(event);
    const rawBody =
      event.body == null
        ? Buffer.alloc(0)
        : event.isBase64Encoded
          ? Buffer.from(event.body, "base64")
          : Buffer.from(event.body, "utf8");
    const body = event.body == null ? "" : event.isBase64Encoded ? rawBody.toString("utf8") : event.body;
    const query: Record<string, string> = Object.create(null);
    for (const [k, v] of Object.entries(event.queryStringParameters ?? {})) if (v !== undefined) query[k] = v;
    const principal = found.route.public
      ? { id: "anonymous", namespaces: [] }
      : await this.authorize(
          params.namespace === undefined
            ? { event, headers }
            : { event, headers, namespace: params.namespace },
        );
    // Checked after the caller is known (no token is always 401) and before any handler reads or stores.
    const problems = pathParamIssues(params);
    if (problems.length > 0) {
      throw new HttpError(400, `invalid path: ${problems.map((p) => p.path).join(", ")}`, problems);
    }
    return await found.route.handler({
      method,
      path,
      params,
      query,
      headers,
      body,
      rawBody,
      principal,
      event,
    });
  }
}

/**
 * AWS: API Gateway has already checked the SigV4 signature and the caller's IAM policy against the
 * resource path (which contains the namespace), so this only records who called.
 */
export const iamAuthorizer: Authorizer = async ({ event }) => {
  const identity = event.requestContext?.identity;
  const id = identity?.userArn ?? identity?.user ?? identity?.caller ?? "unknown";
  return { id, namespaces: "*" };
};

export interface BearerToken {
  name: string;
  namespaces: string[] | "*";
}

/** Local mode: `Authorization: Bearer <token>`, each token confined to its namespaces. */
export function bearerTokenAuthorizer(tokens: Record<string, BearerToken>): Authorizer {
  return async ({ headers, namespace }) => {
    const header = headers.authorization ?? "";
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m) throw new HttpError(401, "missing bearer token: send Authorization: Bearer <token>");
    const token = Object.hasOwn(tokens, m[1] as string) ? tokens[m[1] as string] : undefined;
    if (!token) throw new HttpError(401, "unknown bearer token");
    if (namespace !== undefined && token.namespaces !== "*" && !token.namespaces.includes(namespace)) {
      throw new HttpError(403, `token ${token.name} may not access namespace ${namespace}`);
    }
    return { id: token.name, namespaces: token.namespaces };
  };
}

/** Parses a JSON body or fails with 400 naming the problem. */
export function parseJsonBody(req: HttpRequest): unknown {
  if (req.body.trim() === "") throw new HttpError(400, "request body is empty; expected JSON");
  try {
    return JSON.parse(req.body);
  } catch (error) {
    throw new HttpError(400, `request body is not valid JSON: ${(error as Error).message}`);
  }
}

/** For routes whose namespace is not in the path (POST /api/tasks runs in "default"). */
export function assertNamespaceAllowed(principal: Principal, namespace: string): void {
  if (principal.namespaces !== "*" && !principal.namespaces.includes(namespace)) {
    throw new HttpError(403, `${principal.id} may not access namespace ${namespace}`);
  }
}
