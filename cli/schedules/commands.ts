import { ApiError, type SquadronClient } from "../client/index.ts";
import { type Output, serialize } from "../output/index.ts";
import { scheduleApi } from "./client.ts";
import { describeSchedule, schedulesTable } from "./output.ts";

/** `apply` of an AgentTeamSchedule: create, or replace on 409 (as templates); warnings to stderr. */
export async function applySchedule(
  client: SquadronClient,
  namespace: string,
  name: string,
  body: unknown,
): Promise<string> {
  let result: { warnings?: string[] };
  let verb = "created";
  try {
    result = await scheduleApi.create(client, namespace, body);
  } catch (problem) {
    if (!(problem instanceof ApiError) || problem.status !== 409) throw problem;
    result = await scheduleApi.replace(client, namespace, name, body);
    verb = "configured";
  }
  for (const warning of result.warnings ?? [])
    process.stderr.write(`warning: schedule/${name}: ${warning}\n`);
  return `schedule/${name} ${verb}`;
}

export async function getSchedules(
  client: SquadronClient,
  namespace: string,
  name: string | undefined,
  output: Output,
): Promise<void> {
  if (name) {
    const schedule = await scheduleApi.get(client, namespace, name);
    process.stdout.write(
      output === "table" ? `${schedulesTable([schedule]).join("\n")}\n` : serialize(schedule, output),
    );
    return;
  }
  const schedules = await scheduleApi.list(client, namespace);
  if (output !== "table") process.stdout.write(serialize({ items: schedules }, output));
  else if (schedules.length === 0) process.stderr.write(`No schedules found in namespace ${namespace}.\n`);
  else process.stdout.write(`${schedulesTable(schedules).join("\n")}\n`);
}

export async function describeScheduleCommand(
  client: SquadronClient,
  namespace: string,
  name: string,
): Promise<void> {
  process.stdout.write(describeSchedule(await scheduleApi.get(client, namespace, name)));
}

export async function deleteSchedule(client: SquadronClient, namespace: string, name: string): Promise<void> {
  await scheduleApi.remove(client, namespace, name);
  process.stdout.write(`schedule/${name} deleted (the runs it created are kept)\n`);
}
