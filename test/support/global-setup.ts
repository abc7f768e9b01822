import type { TestProject } from "vitest/node";
import { type RunningStore, startDynalite, startDynamoDbLocal } from "./dynamodb-local.ts";

declare module "vitest" {
  export interface ProvidedContext {
    dynamoDbLocalEndpoint: string;
    dynaliteEndpoint: string;
  }
}

/** One DynamoDB Local and one dynalite for the whole run; each suite makes its own tables. */
export default async function setup(project: TestProject) {
  const started: RunningStore[] = [];
  const [ddbLocal, dynalite] = await Promise.all([startDynamoDbLocal(), startDynalite()]);
  started.push(ddbLocal, dynalite);
  project.provide("dynamoDbLocalEndpoint", ddbLocal.endpoint);
  project.provide("dynaliteEndpoint", dynalite.endpoint);
  return async () => {
    await Promise.all(started.map((s) => s.stop()));
  };
}
