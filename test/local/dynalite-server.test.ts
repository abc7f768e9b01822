import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { createDynaliteServer } from "../../local/dynalite-server.ts";

type Answer = (error?: (Error & { statusCode?: number; body?: { __type?: string } }) | null) => void;
type Action = (store: unknown, data: unknown, callback: Answer) => void;

const requireDynalite = createRequire(import.meta.url);
const dbModule = requireDynalite("dynalite/db/index.js") as {
  create(options: unknown): { db: { put(key: string, value: unknown, callback: Answer): void } };
};
const putItem = requireDynalite("dynalite/actions/putItem.js") as Action;
const query = requireDynalite("dynalite/actions/query.js") as Action;

/** The server with the store dynalite made for it, which dynalite's actions are called with. */
async function serverWithStore() {
  const create = dbModule.create;
  let store: ReturnType<typeof dbModule.create> | undefined;
  dbModule.create = (options) => {
    store = create(options);
    return store;
  };
  try {
    const { server } = await createDynaliteServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    if (!store) throw new Error("dynalite made no store");
    return { server, store };
  } finally {
    dbModule.create = create;
  }
}

const answer = (run: (callback: Answer) => void) =>
  new Promise<Parameters<Answer>[0]>((resolve) => run(resolve));

describe("the embedded store once it has closed", () => {
  // dynalite's request handler throws (`if (err) throw err`) any error an action reports without
  // a statusCode: before, a request still under way at a stop was an uncaught exception.
  it("answers a request still under way as a retryable 500, which dynalite sends instead of throwing", async () => {
    const { server, store } = await serverWithStore();
    await new Promise<void>((resolve) => server.close(() => resolve()));

    const item = { TableName: "teams", Item: { pk: { S: "a" } } };
    const range = { TableName: "teams", KeyConditions: {} };
    const errors = [
      await answer((callback) => putItem(store, item, callback)),
      await answer((callback) => query(store, range, callback)),
      await answer((callback) => store.db.put("late~key", { a: 1 }, callback)),
    ];

    expect(errors.map((error) => [error?.statusCode, error?.body?.__type])).toEqual(
      Array(3).fill([500, "com.amazonaws.dynamodb.v20120810#InternalServerError"]),
    );
  });
});
