import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import type { UsageDelta } from "../../core/status/types.ts";
import { readJson, writeJsonAtomic } from "../../core/team-protocol/atomic-file.ts";

/**
 * Each agent runner leaves its outcome and measured usage in `<team dir>/runner/<agent>.json`,
 * so finalize can report measured cost even where no state store is attached (local runs);
 * with a store, the store's atomic totals are authoritative. A restarted agent adds to the
 * usage of earlier attempts.
 */
export interface AgentOutcomeFile {
  agent: string;
  role: "lead" | "teammate";
  model: string;
  /** Succeeded | Failed | Stopped */
  phase: string;
  reason: string;
  message: string;
  attempts: number;
  usage: UsageDelta;
  updatedAt: string;
}

const dirOf = (teamDir: string) => join(teamDir, "runner");

export async function writeAgentOutcome(
  teamDir: string,
  outcome: Omit<AgentOutcomeFile, "attempts" | "updatedAt">,
): Promise<AgentOutcomeFile> {
  const path = join(dirOf(teamDir), `${outcome.agent}.json`);
  await mkdir(dirOf(teamDir), { recursive: true });
  const previous = await readJson<AgentOutcomeFile>(path);
  const usage = { ...outcome.usage };
  if (previous) {
    for (const key of Object.keys(usage) as (keyof UsageDelta)[]) usage[key] += previous.usage[key] ?? 0;
  }
  const record: AgentOutcomeFile = {
    ...outcome,
    usage,
    attempts: (previous?.attempts ?? 0) + 1,
    updatedAt: new Date().toISOString(),
  };
  await writeJsonAtomic(path, record);
  return record;
}

export async function readAgentOutcomes(teamDir: string): Promise<AgentOutcomeFile[]> {
  let names: string[];
  try {
    names = (await readdir(dirOf(teamDir))).filter((f) => f.endsWith(".json") && !f.startsWith("."));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const records = await Promise.all(names.map((f) => readJson<AgentOutcomeFile>(join(dirOf(teamDir), f))));
  return records.filter((r): r is AgentOutcomeFile => r !== undefined && r !== null);
}
