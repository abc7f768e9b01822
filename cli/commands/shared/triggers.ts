import type { TriggerView } from "../../client/index.ts";
import type { Listing } from "../../output/get-resources.ts";
import { triggersTable } from "../../output/triggers.ts";

/** `squadron get triggers [NAME]`. */
export const TRIGGER_LISTING: Listing<TriggerView> = {
  plural: "triggers",
  one: (client, namespace, name) => client.getTrigger(namespace, name),
  list: (client, namespace) => client.listTriggers(namespace),
  table: triggersTable,
};
