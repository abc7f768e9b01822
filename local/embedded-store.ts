import { mkdir } from "node:fs/promises";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { DescribeTableCommand, DynamoDBClient, ResourceNotFoundException } from "@aws-sdk/client-dynamodb";
import { createTable } from "../core/store/table-definition.ts";
import { createDynaliteServer } from "./dynalite-server.ts";

export const LOCAL_REGION = "us-east-1";
export const LOCAL_TABLE = "squadron";
/** dynalite accepts any credentials; fixed ones keep a developer's AWS profile out of it. */
export const LOCAL_CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" };

export interface EmbeddedStore {
  endpoint: string;
  client: DynamoDBClient;
  tableName: string;
  /** Called after every successful write that `ADD`ed measured usage to a run (its `pk`). */
  onUsageWrite(listener: (pk: string) => void): void;
  /** LevelDB iterators open in the store: 0 at rest (each Query/Scan closes its own). */
  openIterators(): number;
  stop(): Promise<void>;
}

/**
 * dynalite has no streams. The runner processes write usage straight to it, so the stack watches
 * the requests themselves: an UpdateItem that ADDs `usageTotal#…` is the write the budget stream
 * would have carried. Only the key is taken from it; the budget check reads the item itself.
 */
function watchUsageWrites(server: Server, listeners: Array<(pk: string) => void>): void {
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const target = String(req.headers["x-amz-target"] ?? "");
    if (!target.endsWith(".UpdateItem")) return;
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    res.on("finish", () => {
      if (res.statusCode !== 200 || listeners.length === 0) return;
      const text = Buffer.concat(chunks).toString("utf8");
      if (!text.includes("usageTotal#")) return;
      try {
        const pk = (JSON.parse(text) as { Key?: { pk?: { S?: string } } }).Key?.pk?.S;
        if (pk) for (const listener of listeners) listener(pk);
      } catch {
        // not JSON: dynalite has already refused it
      }
    });
  });
}

/** Starts dynalite persisted under `path` on 127.0.0.1 and creates the team table if missing. */
export async function startEmbeddedStore(options: {
  path: string;
  port?: number;
  tableName?: string;
}): Promise<EmbeddedStore> {
  await mkdir(options.path, { recursive: true });
  const { server, openIterators } = await createDynaliteServer({ path: options.path });
  const listeners: Array<(pk: string) => void> = [];
  watchUsageWrites(server, listeners);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 5,
  });
  const tableName = options.tableName ?? LOCAL_TABLE;
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
    await createTable(client, tableName);
  }
  return {
    endpoint,
    client,
    tableName,
    onUsageWrite: (listener) => listeners.push(listener),
    openIterators,
    stop: async () => {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
