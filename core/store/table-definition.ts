/**
 * The one definition of Squadron's DynamoDB table. CDK (infra/) maps it to a TableV2 and tests
 * and local mode create the same table from it with `createTable`, so the key schema cannot
 * drift between the cloud and what the tests exercise. Layout: docs/state.md.
 */
import {
  type AttributeDefinition,
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";

export interface KeyAttribute {
  name: string;
  type: "S" | "N";
}

export interface GsiDefinition {
  indexName: string;
  partitionKey: KeyAttribute;
  sortKey: KeyAttribute;
  /** ALL: a namespace listing returns whole runs without a second read per row. */
  projection: "ALL";
}

export const TABLE_DEFINITION = {
  partitionKey: { name: "pk", type: "S" },
  sortKey: { name: "sk", type: "S" },
  /** Lists of team runs and of templates by namespace (a Query, never a Scan). */
  namespaceIndex: {
    indexName: "byNamespace",
    partitionKey: { name: "gsi1pk", type: "S" },
    sortKey: { name: "gsi1sk", type: "S" },
    projection: "ALL",
  },
  /** The budget Lambda compares old and new cost to act on the crossing write only. */
  streamViewType: "NEW_AND_OLD_IMAGES",
  /** Epoch seconds; set on event items so the history expires on its own. */
  timeToLiveAttribute: "expiresAt",
  billingMode: "PAY_PER_REQUEST",
} as const satisfies {
  partitionKey: KeyAttribute;
  sortKey: KeyAttribute;
  namespaceIndex: GsiDefinition;
  streamViewType: string;
  timeToLiveAttribute: string;
  billingMode: string;
};

export const NAMESPACE_INDEX = TABLE_DEFINITION.namespaceIndex.indexName;

/** The key and TTL attribute names every store writes, so each store need not re-derive them. */
export const PARTITION_KEY = TABLE_DEFINITION.partitionKey.name;
export const SORT_KEY = TABLE_DEFINITION.sortKey.name;
export const INDEX_PARTITION_KEY = TABLE_DEFINITION.namespaceIndex.partitionKey.name;
export const INDEX_SORT_KEY = TABLE_DEFINITION.namespaceIndex.sortKey.name;
export const EXPIRES_AT = TABLE_DEFINITION.timeToLiveAttribute;

/** The CreateTable request for a table named `tableName`. */
export function createTableInput(tableName: string): CreateTableCommandInput {
  const { partitionKey, sortKey, namespaceIndex } = TABLE_DEFINITION;
  const keys = [partitionKey, sortKey, namespaceIndex.partitionKey, namespaceIndex.sortKey];
  const attributeDefinitions: AttributeDefinition[] = keys.map((k) => ({
    AttributeName: k.name,
    AttributeType: k.type,
  }));
  return {
    TableName: tableName,
    BillingMode: TABLE_DEFINITION.billingMode,
    AttributeDefinitions: attributeDefinitions,
    KeySchema: [
      { AttributeName: partitionKey.name, KeyType: "HASH" },
      { AttributeName: sortKey.name, KeyType: "RANGE" },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: namespaceIndex.indexName,
        KeySchema: [
          { AttributeName: namespaceIndex.partitionKey.name, KeyType: "HASH" },
          { AttributeName: namespaceIndex.sortKey.name, KeyType: "RANGE" },
        ],
        Projection: { ProjectionType: namespaceIndex.projection },
      },
    ],
    StreamSpecification: { StreamEnabled: true, StreamViewType: TABLE_DEFINITION.streamViewType },
  };
}

/**
 * Creates the table (for tests and local mode) and waits until it and its index are ACTIVE.
 * An existing table is left as it is. TTL is enabled where the endpoint supports it
 * (dynalite does not implement UpdateTimeToLive; expired events then simply stay).
 */
export async function createTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new CreateTableCommand(createTableInput(tableName)));
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const indexesActive = (Table?.GlobalSecondaryIndexes ?? []).every((i) => i.IndexStatus === "ACTIVE");
    if (Table?.TableStatus === "ACTIVE" && indexesActive) break;
    if (Date.now() > deadline) throw new Error(`Table ${tableName} did not become ACTIVE within 30 s.`);
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: TABLE_DEFINITION.timeToLiveAttribute, Enabled: true },
      }),
    );
  } catch (error) {
    const name = (error as { name?: string }).name ?? "";
    // dynalite: UnknownOperationException; a second call on AWS: TTL already enabled.
    if (!/UnknownOperation|ValidationException/.test(name)) throw error;
  }
}
