import { randomBytes } from "node:crypto";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { createTable } from "../core/store/table-definition.ts";
import { localDynamoDbClient, startDynamoDbLocal } from "../test/support/dynamodb-local.ts";

export interface LocalTable {
  client: DynamoDBClient;
  tableName: string;
}

/**
 * Runs `fn` with DynamoDB Local started on loopback (installed when missing) and a way to make
 * fresh Squadron tables in it; stops it afterwards.
 */
export async function withDynamoDbLocal<T>(
  fn: (newTable: (prefix: string) => Promise<LocalTable>) => Promise<T>,
): Promise<T> {
  const ddb = await startDynamoDbLocal({ install: true });
  try {
    const client = localDynamoDbClient(ddb.endpoint);
    return await fn(async (prefix) => {
      const tableName = `${prefix}-${randomBytes(4).toString("hex")}`;
      await createTable(client, tableName);
      return { client, tableName };
    });
  } finally {
    await ddb.stop();
  }
}
