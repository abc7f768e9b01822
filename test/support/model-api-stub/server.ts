import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { playTeam, type TeamPlayOptions } from "./team-play.ts";
import type { Conversation, Intercept, InterceptContext, ModelReply, RecordedRequest } from "./types.ts";

/**
 * A protocol module: recognises its requests and answers them. The server owns recording,
 * interception and the scripted model; the module owns the wire format.
 */
export interface ProtocolModule {
  readonly name: string;
  /** Whether this module answers the request (by method and path). */
  matches(method: string, path: string): boolean;
  handle(exchange: Exchange): Promise<void>;
}

/** One request as handed to a protocol module, with the stub's services. */
export interface Exchange {
  method: string;
  /** Path without the query string. */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  res: ServerResponse;
  record: RecordedRequest;
  /**
   * Asks the test's intercept, then the scripted model, for the reply to a conversation. Returns
   * an HTTP error to send instead when the test wants one.
   */
  answer(
    conversation: Conversation,
  ): Promise<{ reply: ModelReply } | { error: { status: number; message: string } }>;
  /** Unique ids for tool calls and messages. */
  nextId(prefix: string): string;
}

export interface ModelApiStubOptions {
  protocols: ProtocolModule[];
  play?: TeamPlayOptions;
  /** A test's say over each model call (errors, replacement replies, or waiting on a gate). */
  intercept?: (context: InterceptContext) => Intercept | Promise<Intercept>;
}

export interface ModelApiStub {
  /** `http://127.0.0.1:<port>`: pass as the CLI's base URL. */
  readonly url: string;
  readonly port: number;
  /** Every request received, in order. */
  readonly requests: RecordedRequest[];
  /** The model calls that were answered with a reply (what the "model" charged for). */
  replies(): RecordedRequest[];
  setIntercept(intercept: ModelApiStubOptions["intercept"]): void;
  close(): Promise<void>;
}

/** Starts the stub on 127.0.0.1 and a free port. */
export async function startModelApiStub(options: ModelApiStubOptions): Promise<ModelApiStub> {
  const requests: RecordedRequest[] = [];
  let intercept = options.intercept;
  let ids = 0;
  let modelCalls = 0;

  const server: Server = createServer((req, res) => {
    void serve(req, res).catch((error: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: String(error) } }));
      } else {
        res.end();
      }
    });
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://stub");
    const raw = await readBody(req);
    let body: unknown = raw;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      // Not JSON: keep the text.
    }
    const method = req.method ?? "GET";
    const protocol = options.protocols.find((p) => p.matches(method, url.pathname));
    const record: RecordedRequest = {
      at: Date.now(),
      method,
      path: url.pathname,
      headers: req.headers,
      body,
      protocol: protocol?.name ?? "none",
      status: 404,
    };
    requests.push(record);
    res.on("finish", () => {
      record.status = res.statusCode;
    });
    if (!protocol) {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(
        JSON.stringify({ error: { message: `model-api-stub: nothing serves ${method} ${url.pathname}` } }),
      );
      return;
    }
    await protocol.handle({
      method,
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body,
      res,
      record,
      nextId: (prefix) => `${prefix}${String(++ids).padStart(6, "0")}`,
      answer: async (conversation) => {
        record.conversation = conversation;
        const decided = await intercept?.({
          protocol: protocol.name,
          path: url.pathname,
          headers: req.headers,
          conversation,
          modelCalls,
        });
        modelCalls++;
        if (decided && "error" in decided) return { error: decided.error };
        const reply = decided?.reply ?? playTeam(conversation, options.play);
        record.reply = reply;
        return { reply };
      },
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    replies: () => requests.filter((r) => r.reply !== undefined && r.status < 400),
    setIntercept: (next) => {
      intercept = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** Writes one server-sent event. */
export function sse(res: ServerResponse, event: string | undefined, data: unknown): void {
  res.write(`${event ? `event: ${event}\n` : ""}data: ${JSON.stringify(data)}\n\n`);
}
