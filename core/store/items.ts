/**
 * How records map to items of the single table (docs/state.md). Kept apart from the store so
 * the stream-driven Lambdas decode items exactly as the store does.
 */
import type { AgentTeam, AgentTeamTemplate } from "../manifest/types.ts";
import { initialStatus } from "../status/status.ts";
import type { AgentStatus, TeamEvent, TeamStatus, UsageDelta } from "../status/types.ts";
import { TABLE_DEFINITION } from "./table-definition.ts";

export const RUN_SK = "RUN";
export const TEMPLATE_SK = "TEMPLATE";
export const EVENT_SK_PREFIX = "EVENT#";

export const USAGE_FIELDS = [
  "inputTokens",
  "outputTokens",
  "cacheReadTokens",
  "cacheWriteTokens",
  "costUsd",
] as const;
export type UsageField = (typeof USAGE_FIELDS)[number];

// Names are DNS-1123 labels (validated before anything is stored), so "#" never occurs in them.
export const teamPk = (namespace: string, name: string) => `TEAM#${namespace}#${name}`;
export const templatePk = (namespace: string, name: string) => `TEMPLATE#${namespace}#${name}`;
/**
 * The partition of one run by id: the run index's pointer (`RUNREF`) and, once its team was
 * deleted, the run itself and its events (`RUN`, `EVENT#…`) until they expire.
 */
export const retiredRunPk = (runId: string) => `RUNID#${runId}`;
export const teamsInNamespace = (namespace: string) => `TEAMS#${namespace}`;
export const templatesInNamespace = (namespace: string) => `TEMPLATES#${namespace}`;

/**
 * Counters and tokens live in top-level attributes of the run item, outside `status`, so that
 * ADD and SET on them never conflict with (or get overwritten by) versioned status writes.
 */
export const usageAttr = (agent: string, field: UsageField) => `usage#${agent}#${field}`;
export const usageTotalAttr = (field: UsageField) => `usageTotal#${field}`;
/** The id of the last charge applied to an agent's usage (core/store/usage-charge.ts). */
export const usageChargeAttr = (agent: string) => `usageCharge#${agent}`;
export const heartbeatAttr = (agent: string) => `heartbeat#${agent}`;
export const gateTokenAttr = (event: string) => `gateToken#${event}`;
export const waitTokenAttr = (agent: string) => `waitToken#${agent}`;

export interface TeamRunRef {
  namespace: string;
  name: string;
}

/** Step Functions task tokens held by a run. Never shown to users: see `publicView`. */
export interface RunTokens {
  /** By approval gate event. */
  gates: Record<string, string>;
  /** By agent waiting for its dependencies. */
  waits: Record<string, string>;
}

/** A team run as the store returns it: the spec and its live status, like a Kubernetes object. */
export interface TeamRunRecord {
  namespace: string;
  name: string;
  /** Unique per run (also the Step Functions execution name); a re-created name gets a new one. */
  runId: string;
  team: AgentTeam;
  status: TeamStatus;
  /** Bumped by every status write; the optimistic lock. */
  version: number;
  createdAt: string;
  updatedAt: string;
  tokens: RunTokens;
}

export type PublicTeamRun = Omit<TeamRunRecord, "tokens">;

/** The record without task tokens: what the API, CLI, events and notifications may show. */
export function publicView(record: TeamRunRecord | PublicTeamRun): PublicTeamRun {
  const { tokens: _tokens, ...rest } = record as TeamRunRecord;
  return rest;
}

export interface TemplateRecord {
  namespace: string;
  name: string;
  template: AgentTeamTemplate;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface EventRecord extends TeamEvent {
  runId: string;
}

type Item = Record<string, unknown>;

function usageOf(item: Item, attr: (field: UsageField) => string): UsageDelta {
  const out = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0 };
  for (const field of USAGE_FIELDS) {
    const value = item[attr(field)];
    if (typeof value === "number") out[field] = value;
  }
  return out;
}

