import type { Server } from "node:http";
import { createRequire } from "node:module";
import { Readable } from "node:stream";

/**
 * dynalite with its LevelDB iterators closed.
 *
 * dynalite 4.0.0 reads every Query and Scan (and ListTables, and table deletes) through a stream
 * over a LevelDB iterator (`createValueStream` / `createKeyStream` in its db/index.js) and ends
 * the iterator in the stream's destroy with `iterator.return()`, a method the iterators of
 * abstract-level 3 (under `level` 10 / classic-level 3, and memory-level) do not have: they close
 * with `close()`. So no iterator is ever closed. The database keeps each one in its resources
 * until the database closes, and LevelDB keeps what the iterator pinned when it was opened (its
 * memtable and table files), so the stack's native memory grew with every query: measured with
 * glibc's malloc_info, 1.7 MiB of malloc'd memory per 2-agent run that nothing freed, and 24
 * iterators per run in a heap snapshot (issue 14, item 16). The streams are replaced here by
 * ones that close their iterator when they end, fail or are destroyed.
 */

interface LevelIterator {
  next(): Promise<unknown>;
  close(): Promise<void>;
}

type Callback = (error?: Error | null, ...results: unknown[]) => void;

interface LevelDatabase {
  /** abstract-level's: "opening", "open", "closing" or "closed". */
  readonly status: string;
  put(...args: unknown[]): unknown;
  get(...args: unknown[]): unknown;
  del(...args: unknown[]): unknown;
  batch(...args: unknown[]): unknown;
  keys(options?: unknown): LevelIterator;
  values(options?: unknown): LevelIterator;
  createKeyStream?: (options?: unknown) => Readable;
  createValueStream?: (options?: unknown) => Readable;
}

interface DynaliteDbModule {
  create(options: unknown): { db: LevelDatabase };
}

export interface DynaliteServer {
  server: Server;
  /** LevelDB iterators opened and not yet closed (0 whenever no request is being served). */
  openIterators(): number;
}

export interface DynaliteOptions {
  /** Directory for LevelDB persistence; in memory when absent. */
  path?: string;
}

const requireHere = createRequire(import.meta.url);

/** Creates (does not start) a dynalite server whose streams close their iterators. */
export async function createDynaliteServer(options: DynaliteOptions = {}): Promise<DynaliteServer> {
  const { default: dynalite } = await import("dynalite");
  // dynalite's index calls `db.create(options)` on the module it required, so the store it makes,
  // which the server does not expose, is caught here while dynalite() runs (synchronously).
  const dbModule = requireHere("dynalite/db/index.js") as DynaliteDbModule;
  const create = dbModule.create;
  let database: LevelDatabase | undefined;
  dbModule.create = (storeOptions) => {
    const store = create(storeOptions);
    database = store.db;
    return store;
  };
  let server: Server;
  try {
    server = dynalite({
      ...(options.path ? { path: options.path } : {}),
      createTableMs: 0,
      deleteTableMs: 0,
      updateTableMs: 0,
    }) as Server;
  } finally {
    dbModule.create = create;
  }
  if (
    typeof database?.keys !== "function" ||
    typeof database.values !== "function" ||
    typeof database.createValueStream !== "function" ||
    typeof database.createKeyStream !== "function"
  ) {
    // Another dynalite than the pinned one: better to stop here than to leak again unnoticed.
    throw new Error("dynalite's store is not the one this stack was written for (package.json pins it)");
  }
  const db = database;
  // Every iterator the store opens is counted until it is closed, whoever closes it.
  let open = 0;
  const counted = (iterator: LevelIterator): LevelIterator => {
    open += 1;
    const close = iterator.close.bind(iterator);
    let closing: Promise<void> | undefined;
    iterator.close = () => {
      if (!closing) {
        open -= 1;
        closing = close();
      }
      return closing;
    };
    return iterator;
  };
  const keys = db.keys.bind(db);
  const values = db.values.bind(db);
  db.keys = (iteratorOptions) => counted(keys(iteratorOptions));
  db.values = (iteratorOptions) => counted(values(iteratorOptions));
  db.createKeyStream = (streamOptions) => closingStream(db, db.keys(streamOptions));
  db.createValueStream = (streamOptions) => closingStream(db, db.values(streamOptions));
  for (const method of ["put", "get", "del", "batch"] as const) answerClosedAsServiceError(db, method);
  return { server, openIterators: () => open };
}

/**
 * dynalite's request handler throws any error an action reports without a `statusCode`
 * (`if (err) throw err` in its index.js), so a write still under way when the store closed (its
 * client a runner killed by the stop, dynalite between the read and the write of an UpdateItem)
 * was an uncaught exception: it failed a CI run, and under `npm start` it would end the stack's
 * process. What the database reports once it is closing or closed is answered instead as
 * DynamoDB answers a request it could not serve: a 500 InternalServerError, which the SDK's
 * clients retry (DynamoDB API reference, "Error handling": 5xx errors are retryable).
 */
function answerClosedAsServiceError(db: LevelDatabase, method: "put" | "get" | "del" | "batch"): void {
  const original = db[method].bind(db);
  db[method] = (...args: unknown[]) => {
    const callback = args.at(-1);
    if (typeof callback !== "function") return original(...args);
    const answer: Callback = (error, ...results) =>
      (callback as Callback)(error ? asServiceError(db, error) : error, ...results);
    return original(...args.slice(0, -1), answer);
  };
}

function asServiceError(db: LevelDatabase, error: Error): Error {
  if (db.status === "open" || "statusCode" in error) return error;
  return Object.assign(error, {
    statusCode: 500,
    body: {
      __type: "com.amazonaws.dynamodb.v20120810#InternalServerError",
      message: `The local store is shutting down (${error.message})`,
    },
  });
}

/** The items of `iterator` as a stream that closes it when it ends, fails or is destroyed. */
function closingStream(db: LevelDatabase, iterator: LevelIterator): Readable {
  return new Readable({
    objectMode: true,
    read() {
      iterator.next().then(
        // abstract-level answers undefined at the end of the range; values and keys never are.
        (item) => this.push(item === undefined ? null : item),
        (error: Error) => this.destroy(asServiceError(db, error)),
      );
    },
    // Called at the end too (autoDestroy), so an iterator read to its end is closed as well.
    // abstract-level defers a close asked for during a next() until that read settles.
    destroy(error, callback) {
      iterator.close().then(
        () => callback(error),
        (closeError: Error) => callback(error ?? closeError),
      );
    },
  });
}
