import { spawn } from "node:child_process";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { event } from "../../lambdas/harness.ts";

export const repoRoot = resolve(fileURLToPath(import.meta.url), "../../../..");

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string;
}

export interface ApiServer {
  endpoint: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

type Handler = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;

/**
 * Serves an API Gateway (REST v1) proxy handler over node:http, the way local mode and API
 * Gateway do: each request becomes a proxy event, the result becomes the response.
 */
export async function startApiServer(handler: Handler): Promise<ApiServer> {
  const requests: RecordedRequest[] = [];
  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? "/", "http://localhost");
      const body = await readBody(req);
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(",") : value;
      }
      const query = Object.fromEntries(url.searchParams);
      const method = req.method ?? "GET";
      requests.push({ method, path: url.pathname, query, headers, body });
      const result = await handler(
        event(method, url.pathname, {
          token: null,
          headers,
          ...(body === "" ? {} : { body }),
          ...(Object.keys(query).length > 0 ? { query } : {}),
        }),
      );
      res.writeHead(result.statusCode, result.headers as Record<string, string>);
      res.end(result.body);
    } catch (problem) {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: `test server: ${(problem as Error).message}` }));
    }
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((done) => server.close(() => done())),
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The real CLI as a user runs it (`node bin/squadron.js ...`), asynchronously so the server in
 * this process keeps answering. Only the given env reaches it (plus PATH), so no user config,
 * token or AWS profile leaks in.
 */
export function squadron(
  args: string[],
  options: {
    env?: Record<string, string>;
    input?: string;
    onStdout?: (soFar: string) => void;
    /** Sends SIGINT (Ctrl-C) when it aborts, for commands that run until stopped. */
    signal?: AbortSignal;
    /** A bound on a hung command (SIGKILL after it), not a timing assertion. Default 25 s. */
    timeoutMs?: number;
  } = {},
): Promise<CliResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ["bin/squadron.js", ...args], {
      cwd: repoRoot,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.SQUADRON_TEST_HOME ?? "/nonexistent",
        SQUADRON_CONFIG: "/nonexistent/squadron-config.json",
        AWS_EC2_METADATA_DISABLED: "true",
        ...options.env,
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      options.onStdout?.(stdout);
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 25_000);
    options.signal?.addEventListener("abort", () => child.kill("SIGINT"), { once: true });
    child.on("error", fail);
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? "");
  });
}
