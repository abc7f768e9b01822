import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { AgentTeamSchedule } from "../manifest/types.ts";
import { documentClient } from "../store/document-client.ts";
import { assertStorable, isConditionalCheckFailed, NotFoundError } from "../store/errors.ts";
import { deleteItem, getItem } from "../store/item-by-key.ts";
import { runFromItem, type TeamRunRecord, teamsInNamespace } from "../store/items.ts";
import { queryAll, queryPage } from "../store/query-page.ts";
import { writeResource } from "../store/resource-write.ts";
import {
  INDEX_PARTITION_KEY as GSI_PK,
  INDEX_SORT_KEY as GSI_SK,
  NAMESPACE_INDEX,
  PARTITION_KEY as PK,
  SORT_KEY as SK,
} from "../store/table-definition.ts";

/** Label every run a schedule creates carries: which schedule made it. */
export const SCHEDULE_LABEL = "squadron.dev/schedule";
/** Annotation on such a run: the fire window it was created for (ISO 8601). */
export const SCHEDULED_AT_ANNOTATION = "squadron.dev/scheduled-at";

/** What the fires write; the rest of a schedule's status is derived when read (view.ts). */
export interface ScheduleStatus {
  /** The latest fire window a run was created (or found already created) for. */
  lastScheduledAt?: string;
  /** The latest fire that created nothing, and why (template missing, merge invalid). */
  lastFailure?: { at: string; scheduledAt: string; message: string };
}

export interface ScheduleRecord {
  namespace: string;
  name: string;
  schedule: AgentTeamSchedule;
  status: ScheduleStatus;
  version: number;
  createdAt: string;
  updatedAt: string;
}

const SCHEDULE_SK = "SCHEDULE";
/**
 * Every schedule of every namespace under one index partition, sorted `<namespace>#<name>`: a
 * namespace's list is a begins_with Query, and local mode re-arms all timers at start with one
 * Query (no Scan). Schedules are few; they are not a hot partition.
 */
const ALL_SCHEDULES = "SCHEDULES";

export const schedulePk = (namespace: string, name: string) => `SCHEDULE#${namespace}#${name}`;

/**
 * AgentTeamSchedule items on the team table, stored as written (normalized) like templates, with
 * the status the fires write beside them. Single-item writes only.
 */
