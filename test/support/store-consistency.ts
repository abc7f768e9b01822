import { type DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";

/** Every item of the table, unmarshalled (a Scan: test-only). */
export async function tableItems(
  client: DynamoDBClient,
  tableName: string,
): Promise<Array<Record<string, unknown>>> {
  const items: Array<Record<string, unknown>> = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({ TableName: tableName, ExclusiveStartKey: start as never, ConsistentRead: true }),
    );
    for (const item of page.Items ?? []) items.push(unmarshall(item));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

/**
 * Test-only audit of a whole table (a Scan, which no request path may use): every `RUNID#`
 * pointer must belong to a run that was stored (the team's run item, or events of that run, or
 * the run kept after its team was deleted), and
 * every run item must have its pointer. Answers the problems found; empty is consistent.
 */
export async function storeConsistencyProblems(client: DynamoDBClient, tableName: string): Promise<string[]> {
  const items = await tableItems(client, tableName);
  const runsOfTeam = new Map<string, Set<string>>();
  // A deleted team's run lives on under its pointer's partition (TeamStore.retireRun).
  const retired = new Set<string>();
  const pointers: Array<{ runId: string; team: string }> = [];
  for (const item of items) {
    const pk = String(item.pk);
    if (pk.startsWith("RUNID#") && item.sk === "RUN") {
      retired.add(pk.slice("RUNID#".length));
    } else if (pk.startsWith("RUNID#")) {
      if (item.sk !== "RUNREF") continue;
      pointers.push({ runId: pk.slice("RUNID#".length), team: `TEAM#${item.namespace}#${item.name}` });
    } else if (pk.startsWith("TEAM#") && typeof item.runId === "string") {
      const set = runsOfTeam.get(pk) ?? new Set<string>();
      set.add(item.runId);
      runsOfTeam.set(pk, set);
    }
  }
  const problems: string[] = [];
  for (const p of pointers) {
    if (!runsOfTeam.get(p.team)?.has(p.runId) && !retired.has(p.runId))
      problems.push(`orphan pointer RUNID#${p.runId} → ${p.team}`);
  }
  const pointed = new Set(pointers.map((p) => p.runId));
  for (const item of items) {
    if (item.sk === "RUN" && typeof item.runId === "string" && !pointed.has(item.runId)) {
      problems.push(`run ${String(item.pk)} (${item.runId}) has no RUNID# pointer`);
    }
  }
  return problems;
}
