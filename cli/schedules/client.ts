import type { ScheduleView } from "../../core/schedules/view.ts";
import type { SquadronClient } from "../client/index.ts";

export type { ScheduleView };

/** The schedule routes of docs/api.md, over the CLI's client (kept apart from the team routes). */
const base = (ns: string) => `/api/namespaces/${encodeURIComponent(ns)}/schedules`;
const one = (ns: string, name: string) => `${base(ns)}/${encodeURIComponent(name)}`;

export const scheduleApi = {
  list: (client: SquadronClient, ns: string): Promise<ScheduleView[]> => client.all(base(ns), { limit: 100 }),
  get: (client: SquadronClient, ns: string, name: string): Promise<ScheduleView> =>
    client.request("GET", one(ns, name)),
  create: (
    client: SquadronClient,
    ns: string,
    manifest: unknown,
  ): Promise<ScheduleView & { warnings?: string[] }> => client.request("POST", base(ns), { body: manifest }),
  replace: (
    client: SquadronClient,
    ns: string,
    name: string,
    manifest: unknown,
  ): Promise<ScheduleView & { warnings?: string[] }> =>
    client.request("PUT", one(ns, name), { body: manifest }),
  remove: (client: SquadronClient, ns: string, name: string): Promise<unknown> =>
    client.request("DELETE", one(ns, name)),
  suspend: (client: SquadronClient, ns: string, name: string, suspend: boolean): Promise<ScheduleView> =>
    client.request("POST", `${one(ns, name)}/${suspend ? "suspend" : "resume"}`, { body: {} }),
};
