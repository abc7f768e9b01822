/**
 * Serves the web view's static files (web/*.html|js|css|svg) on node:http, in front of the API:
 * `/` and `/ui/` answer index.html, `/ui/<file>` the asset; every other path is left to the
 * caller (`serveWebView` returns false without touching the response).
 */
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { dirname, extname, join, sep } from "node:path";
import { fileURLToPath } from "node:url";

export const WEB_ROOT = dirname(fileURLToPath(import.meta.url));

/** Only these extensions are served, so serve.ts and anything else in web/ stays private. */
export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json; charset=utf-8",
  ".woff2": "font/woff2",
};

/**
 * The page only talks to its own origin and renders API data as text, never as markup; the
 * policy makes an injection that slipped through inert all the same.
 */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

/** File names without hashes: the browser may keep a copy but revalidates it (cheap 304s). */
const CACHE_CONTROL = "no-cache";

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Maps a request path to a file under web/, or null when it is not a servable asset. */
export function assetFor(pathname: string): string | null | undefined {
  if (pathname === "/" || pathname === "/ui" || pathname === "/ui/") return "index.html";
  if (!pathname.startsWith("/ui/")) return undefined;
  let rest: string;
  try {
    rest = decodeURIComponent(pathname.slice("/ui/".length));
  } catch {
    return null;
  }
  // One flat folder: no sub-directories, dot files, "..", backslashes or NUL bytes.
  if (!SAFE_NAME.test(rest) || rest.includes("..")) return null;
  if (!Object.hasOwn(CONTENT_TYPES, extname(rest).toLowerCase())) return null;
  return rest;
}

interface Cached {
  mtimeMs: number;
  size: number;
  body: Buffer;
  etag: string;
}

const cache = new Map<string, Cached>();

async function load(file: string): Promise<Cached | null> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(file);
  } catch {
    return null;
  }
  if (!info.isFile()) return null;
  const hit = cache.get(file);
  if (hit && hit.mtimeMs === info.mtimeMs && hit.size === info.size) return hit;
  const body = await readFile(file);
  const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`;
  const entry = { mtimeMs: info.mtimeMs, size: info.size, body, etag };
  cache.set(file, entry);
  return entry;
}

function plain(res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
  const body = Buffer.from(`${text}\n`, "utf8");
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    "content-type": "text/plain; charset=utf-8",
    "content-length": String(body.length),
    "cache-control": "no-store",
    ...extra,
  });
  res.end(body);
}

async function respond(req: IncomingMessage, res: ServerResponse, name: string | null): Promise<void> {
  const method = req.method ?? "GET";
  if (method !== "GET" && method !== "HEAD") {
    plain(res, 405, `${method} is not allowed on the web view; use GET`, { allow: "GET, HEAD" });
    return;
  }
  if (name === null) {
    plain(res, 404, "not found");
    return;
  }
  const file = join(WEB_ROOT, name);
  // Belt and braces: assetFor already refuses anything that could leave the folder.
  if (!file.startsWith(WEB_ROOT + sep)) {
    plain(res, 404, "not found");
    return;
  }
  const entry = await load(file);
  if (!entry) {
    plain(res, 404, `no file ${name} in the web view`);
    return;
  }
  const headers: Record<string, string> = {
    ...SECURITY_HEADERS,
    "content-type": CONTENT_TYPES[extname(name).toLowerCase()] ?? "application/octet-stream",
    "cache-control": CACHE_CONTROL,
    etag: entry.etag,
    "last-modified": new Date(entry.mtimeMs).toUTCString(),
  };
  const tags = req.headers["if-none-match"];
  if (tags?.split(",").some((t) => t.trim() === entry.etag)) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  headers["content-length"] = String(entry.body.length);
  res.writeHead(200, headers);
  res.end(method === "HEAD" ? undefined : entry.body);
}

/**
 * Handles `/`, `/ui` and `/ui/*` and returns true; returns false (response untouched) for every
 * other path, so the caller hands the request to the API. Mount it first:
 *
 *   createServer((req, res) => { if (!serveWebView(req, res)) apiListener(req, res); })
 */
export function serveWebView(req: IncomingMessage, res: ServerResponse): boolean {
  let pathname: string;
  try {
    pathname = new URL(req.url ?? "/", "http://localhost").pathname;
  } catch {
    return false;
  }
  const name = assetFor(pathname);
  if (name === undefined) return false;
  respond(req, res, name).catch((error: unknown) => {
    if (!res.headersSent) plain(res, 500, `web view: ${(error as Error).message}`);
    else res.destroy();
  });
  return true;
}
