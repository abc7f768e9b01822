import { LocalDirectoryStore, type ObjectStore, S3ObjectStore } from "../../core/run-files/object-store.ts";
import { TeamStore } from "../../core/store/team-store.ts";
import { dynamoDbClient, s3Client } from "./aws-clients.ts";
import type { RunnerConfig } from "./env.ts";

/**
 * Clients built from the configuration. The SDK is imported statically: every runner that reports
 * to a store loads it anyway, and an import() would make the bundler keep every command of every
 * SDK client it reaches (a lazily evaluated module keeps its whole namespace), which both bloats
 * the bundle and hides from test/infra/iam-coverage.test.ts which commands the runner can send.
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
    const client = dynamoDbClient({
      ...(config.dynamoDbEndpoint ? { endpoint: config.dynamoDbEndpoint } : {}),
      ...(config.region ? { region: config.region } : {}),
    });
    closers.push(() => client.destroy());
    services.store = new TeamStore({ client, tableName: config.tableName });
  }
  if (config.objectStoreDir) {
    services.objectStore = new LocalDirectoryStore(config.objectStoreDir);
  } else if (config.bucket) {
    const client = s3Client(config.region);
    closers.push(() => client.destroy());
    services.objectStore = new S3ObjectStore(client, config.bucket);
  }
  return services;
}
