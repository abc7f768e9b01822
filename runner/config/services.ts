import type { TeamStore } from "../../core/store/team-store.ts";
import type { ObjectStore } from "../workspace/object-store.ts";
import type { RunnerConfig } from "./env.ts";

/**
 * Clients built from the configuration. The AWS SDK is imported only when a table or bucket is
 * configured: loading it costs start-up time a local run without a store should not pay.
 */
export interface RunnerServices {
  store?: TeamStore;
  objectStore?: ObjectStore;
  close(): void;
}

export async function createServices(config: RunnerConfig): Promise<RunnerServices> {
  const closers: Array<() => void> = [];
  const services: RunnerServices = {
    close: () => {
      for (const close of closers) close();
    },
  };
  if (config.tableName) {
    const [{ DynamoDBClient }, { TeamStore }] = await Promise.all([
      import("@aws-sdk/client-dynamodb"),
      import("../../core/store/team-store.ts"),
    ]);
    const local = config.dynamoDbEndpoint !== undefined;
    const client = new DynamoDBClient({
      ...(local ? { endpoint: config.dynamoDbEndpoint } : {}),
      region: config.region ?? "us-east-1",
      // DynamoDB Local accepts any credentials; a developer machine may have none configured.
      ...(local && !process.env.AWS_ACCESS_KEY_ID
        ? { credentials: { accessKeyId: "local", secretAccessKey: "local" } }
        : {}),
      maxAttempts: 3,
    });
    closers.push(() => client.destroy());
    services.store = new TeamStore({ client, tableName: config.tableName });
  }
  if (config.objectStoreDir) {
    const { LocalDirectoryStore } = await import("../workspace/object-store.ts");
    services.objectStore = new LocalDirectoryStore(config.objectStoreDir);
  } else if (config.bucket) {
    const [{ S3Client }, { S3ObjectStore }] = await Promise.all([
      import("@aws-sdk/client-s3"),
      import("../workspace/object-store.ts"),
    ]);
    const client = new S3Client(config.region ? { region: config.region } : {});
    closers.push(() => client.destroy());
    services.objectStore = new S3ObjectStore(client, config.bucket);
  }
  return services;
}
