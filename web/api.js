/** The web view's choice of every namespace at once. */
export const ALL_NAMESPACES = "*";

/**
 * The REST API of docs/api.md, from the browser. Local mode authenticates with a bearer token
 * that arrives in the URL fragment (never sent to a server) and lives in sessionStorage.
 */

const TOKEN_KEY = "squadron.token";

export class ApiError extends Error {
  constructor(status, message, issues) {
    super(message);
    this.status = status;
    this.issues = issues ?? [];
  }
}

/** Moves `token=` out of the fragment into sessionStorage; returns the other fragment params. */
export function takeTokenFromFragment(location, history, storage) {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  const token = params.get("token");
  if (token) {
    storage.setItem(TOKEN_KEY, token);
    params.delete("token");
    const rest = params.toString();
    history.replaceState(null, "", `${location.pathname}${location.search}${rest ? `#${rest}` : ""}`);
  }
  return params;
}

export function storedToken(storage) {
  return storage.getItem(TOKEN_KEY);
}

export function saveToken(storage, token) {
  if (token) storage.setItem(TOKEN_KEY, token);
  else storage.removeItem(TOKEN_KEY);
}

export class ApiClient {
  /** base: "" for the page's own origin, or the API's URL when the files are hosted elsewhere. */
  constructor(base, getToken) {
    this.base = base.replace(/\/$/, "");
    this.getToken = getToken;
  }

  get usesToken() {
    return Boolean(this.getToken());
  }

  async request(method, path, body) {
    const headers = { accept: "application/json" };
    const token = this.getToken();
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let res;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        credentials: "same-origin",
      });
    } catch (error) {
      throw new ApiError(0, `cannot reach the API (${error.message})`);
    }
    const text = await res.text();
    let data;
    try {
      data = text ? JSON.parse(text) : undefined;
    } catch {
      data = undefined;
    }
    if (!res.ok) throw new ApiError(res.status, data?.error ?? `HTTP ${res.status}`, data?.issues);
    return data;
  }

  /** The namespaces the token may read; [] where the API does not answer it (an IAM role confined to one). */
  async namespaces() {
    try {
      return ((await this.request("GET", "/api/namespaces"))?.items ?? []).map((n) => n.name);
    } catch {
      return [];
    }
  }

  ns(namespace) {
    return `/api/namespaces/${encodeURIComponent(namespace)}`;
  }

  /** `namespace` "*" is every namespace the token may read (`GET /api/teams`, `get teams -A`). */
  async teams(namespace) {
    const items = [];
    let next;
    const base = namespace === ALL_NAMESPACES ? "/api/teams" : `${this.ns(namespace)}/teams`;
    do {
      const q = next ? `?limit=100&nextToken=${encodeURIComponent(next)}` : "?limit=100";
      const page = await this.request("GET", `${base}${q}`);
      items.push(...(page?.items ?? []));
      next = page?.nextToken;
    } while (next && items.length < 1000);
    return items;
  }

  team(namespace, name) {
    return this.request("GET", `${this.ns(namespace)}/teams/${encodeURIComponent(name)}`);
  }

  async tasks(namespace, name) {
    return (
      (await this.request("GET", `${this.ns(namespace)}/teams/${encodeURIComponent(name)}/tasks`))?.items ??
      []
    );
  }

  async messages(namespace, name) {
    return (
      (await this.request("GET", `${this.ns(namespace)}/teams/${encodeURIComponent(name)}/messages`))
        ?.items ?? []
    );
  }

  decide(namespace, name, gate, decision) {
    const path = `${this.ns(namespace)}/teams/${encodeURIComponent(name)}/gates/${encodeURIComponent(gate)}/${decision}`;
    return this.request("POST", path, {
      reason: `${decision === "approve" ? "Approved" : "Denied"} in the web view`,
    });
  }
}