export class ScheduleStore {
  private readonly doc: DynamoDBDocumentClient;
  private readonly now: () => Date;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
    options: { now?: () => Date } = {},
  ) {
    this.doc = documentClient(client);
    this.now = options.now ?? (() => new Date());
  }

  /** `create` refuses a taken name (ConflictError); `put` creates or replaces the spec, keeping the status. */
  async write(schedule: AgentTeamSchedule, mode: "create" | "put"): Promise<ScheduleRecord> {
    assertStorable(schedule);
    const { namespace, name } = schedule.metadata;
    const written = await writeResource(
      this.doc,
      this.tableName,
      {
        key: { [PK]: schedulePk(namespace, name), [SK]: SCHEDULE_SK },
        index: { partition: ALL_SCHEDULES, sort: `${namespace}#${name}` },
        kind: "TeamSchedule",
        metadata: schedule.metadata,
        replace: { schedule },
        keep: { status: {} },
        at: this.now().toISOString(),
      },
      { ...(mode === "create" ? { createOnly: "schedule" as const } : {}), returnValues: "ALL_NEW" },
    );
    return fromItem(written ?? {});
  }

  async find(namespace: string, name: string): Promise<ScheduleRecord | undefined> {
    const item = await getItem(this.doc, this.tableName, {
      [PK]: schedulePk(namespace, name),
      [SK]: SCHEDULE_SK,
    });
    return item ? fromItem(item) : undefined;
  }

  async get(namespace: string, name: string): Promise<ScheduleRecord> {
    const record = await this.find(namespace, name);
    if (!record) throw new NotFoundError("schedule", namespace, name);
    return record;
  }

  /** A namespace's schedules, or every schedule when `namespace` is undefined (local mode's start). */
  async list(
    namespace: string | undefined,
    options: { limit?: number; nextToken?: string } = {},
  ): Promise<{ items: ScheduleRecord[]; nextToken?: string }> {
    const page = await queryPage(
      this.doc,
      {
        TableName: this.tableName,
        IndexName: NAMESPACE_INDEX,
        KeyConditionExpression:
          namespace === undefined ? "#pk = :pk" : "#pk = :pk AND begins_with(#sk, :prefix)",
        ExpressionAttributeNames: { "#pk": GSI_PK, ...(namespace === undefined ? {} : { "#sk": GSI_SK }) },
        ExpressionAttributeValues: {
          ":pk": ALL_SCHEDULES,
          ...(namespace === undefined ? {} : { ":prefix": `${namespace}#` }),
        },
        Limit: options.limit ?? 100,
      },
      { kind: "schedules", nextToken: options.nextToken, partition: { [GSI_PK]: ALL_SCHEDULES } },
    );
    return { ...page, items: page.items.map(fromItem) };
  }

  async delete(namespace: string, name: string): Promise<ScheduleRecord> {
    const removed = await deleteItem(this.doc, this.tableName, {
      [PK]: schedulePk(namespace, name),
      [SK]: SCHEDULE_SK,
    });
    if (!removed) throw new NotFoundError("schedule", namespace, name);
    return fromItem(removed);
  }

  /** `suspend`/`resume`: changes `spec.suspend` only (NotFoundError when the schedule is gone). */
  async setSuspend(namespace: string, name: string, suspend: boolean): Promise<ScheduleRecord> {
    return this.update(namespace, name, "SET #schedule.#spec.#suspend = :suspend", {
      names: { "#schedule": "schedule", "#spec": "spec", "#suspend": "suspend" },
      values: { ":suspend": suspend },
    });
  }

  /**
   * Moves `lastScheduledAt` forward to `scheduledAt` (never back: fires may arrive out of order)
   * and clears a failure older than it.
   */
  async recordFire(namespace: string, name: string, scheduledAt: string): Promise<void> {
    try {
      await this.update(
        namespace,
        name,
        "SET #status.#last = :at",
        {
          names: { "#status": "status", "#last": "lastScheduledAt" },
          values: { ":at": scheduledAt },
        },
        "attribute_not_exists(#status.#last) OR #status.#last < :at",
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }

  async recordFailure(namespace: string, name: string, scheduledAt: string, message: string): Promise<void> {
    await this.update(namespace, name, "SET #status.#failure = :failure", {
      names: { "#status": "status", "#failure": "lastFailure" },
      values: { ":failure": { at: this.now().toISOString(), scheduledAt, message } },
    });
  }

  /**
   * The runs a schedule created: a Query of the namespace's runs whose names start with
   * `<schedule>-`, kept when their label names this schedule (schedule `a` must not claim the runs
   * of schedule `a-b`). Newest window first.
   */
  async runsOf(namespace: string, name: string): Promise<TeamRunRecord[]> {
    const items = await queryAll(this.doc, {
      TableName: this.tableName,
      IndexName: NAMESPACE_INDEX,
      KeyConditionExpression: "#pk = :pk AND begins_with(#sk, :prefix)",
      ExpressionAttributeNames: { "#pk": GSI_PK, "#sk": GSI_SK },
      ExpressionAttributeValues: { ":pk": teamsInNamespace(namespace), ":prefix": `${name}-` },
    });
    const runs = items.map(runFromItem).filter((run) => run.team.metadata.labels[SCHEDULE_LABEL] === name);
    return runs.sort((a, b) => scheduledAtOf(b).localeCompare(scheduledAtOf(a)));
  }

  private async update(
    namespace: string,
    name: string,
    expression: string,
    { names, values }: { names: Record<string, string>; values: Record<string, unknown> },
    condition?: string,
  ): Promise<ScheduleRecord> {
    try {
      const { Attributes } = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [PK]: schedulePk(namespace, name), [SK]: SCHEDULE_SK },
          UpdateExpression: `${expression}, #updatedAt = :now ADD #version :one`,
          ConditionExpression: condition
            ? `attribute_exists(#pk) AND (${condition})`
            : "attribute_exists(#pk)",
          ExpressionAttributeNames: { ...names, "#pk": PK, "#updatedAt": "updatedAt", "#version": "version" },
          ExpressionAttributeValues: { ...values, ":now": this.now().toISOString(), ":one": 1 },
          ReturnValues: "ALL_NEW",
        }),
      );
      return fromItem(Attributes ?? {});
    } catch (error) {
      if (isConditionalCheckFailed(error) && !(await this.find(namespace, name))) {
        throw new NotFoundError("schedule", namespace, name);
      }
      throw error;
    }
  }
}

/** The fire window of a run a schedule created (its annotation), "" for any other run. */
export function scheduledAtOf(run: TeamRunRecord): string {
  return run.team.metadata.annotations[SCHEDULED_AT_ANNOTATION] ?? "";
}

function fromItem(item: Record<string, unknown>): ScheduleRecord {
  return {
    namespace: item.namespace as string,
    name: item.name as string,
    schedule: item.schedule as AgentTeamSchedule,
    status: (item.status ?? {}) as ScheduleStatus,
    version: item.version as number,
    createdAt: item.createdAt as string,
    updatedAt: item.updatedAt as string,
  };
}
