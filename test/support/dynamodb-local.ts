import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DynamoDBClient, type DynamoDBClientConfig } from "@aws-sdk/client-dynamodb";
import { createDynaliteServer } from "../../local/dynalite-server.ts";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const dynamoDbLocalDir = join(repoRoot, ".cache", "dynamodb-local");

/** A client of a local store's endpoint (DynamoDB Local or dynalite take any region and keys). */
export function localDynamoDbClient(endpoint: string, config: DynamoDBClientConfig = {}): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    ...config,
  });
}

export interface RunningStore {
  endpoint: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * How long the JVM may take to serve. It starts in 2-4 s on an idle machine; on a loaded one
 * (two cores, several suites starting at once) 30 s was seen to pass before it answered. This
 * bound only detects a JVM that will never serve (it exits, or is wedged): the wait itself ends
 * at the first answer.
 */
const START_LIMIT_MS = 120_000;

/** Waits until something accepts DynamoDB JSON requests on the endpoint. */
async function waitUntilServing(endpoint: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + START_LIMIT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`DynamoDB Local exited with code ${child.exitCode}:\n${output()}`);
    }
    try {
      const res = await fetch(endpoint, {
        method: "POST",
        headers: {
          "content-type": "application/x-amz-json-1.0",
          "x-amz-target": "DynamoDB_20120810.ListTables",
          authorization:
            "AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
        },
        body: "{}",
      });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`DynamoDB Local did not start within ${START_LIMIT_MS / 1000} s:\n${output()}`);
}

/**
 * Starts AWS's DynamoDB Local (in memory) on a free port. The jar is installed by
 * scripts/install-dynamodb-local.sh, which .ci/run calls; with `install` (the benchmarks, which
 * must run on a fresh checkout) a missing jar is installed first by that script.
 */
export async function startDynamoDbLocal(options: { install?: boolean } = {}): Promise<RunningStore> {
  if (options.install && !existsSync(join(dynamoDbLocalDir, "DynamoDBLocal.jar"))) {
    execFileSync(join(repoRoot, "scripts", "install-dynamodb-local.sh"), [], { stdio: ["ignore", 2, 2] });
  }
  if (!existsSync(join(dynamoDbLocalDir, "DynamoDBLocal.jar"))) {
    throw new Error(
      "DynamoDB Local is not installed: run ./scripts/install-dynamodb-local.sh (needs Java 17+).",
    );
  }
  const port = await freePort();
  const child = spawn(
    "java",
    [
      "-Xmx1g",
      "-Djava.library.path=./DynamoDBLocal_lib",
      "-jar",
      "DynamoDBLocal.jar",
      "-inMemory",
      "-port",
      String(port),
      "-disableTelemetry",
    ],
    { cwd: dynamoDbLocalDir, stdio: ["ignore", "pipe", "pipe"] },
  );
  let log = "";
  child.stdout?.on("data", (d) => {
    log += d;
  });
  child.stderr?.on("data", (d) => {
    log += d;
  });
  const endpoint = `http://127.0.0.1:${port}`;
  await waitUntilServing(endpoint, child, () => log);
  return {
    endpoint,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** Starts dynalite, the embedded DynamoDB-compatible store local mode uses, in memory. */
export async function startDynalite(): Promise<RunningStore> {
  // The stack's own way of making it, so the whole test run does not leak an iterator per Query.
  const { server } = await createDynaliteServer();
  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
