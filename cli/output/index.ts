/** Output formatting of the `squadron` CLI: tables, JSON/YAML, ages, describe text. */
export { age, humanDuration } from "./age.ts";
export { agentsTable, type DescribeInput, describeTeam, tasksTable } from "./describe.ts";
export { OUTPUT_FORMATS, type Output, serialize } from "./format.ts";
export { formatLogLine, prettyLogLine } from "./log-lines.ts";
export { cell, dollars, renderTable } from "./table.ts";
export {
  TEAM_COLUMNS,
  TEMPLATE_COLUMNS,
  teamRow,
  teamsTable,
  templateName,
  templatesTable,
} from "./teams.ts";
