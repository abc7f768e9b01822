import { LocalDirectoryStore, type ObjectStore } from "../../core/run-files/object-store.ts";
import { TeamStore } from "../../core/store/team-store.ts";
import { dynamoDbClient } from "./aws-clients.ts";
import type { RunnerConfig } from "./env.ts";
import { loadS3Access } from "./load-s3-access.ts";

/**
 * Clients built from the configuration. DynamoDB's SDK is imported statically: every runner that
 * reports to a store loads it anyway, and an import() would make the bundler keep every command of
 * every SDK client it reaches (a lazily evaluated module keeps its whole namespace), which both
 * bloats the bundle and hides from test/infra/iam-coverage.test.ts which commands the runner can
 * send. S3's is loaded only when there is a bucket to talk to, from a bundle of its own
 * (runner/config/s3-access.ts), so it keeps only its commands too.
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
    const { store, close } = (await loadS3Access()).bucketObjectStore(config.bucket, config.region);
    closers.push(close);
    services.objectStore = store;
  }
  return services;
}
