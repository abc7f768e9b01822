import type { TeamSummary, TemplateView } from "../client/types.ts";
import { age } from "./age.ts";
import { dollars, renderTable } from "./table.ts";

/** kagents' columns, exactly. */
export const TEAM_COLUMNS = ["NAME", "PHASE", "READY", "TASKS", "DONE", "COST", "AGE"] as const;

export function teamRow(team: TeamSummary, now: Date = new Date()): string[] {
  return [
    team.name,
    team.phase,
    team.ready,
    String(team.tasks?.total ?? 0),
    String(team.tasks?.done ?? 0),
    dollars(team.cost?.usd),
    age(team.createdAt, now),
  ];
}

/** With more than one namespace shown, a NAMESPACE column comes first, as with kubectl -A. */
/** With `allNamespaces` (`get -A`) the NAMESPACE column is always shown, as kubectl does. */
export function teamsTable(
  teams: readonly TeamSummary[],
  now: Date = new Date(),
  options: { allNamespaces?: boolean } = {},
): string[] {
  const namespaces = new Set(teams.map((team) => team.namespace));
  if (namespaces.size > 1 || options.allNamespaces) {
    return renderTable(
      ["NAMESPACE", ...TEAM_COLUMNS],
      teams.map((team) => [team.namespace, ...teamRow(team, now)]),
    );
  }
  return renderTable(
    TEAM_COLUMNS,
    teams.map((team) => teamRow(team, now)),
  );
}

export const TEMPLATE_COLUMNS = ["NAME", "TEAMMATES", "TIMEOUT", "BUDGET", "AGE"] as const;

export function templateName(template: TemplateView): string {
  return template.name ?? template.template?.metadata?.name ?? "<unknown>";
}

export function templatesTable(templates: readonly TemplateView[], now: Date = new Date()): string[] {
  return renderTable(
    TEMPLATE_COLUMNS,
    templates.map((template) => {
      const spec = template.template?.spec;
      const budget = spec?.lifecycle?.budgetLimit;
      return [
        templateName(template),
        String(spec?.teammates?.length ?? 0),
        spec?.lifecycle?.timeout ?? "<none>",
        budget === undefined ? "<none>" : dollars(budget),
        age(template.createdAt, now),
      ];
    }),
  );
}
