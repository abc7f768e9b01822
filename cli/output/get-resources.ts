import type { SquadronClient } from "../client/index.ts";
import { type Output, serialize } from "./format.ts";

/**
 * How `squadron get` reads and shows one kind of resource (templates, triggers, schedules).
 * Methods, not function properties, so that a Listing of any view serves as a Listing<unknown>.
 */
export interface Listing<T> {
  /** Plural as the empty-list message says it: "templates", "triggers", "schedules". */
  plural: string;
  one(client: SquadronClient, namespace: string, name: string): Promise<T>;
  list(client: SquadronClient, namespace: string): Promise<T[]>;
  table(items: T[]): string[];
}

/**
 * `squadron get <resources> [NAME]`: one resource (a one-row table, or serialized), else the
 * namespace's list, with a line on stderr when it is empty.
 */
export async function printListing<T>(
  listing: Listing<T>,
  client: SquadronClient,
  namespace: string,
  name: string | undefined,
  output: Output,
): Promise<void> {
  if (name) {
    const item = await listing.one(client, namespace, name);
    process.stdout.write(
      output === "table" ? `${listing.table([item]).join("\n")}\n` : serialize(item, output),
    );
    return;
  }
  const items = await listing.list(client, namespace);
  if (output !== "table") process.stdout.write(serialize({ items }, output));
  else if (items.length === 0)
    process.stderr.write(`No ${listing.plural} found in namespace ${namespace}.\n`);
  else process.stdout.write(`${listing.table(items).join("\n")}\n`);
}