/** Removes what the store owns outside `status` before a status write. */
export function storedStatus(status: TeamStatus): TeamStatus {
  const agents = nameMap<AgentStatus>();
  for (const [name, agent] of Object.entries(status.agents)) {
    const {
      heartbeatAt: _h,
      inputTokens: _i,
      outputTokens: _o,
      cacheReadTokens: _r,
      cacheWriteTokens: _w,
      costUsd: _c,
      ...rest
    } = agent;
    agents[name] = rest as AgentStatus;
  }
  const { totalCostUsd: _t, ...rest } = status;
  return { ...rest, agents } as TeamStatus;
}

/**
 * A map keyed by names users choose (agents, gates): no prototype, so a name such as
 * "constructor" or "toString" is found only if it was set, never on Object.prototype.
 */
export function nameMap<T>(from: Record<string, T> = {}): Record<string, T> {
  return Object.assign(Object.create(null) as Record<string, T>, from);
}

/** Decodes a run item (from a read or an unmarshalled stream image) into a record. */
export function runFromItem(item: Item): TeamRunRecord {
  const stored = item.status as TeamStatus;
  const agents = nameMap<AgentStatus>();
  for (const [name, agent] of Object.entries(stored.agents)) {
    const heartbeat = item[heartbeatAttr(name)];
    agents[name] = {
      ...agent,
      ...usageOf(item, (f) => usageAttr(name, f)),
      ...(typeof heartbeat === "string" ? { heartbeatAt: heartbeat } : {}),
    };
  }
  const tokens: RunTokens = { gates: nameMap(), waits: nameMap() };
  for (const [attr, value] of Object.entries(item)) {
    if (typeof value !== "string") continue;
    if (attr.startsWith("gateToken#")) tokens.gates[attr.slice("gateToken#".length)] = value;
    else if (attr.startsWith("waitToken#")) tokens.waits[attr.slice("waitToken#".length)] = value;
  }
  return {
    namespace: item.namespace as string,
    name: item.name as string,
    runId: item.runId as string,
    team: item.team as AgentTeam,
    status: {
      ...stored,
      agents,
      gates: nameMap(stored.gates ?? {}),
      totalCostUsd: usageOf(item, usageTotalAttr).costUsd,
    },
    version: item.version as number,
    createdAt: item.createdAt as string,
    updatedAt: item.updatedAt as string,
    tokens,
  };
}

export function templateFromItem(item: Item): TemplateRecord {
  return {
    namespace: item.namespace as string,
    name: item.name as string,
    template: item.template as AgentTeamTemplate,
    version: item.version as number,
    createdAt: item.createdAt as string,
    updatedAt: item.updatedAt as string,
  };
}

export function eventFromItem(item: Item): EventRecord {
  const event: EventRecord = {
    runId: item.runId as string,
    type: item.type as TeamEvent["type"],
    reason: item.reason as string,
    message: item.message as string,
    time: item.time as string,
  };
  if (typeof item.agent === "string") event.agent = item.agent;
  return event;
}

/** A run as it starts: version 1, initial status, no usage and no tokens. */
export function newRunRecord(team: AgentTeam, runId: string, now: Date): TeamRunRecord {
  const at = now.toISOString();
  return {
    namespace: team.metadata.namespace,
    name: team.metadata.name,
    runId,
    team,
    status: initialStatus(team),
    version: 1,
    createdAt: at,
    updatedAt: at,
    tokens: { gates: {}, waits: {} },
  };
}

/** The item a new run is stored as (usage counters, heartbeats and tokens are added later). */
export function runItem(record: TeamRunRecord): Item {
  const { partitionKey, sortKey, namespaceIndex } = TABLE_DEFINITION;
  return {
    [partitionKey.name]: teamPk(record.namespace, record.name),
    [sortKey.name]: RUN_SK,
    [namespaceIndex.partitionKey.name]: teamsInNamespace(record.namespace),
    [namespaceIndex.sortKey.name]: record.name,
    kind: "TeamRun",
    namespace: record.namespace,
    name: record.name,
    runId: record.runId,
    team: record.team,
    status: storedStatus(record.status),
    version: record.version,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}
