import type { SquadronClient } from "../../client/index.ts";
import { type Output, serialize } from "../../output/index.ts";
import { triggersTable } from "../../output/triggers.ts";

/** `squadron get triggers [NAME]`. */
export async function getTriggers(
  client: SquadronClient,
  namespace: string,
  name: string | undefined,
  output: Output,
): Promise<void> {
  if (name) {
    const trigger = await client.getTrigger(namespace, name);
    process.stdout.write(
      output === "table" ? `${triggersTable([trigger]).join("\n")}\n` : serialize(trigger, output),
    );
    return;
  }
  const triggers = await client.listTriggers(namespace);
  if (output !== "table") process.stdout.write(serialize({ items: triggers }, output));
  else if (triggers.length === 0) process.stderr.write(`No triggers found in namespace ${namespace}.\n`);
  else process.stdout.write(`${triggersTable(triggers).join("\n")}\n`);
}
