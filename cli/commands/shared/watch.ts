import { isTeamPhase, isTerminalTeamPhase } from "../../../core/status/index.ts";
import type { TeamSummary } from "../../client/index.ts";
import { serialize, teamRow, teamsTable } from "../../output/index.ts";
import { interruptSignal, sleep } from "./context.ts";

export interface WatchOptions {
  fetch: () => Promise<TeamSummary[]>;
  output: "table" | "json" | "yaml";
  intervalMs: number;
  out?: NodeJS.WriteStream;
  /** `get -w -A`: the NAMESPACE column always. */
  allNamespaces?: boolean;
}

export function allTerminal(teams: readonly TeamSummary[]): boolean {
  return (
    teams.length > 0 && teams.every((team) => isTeamPhase(team.phase) && isTerminalTeamPhase(team.phase))
  );
}

/** What changes in a row when something happens (AGE ticks on its own, so it is left out). */
function rowKey(team: TeamSummary): string {
  return JSON.stringify(teamRow(team).slice(0, -1));
}

/**
 * Polls the teams until every one shown has finished or Ctrl-C. On a terminal the table is
 * redrawn in place (cursor up, clear to end of screen); otherwise, like `kubectl get -w`, the
 * table is printed once and then each row that changed. Returns true when interrupted.
 */
export async function watchTeams(options: WatchOptions): Promise<boolean> {
  const out = options.out ?? process.stdout;
  const tty = out.isTTY === true && options.output === "table";
  const interrupt = interruptSignal();
  const seen = new Map<string, string>();
  let drawnLines = 0;
  const table = (teams: readonly TeamSummary[]) =>
    teamsTable(teams, new Date(), options.allNamespaces ? { allNamespaces: true } : {});
  if (tty) out.write("\x1b[?25l");
  try {
    for (let first = true; ; first = false) {
      const teams = await options.fetch();
      if (tty) {
        const lines = teams.length > 0 ? table(teams) : ["No teams yet; waiting..."];
        const up = drawnLines > 0 ? `\x1b[${drawnLines}A\r` : "";
        out.write(`${up}\x1b[J${lines.join("\n")}\n`);
        drawnLines = lines.length;
      } else {
        const changed = teams.filter((team) => seen.get(`${team.namespace}/${team.name}`) !== rowKey(team));
        if (options.output === "table") {
          const lines = table(teams);
          const wanted = new Set(changed.map((team) => teams.indexOf(team) + 1));
          const shown = lines.filter((_, index) => (first && index === 0) || wanted.has(index));
          if (shown.length > 0) out.write(`${shown.join("\n")}\n`);
        } else {
          for (const team of changed)
            out.write(
              options.output === "yaml" ? `---\n${serialize(team, "yaml")}` : serialize(team, "json"),
            );
        }
      }
      for (const team of teams) seen.set(`${team.namespace}/${team.name}`, rowKey(team));
      if (allTerminal(teams)) return false;
      await sleep(options.intervalMs, interrupt.signal);
      if (interrupt.interrupted()) return true;
    }
  } finally {
    if (tty) out.write("\x1b[?25h");
    interrupt.dispose();
  }
}
