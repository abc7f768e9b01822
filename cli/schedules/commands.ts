import { ApiError, type SquadronClient } from "../client/index.ts";
import type { Listing } from "../output/get-resources.ts";
import { type ScheduleView, scheduleApi } from "./client.ts";
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

/** `squadron get schedules [NAME]`. */
export const SCHEDULE_LISTING: Listing<ScheduleView> = {
  plural: "schedules",
  one: scheduleApi.get,
  list: scheduleApi.list,
  table: schedulesTable,
};

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
