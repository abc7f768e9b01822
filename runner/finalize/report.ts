import type { AgentTeam } from "../../core/manifest/types.ts";
import type { ScopeViolation } from "../scope/check.ts";
import type { GateResult } from "./gates.ts";
import type { CommitInfo } from "./merge.ts";

/** What the run measured for one agent (read from the team state store by the caller). */
export interface AgentOutcome {
  name: string;
  role?: "lead" | "teammate";
  /** The agent's phase at the end of the run, e.g. Succeeded, Failed, Stopped. */
  phase: string;
  costUsd: number;
  model?: string;
  inputTokens?: number;
  outputTokens?: number;
}

export const usd = (n: number) => `$${n.toFixed(n !== 0 && Math.abs(n) < 0.01 ? 4 : 2)}`;

export function totalCost(agents: AgentOutcome[]): number {
  return agents.reduce((sum, a) => sum + (Number.isFinite(a.costUsd) ? a.costUsd : 0), 0);
}

/** The pull request body: the rendered template, then what the team did and what it cost. */
export function pullRequestBody(input: {
  team: AgentTeam;
  runId: string;
  agents: AgentOutcome[];
  commits: CommitInfo[];
  gates: GateResult[];
  scopeViolations: ScopeViolation[];
  intro?: string;
}): string {
  const { team, agents } = input;
  const lines: string[] = [];
  if (input.intro?.trim()) lines.push(input.intro.trim(), "");
  lines.push(
    "## Squadron run",
    "",
    `- Team: \`${team.metadata.namespace}/${team.metadata.name}\``,
    `- Run: \`${input.runId}\``,
    `- Total cost: **${usd(totalCost(agents))}** (measured from the agents' CLI usage)`,
  );
  if (team.spec.lifecycle.budgetLimit !== undefined)
    lines.push(`- Budget: ${usd(team.spec.lifecycle.budgetLimit)}`);
  if (agents.length > 0) {
    lines.push("", "| Agent | Role | Model | Phase | Cost |", "| --- | --- | --- | --- | ---: |");
    for (const a of agents) {
      lines.push(`| ${a.name} | ${a.role ?? ""} | ${a.model ?? ""} | ${a.phase} | ${usd(a.costUsd)} |`);
    }
  }
  if (input.gates.length > 0) {
    lines.push("", "### Quality gates", "");
    for (const g of input.gates)
      lines.push(`- ${g.ok ? "✅" : "❌"} ${g.name}: \`${g.command.split("\n")[0]}\``);
  }
  if (input.commits.length > 0) {
    lines.push("", `### Commits (${input.commits.length})`, "");
    for (const c of input.commits.slice(0, 50))
      lines.push(`- ${c.sha.slice(0, 8)} ${c.subject} (${c.author})`);
    if (input.commits.length > 50) lines.push(`- … and ${input.commits.length - 50} more`);
  }
  if (input.scopeViolations.length > 0) {
    lines.push("", "### Excluded for scope violations", "");
    for (const v of input.scopeViolations)
      lines.push(`- ${v.agent} ${v.commit.slice(0, 8)}: ${v.files.join(", ")}`);
  }
  lines.push("", "_Opened by Squadron on behalf of an agent team._");
  return lines.join("\n");
}
