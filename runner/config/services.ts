import type { ObjectStore } from "../../core/run-files/object-store.ts";
import type { TeamStore } from "../../core/store/team-store.ts";
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
    const [{ dynamoDbClient }, { TeamStore }] = await Promise.all([
      import("./aws-clients.ts"),
      import("../../core/store/team-store.ts"),
    ]);
    const client = dynamoDbClient({
      ...(config.dynamoDbEndpoint ? { endpoint: config.dynamoDbEndpoint } : {}),
      ...(config.region ? { region: config.region } : {}),
    });
    closers.push(() => client.destroy());
    services.store = new TeamStore({ client, tableName: config.tableName });
  }
  if (config.objectStoreDir) {
    const { LocalDirectoryStore } = await import("../../core/run-files/object-store.ts");
    services.objectStore = new LocalDirectoryStore(config.objectStoreDir);
  } else if (config.bucket) {
    const [{ s3Client }, { S3ObjectStore }] = await Promise.all([
      import("./aws-clients.ts"),
      import("../../core/run-files/object-store.ts"),
    ]);
    const client = s3Client(config.region);
    closers.push(() => client.destroy());
    services.objectStore = new S3ObjectStore(client, config.bucket);
  }
  return services;
}
