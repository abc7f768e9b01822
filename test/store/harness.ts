import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { inject } from "vitest";
import { localDynamoDbClient } from "../support/dynamodb-local.ts";

/** The two DynamoDB implementations every store test runs against. */
export const ENDPOINTS = [
  { label: "DynamoDB Local", key: "dynamoDbLocalEndpoint" },
  { label: "dynalite", key: "dynaliteEndpoint" },
] as const;

export interface CountingClient {
  client: DynamoDBClient;
  /** Every operation sent, as named on the wire (X-Amz-Target without the service prefix). */
  operations: string[];
}

/**
 * A client for a local endpoint that records each operation it sends. Counting at the build
 * step reads the actual request, so no path (document client, paginator) can hide a Scan.
 */
export function countingClient(endpoint: string): CountingClient {
  const client = localDynamoDbClient(endpoint, {
    maxAttempts: 3,
  });
  const operations: string[] = [];
  client.middlewareStack.add(
    (next) => async (args) => {
      const headers = (args.request as { headers?: Record<string, string> }).headers ?? {};
      const target = headers["x-amz-target"] ?? headers["X-Amz-Target"] ?? "";
      operations.push(target.split(".").pop() ?? "");
      return next(args);
    },
    { step: "build", name: "countOperations" },
  );
  return { client, operations };
}

export function endpointFor(key: (typeof ENDPOINTS)[number]["key"]): string {
  return inject(key);
}

/** Runs `tasks` with at most `limit` in flight. */
export async function pool<T>(count: number, limit: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, count) }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await task(i);
      }
    }),
  );
  return results;
}
