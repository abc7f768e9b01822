import type { AgentView, TaskView, TeamEventView, TeamView } from "../client/types.ts";
import { age } from "./age.ts";
import { cell, dollars, renderTable } from "./table.ts";

export interface DescribeInput {
  team: TeamView;
  events: readonly TeamEventView[];
  /** The tasks, or why they could not be read. */
  tasks: readonly TaskView[] | { unavailable: string };
  now?: Date;
}

/** `kubectl describe`-style text: aligned fields, then Agents, Gates, Tasks and Events sections. */
export function describeTeam({ team, events, tasks, now = new Date() }: DescribeInput): string {
  const lines: string[] = [];
  const repository = team.spec?.repository as { url?: string; branch?: string } | undefined;
  const budget = team.cost?.budgetUsd;
  const fields: [string, string][] = [
    ["Name", team.name],
    ["Namespace", team.namespace],
    ["Run ID", cell(team.runId)],
    ["API Version", cell(team.apiVersion)],
    ["Mode", cell(team.mode)],
    ["Phase", team.phase],
    ["Reason", cell(team.reason)],
    ["Message", cell(team.message)],
    ["Ready", team.ready],
    ["Tasks", `${team.tasks?.done ?? 0}/${team.tasks?.total ?? 0} done`],
    [
      "Cost",
      (budget == null ? dollars(team.cost?.usd) : `${dollars(team.cost?.usd)} of ${dollars(budget)} budget`) +
        (team.cost?.simulated ? " (simulated agents: priced usage of scripted stand-ins, not spending)" : ""),
    ],
    ["Created", timeWithAge(team.createdAt, now)],
    ["Started", timeWithAge(team.startedAt, now)],
    ["Completed", timeWithAge(team.completedAt, now)],
  ];
  if (repository?.url) fields.push(["Repository", `${repository.url} (${repository.branch ?? "main"})`]);
  const width = Math.max(...fields.map(([label]) => label.length)) + 2;
  for (const [label, value] of fields) lines.push(`${`${label}:`.padEnd(width)}${value}`);

  const agents = [...(team.lead ? [team.lead] : []), ...(team.teammates ?? [])];
  lines.push("Agents:");
  if (agents.length === 0) lines.push("  <none>");
  else lines.push(...indent(agentsTable(agents)));

  if (team.pipeline) {
    lines.push(`Pipeline:  current stage ${cell(team.pipeline.currentStage)}`);
    lines.push(
      ...indent(
        renderTable(
          ["STAGE", "PHASE", "READY", "TEAMMATES", "AFTER", "GATE", "STARTED", "COMPLETED"],
          team.pipeline.stages.map((s) => [
            s.name,
            s.phase,
            s.ready,
            s.teammates.join(","),
            s.dependsOn && s.dependsOn.length > 0 ? s.dependsOn.join(",") : "<none>",
            s.gate ? `${s.gate} (${s.gateState ?? "Pending"})` : "<none>",
            s.startedAt ? `${age(s.startedAt, now)} ago` : "<none>",
            s.completedAt ? `${age(s.completedAt, now)} ago` : "<none>",
          ]),
        ),
      ),
    );
  }

  if (team.artifacts && team.artifacts.length > 0) {
    lines.push("Artifacts:");
    lines.push(
      ...indent(
        renderTable(
          ["ARTIFACT", "PRODUCED BY", "PATH", "SIZE", "DELIVERED TO"],
          team.artifacts.map((a) => [
            a.name,
            a.producedBy,
            a.path,
            `${a.size} B`,
            a.deliveredTo.length > 0
              ? a.deliveredTo.map((d) => `${d.consumer}:${d.mountPath}`).join(",")
              : "<none>",
          ]),
        ),
      ),
    );
  }

  const gates = Object.entries(team.gates ?? {});
  lines.push("Gates:");
  if (gates.length === 0) lines.push("  <none>");
  else {
    lines.push(
      ...indent(
        renderTable(
          ["GATE", "STATE", "DECIDED BY", "DECIDED"],
          gates.map(([gate, g]) => [
            gate,
            g.state,
            cell(g.decidedBy),
            g.decidedAt ? `${age(g.decidedAt, now)} ago` : "<none>",
          ]),
        ),
      ),
    );
  }

  // Only for onComplete "deliver" runs that reached it, so other teams' output is unchanged.
  if (team.delivery?.length) {
    lines.push("Delivery:");
    lines.push(
      ...indent(
        renderTable(
          ["TYPE", "TARGET", "PHASE", "HTTP", "DELIVERED", "ERROR"],
          team.delivery.map((d) => [
            d.type,
            d.target,
            d.phase,
            d.httpStatus === undefined ? "<none>" : String(d.httpStatus),
            `${age(d.deliveredAt, now)} ago`,
            cell(d.error),
          ]),
        ),
      ),
    );
  }

  lines.push("Tasks:");
  if ("unavailable" in tasks) lines.push(`  <unavailable: ${tasks.unavailable}>`);
  else if (tasks.length === 0) lines.push("  <none>");
  else lines.push(...indent(tasksTable(tasks)));

  lines.push("Events:");
  if (events.length === 0) lines.push("  <none>");
  else {
    const rows = events.map((e) => [e.type, e.reason, age(e.time, now), e.agent ?? "squadron", e.message]);
    const [header, ...body] = renderTable(["Type", "Reason", "Age", "From", "Message"], rows);
    // kubectl underlines the header of the events table.
    const underline = renderTable(
      ["Type", "Reason", "Age", "From", "Message"],
      [["----", "------", "----", "----", "-------"], ...rows],
    )[1] as string;
    lines.push(...indent([header as string, underline, ...body]));
  }
  return `${lines.join("\n")}\n`;
}

export function agentsTable(agents: readonly AgentView[]): string[] {
  return renderTable(
    ["NAME", "ROLE", "CLI", "PHASE", "RESTARTS", "COST", "DEPENDS ON", "PENDING APPROVAL"],
    agents.map((a) => [
      a.simulated ? `${a.name} (simulated)` : a.name,
      cell(a.role),
      cell(a.cli),
      a.reason ? `${a.phase} (${a.reason})` : a.phase,
      String(a.restarts ?? 0),
      dollars(a.costUsd),
      a.dependsOn && a.dependsOn.length > 0 ? a.dependsOn.join(",") : "<none>",
      cell(a.pendingApproval),
    ]),
  );
}

export function tasksTable(tasks: readonly TaskView[]): string[] {
  return renderTable(
    ["ID", "SUBJECT", "STATUS", "OWNER", "BLOCKED BY"],
    tasks.map((t) => [
      t.id,
      t.subject,
      t.status,
      cell(t.owner),
      t.blockedBy && t.blockedBy.length > 0 ? t.blockedBy.join(",") : "<none>",
    ]),
  );
}

function timeWithAge(iso: string | null | undefined, now: Date): string {
  return iso ? `${iso} (${age(iso, now)} ago)` : "<none>";
}

function indent(lines: readonly string[]): string[] {
  return lines.map((line) => `  ${line}`);
}
