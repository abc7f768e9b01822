import type { Auth, Connection } from "./connection.ts";
import { ApiError, type ApiIssue, UnreachableError } from "./errors.ts";
import { type SigningOptions, signRequest } from "./sigv4.ts";
import type {
  GateDecision,
  LogLine,
  MessageView,
  Page,
  TaskView,
  TeamEventView,
  TeamSummary,
  TeamView,
  TemplateView,
  TriggerView,
} from "./types.ts";

export interface ClientOptions {
  /** Per request; default 30 s. */
  timeoutMs?: number;
  /** For tests: fixed SigV4 credentials/time. */
  signing?: Omit<SigningOptions, "region">;
}

type Query = Record<string, string | number | undefined>;

interface RequestOptions {
  query?: Query;
  body?: unknown;
}

const segment = encodeURIComponent;

/** A small typed client for the REST API of docs/api.md, with bearer or SigV4 auth. */
export class SquadronClient {
  private readonly base: string;
  private readonly timeoutMs: number;

  constructor(
    readonly connection: Pick<Connection, "endpoint" | "auth">,
    private readonly options: ClientOptions = {},
  ) {
    // API Gateway endpoints carry the stage in the path (`/prod`), so routes are appended to it.
    this.base = connection.endpoint.href.replace(/\/+$/, "");
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** Sends one request; resolves with the parsed body, rejects with ApiError or UnreachableError. */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const url = new URL(this.base + path);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined && value !== "") url.searchParams.set(key, String(value));
    }
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const response = await this.send(method, url, body, body === undefined ? undefined : "application/json");
    const parsed = parseJson(response.text);
    if (response.status < 200 || response.status > 299) {
      const record = (parsed ?? {}) as { error?: unknown; issues?: unknown };
      const error =
        typeof record.error === "string"
          ? record.error
          : `HTTP ${response.status} ${response.statusText}`.trim();
      throw new ApiError(response.status, error, issuesOf(record.issues), parsed);
    }
    return parsed as T;
  }

  /**
   * Sends a request to `pathAndQuery` under the endpoint with this connection's auth and returns
   * the answer as it came (`squadron web` relays it to the browser). Rejects only when the API
   * cannot be reached or the request cannot be signed.
   */
  async send(
    method: string,
    target: URL | string,
    body?: string,
    contentType?: string,
  ): Promise<{ status: number; statusText: string; contentType: string | null; text: string }> {
    const url = typeof target === "string" ? new URL(this.base + target) : target;
    let headers: Record<string, string> = { accept: "application/json" };
    if (contentType !== undefined) headers["content-type"] = contentType;
    headers = await this.authorize(this.connection.auth, { method, url, headers, body });
    // fetch sets Host itself from the URL, the same value that was signed.
    delete headers.host;
    let response: Response;
    try {
      response = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (problem) {
      throw new UnreachableError(
        `cannot reach ${this.connection.endpoint.origin}: ${networkReason(problem, this.timeoutMs)}`,
      );
    }
    return {
      status: response.status,
      statusText: response.statusText,
      contentType: response.headers.get("content-type"),
      text: await response.text(),
    };
  }

  private async authorize(
    auth: Auth,
    request: { method: string; url: URL; headers: Record<string, string>; body?: string },
  ): Promise<Record<string, string>> {
    if (auth.kind === "token") return { ...request.headers, authorization: `Bearer ${auth.token}` };
    if (auth.kind === "none") return request.headers;
    try {
      return await signRequest(request, { region: auth.region, ...this.options.signing });
    } catch (problem) {
      throw new ApiError(401, `cannot sign the request with AWS credentials: ${(problem as Error).message}`);
    }
  }

  /** Every item of a paged list, following `nextToken`. */
  async all<T>(path: string, query: Query = {}): Promise<T[]> {
    const items: T[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.request<Page<T>>("GET", path, { query: { ...query, nextToken } });
      items.push(...(page.items ?? []));
      nextToken = page.nextToken ?? undefined;
    } while (nextToken);
    return items;
  }

  private static team(ns: string, name: string): string {
    return `/api/namespaces/${segment(ns)}/teams/${segment(name)}`;
  }

  private static templates(ns: string): string {
    return `/api/namespaces/${segment(ns)}/templates`;
  }

  health(): Promise<{ status: string }> {
    return this.request("GET", "/api/health");
  }

  /** `labelSelector` as kubectl's `-l` takes it (`app=web,tier!=db`); the API applies it. */
  listTeams(ns: string, options: { labelSelector?: string } = {}): Promise<TeamSummary[]> {
    return this.all(`/api/namespaces/${segment(ns)}/teams`, {
      limit: 100,
      ...(options.labelSelector ? { labelSelector: options.labelSelector } : {}),
    });
  }

  /** `get teams -A`: every namespace the caller may read (`GET /api/teams`). */
  listAllTeams(options: { labelSelector?: string } = {}): Promise<TeamSummary[]> {
    return this.all("/api/teams", {
      limit: 100,
      ...(options.labelSelector ? { labelSelector: options.labelSelector } : {}),
    });
  }

  /** A run by id, also after its team was deleted (within the retention period). */
  getRun(ns: string, runId: string): Promise<TeamView> {
    return this.request("GET", `/api/namespaces/${segment(ns)}/runs/${segment(runId)}`);
  }

  getTeam(ns: string, name: string): Promise<TeamView> {
    return this.request("GET", SquadronClient.team(ns, name));
  }

  /** `manifest` is an AgentTeam or AgentTeamRun document as a JSON value. */
  createTeam(ns: string, manifest: unknown): Promise<TeamView> {
    return this.request("POST", `/api/namespaces/${segment(ns)}/teams`, { body: manifest });
  }

  deleteTeam(ns: string, name: string): Promise<TeamView> {
    return this.request("DELETE", SquadronClient.team(ns, name));
  }

  events(ns: string, name: string): Promise<TeamEventView[]> {
    return this.all(`${SquadronClient.team(ns, name)}/events`);
  }

  async tasks(ns: string, name: string): Promise<TaskView[]> {
    return (await this.request<Page<TaskView>>("GET", `${SquadronClient.team(ns, name)}/tasks`)).items ?? [];
  }

  async messages(ns: string, name: string, agent?: string): Promise<MessageView[]> {
    const page = await this.request<Page<MessageView>>("GET", `${SquadronClient.team(ns, name)}/messages`, {
      query: { agent },
    });
    return page.items ?? [];
  }

  decideGate(
    ns: string,
    name: string,
    gate: string,
    decision: "approve" | "deny",
    reason?: string,
  ): Promise<GateDecision> {
    return this.request("POST", `${SquadronClient.team(ns, name)}/gates/${segment(gate)}/${decision}`, {
      body: reason === undefined ? {} : { reason },
    });
  }

  /**
   * One page of runner output. The route is `GET .../teams/{name}/logs?agent=&since=&nextToken=`
   * returning `{items:[{agent,time,line}], nextToken}` (see docs/cli.md).
   */
  logs(
    ns: string,
    name: string,
    query: { agent?: string; since?: string; nextToken?: string },
  ): Promise<Page<LogLine>> {
    return this.request("GET", `${SquadronClient.team(ns, name)}/logs`, { query });
  }

  /** `logs` of a run by id (`GET .../runs/{runId}/logs`), also after its team was deleted. */
  runLogs(
    ns: string,
    runId: string,
    query: { agent?: string; since?: string; nextToken?: string },
  ): Promise<Page<LogLine>> {
    return this.request("GET", `/api/namespaces/${segment(ns)}/runs/${segment(runId)}/logs`, { query });
  }

  listTemplates(ns: string): Promise<TemplateView[]> {
    return this.all(SquadronClient.templates(ns), { limit: 100 });
  }

  getTemplate(ns: string, name: string): Promise<TemplateView> {
    return this.request("GET", `${SquadronClient.templates(ns)}/${segment(name)}`);
  }

  createTemplate(ns: string, manifest: unknown): Promise<TemplateView> {
    return this.request("POST", SquadronClient.templates(ns), { body: manifest });
  }

  replaceTemplate(ns: string, name: string, manifest: unknown): Promise<TemplateView> {
    return this.request("PUT", `${SquadronClient.templates(ns)}/${segment(name)}`, { body: manifest });
  }

  deleteTemplate(ns: string, name: string): Promise<unknown> {
    return this.request("DELETE", `${SquadronClient.templates(ns)}/${segment(name)}`);
  }

  listTriggers(ns: string): Promise<TriggerView[]> {
    return this.all(`/api/namespaces/${segment(ns)}/triggers`, { limit: 100 });
  }

  getTrigger(ns: string, name: string): Promise<TriggerView> {
    return this.request("GET", `/api/namespaces/${segment(ns)}/triggers/${segment(name)}`);
  }

  /** Creates or replaces an AgentTeamTrigger (201 created, 200 replaced). */
  applyTrigger(ns: string, manifest: unknown): Promise<TriggerView> {
    return this.request("POST", `/api/namespaces/${segment(ns)}/triggers`, { body: manifest });
  }

  /** Instantiates template `template` with an AgentTeamRun manifest. */
  createRun(ns: string, template: string, manifest: unknown): Promise<TeamView> {
    return this.request("POST", `${SquadronClient.templates(ns)}/${segment(template)}/runs`, {
      body: manifest,
    });
  }
}

function parseJson(text: string): unknown {
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return { error: text.trim().slice(0, 500) };
  }
}

function issuesOf(value: unknown): ApiIssue[] {
  if (!Array.isArray(value)) return [];
  return value
    .filter((issue): issue is Record<string, unknown> => typeof issue === "object" && issue !== null)
    .map((issue) => ({ path: String(issue.path ?? ""), message: String(issue.message ?? "") }));
}

function networkReason(problem: unknown, timeoutMs: number): string {
  const error = problem as Error & { cause?: { code?: string; message?: string } };
  if (error.name === "TimeoutError" || error.name === "AbortError")
    return `no answer within ${timeoutMs / 1000} s`;
  const code = error.cause?.code;
  const known: Record<string, string> = {
    ECONNREFUSED: "connection refused (is the local stack running? start it with `squadron up`)",
    ENOTFOUND: "host not found",
    EAI_AGAIN: "host name lookup failed",
    ECONNRESET: "connection reset",
    ETIMEDOUT: "connection timed out",
    EHOSTUNREACH: "host unreachable",
  };
  if (code && known[code]) return known[code];
  return error.cause?.message ?? error.message;
}
