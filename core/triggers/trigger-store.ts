/**
 * AgentTeamTriggers in the team table (docs/state.md), beside runs and templates:
 * - the trigger: `TRIGGER#<ns>#<name>` / `TRIGGER` (namespace index `TRIGGERS#<ns>`), holding the
 *   normalized resource, the manifest as applied (runs are made from it through the AgentTeamRun
 *   path) and the fire bookkeeping (activeRun, lastTriggeredAt, totalRuns, version);
 * - its path: `TRIGGERPATH#<ns>#<path>` / `TRIGGERPATH` → trigger name, so a request is routed
 *   with one GetItem and two triggers of a namespace can never own one path. Without transactions
 *   (dynalite has none), a claim whose trigger no longer has that path is stale and may be taken;
 *   lookups check both directions;
 * - fire events `EVENT#<time>#<unique>` and delivery claims `DELIVERY#<key>` under the trigger's
 *   key, both expiring (`expiresAt`, checked in code too: dynalite has no TTL).
 */
import { randomBytes } from "node:crypto";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { AgentTeamTrigger } from "../manifest/types.ts";
import type { TeamEvent } from "../status/types.ts";
import { documentClient } from "../store/document-client.ts";
import { assertStorable, isConditionalCheckFailed } from "../store/errors.ts";
import { deleteItem, getItem } from "../store/item-by-key.ts";
import { queryIndexPartition, queryPage } from "../store/query-page.ts";
import { writeResource } from "../store/resource-write.ts";
import { PARTITION_KEY as PK, SORT_KEY as SK, EXPIRES_AT as TTL } from "../store/table-definition.ts";

const TRIGGER_SK = "TRIGGER";
const PATH_SK = "TRIGGERPATH";
const EVENT_PREFIX = "EVENT#";
const DELIVERY_PREFIX = "DELIVERY#";
/** Fire events are kept as long as run events (TeamStore's default). */
const EVENT_RETENTION_DAYS = 30;

// Names are DNS labels and paths match ^/[A-Za-z0-9._/-]+$: neither holds "#".
export const triggerPk = (namespace: string, name: string) => `TRIGGER#${namespace}#${name}`;
const pathPk = (namespace: string, path: string) => `TRIGGERPATH#${namespace}#${path}`;
const triggersInNamespace = (namespace: string) => `TRIGGERS#${namespace}`;

export interface TriggerRef {
  namespace: string;
  name: string;
}

export interface TriggerRecord {
  namespace: string;
  name: string;
  trigger: AgentTeamTrigger;
  /** The manifest as applied (JSON), from which each fire's AgentTeamRun is made. */
  manifest: Record<string, unknown>;
  version: number;
  createdAt: string;
  updatedAt: string;
  /** The run the last accepted fire created. */
  activeRun?: string;
  lastTriggeredAt?: string;
  totalRuns: number;
}

export interface TriggerEvent extends TeamEvent {}

export class TriggerNotFoundError extends Error {
  override readonly name = "TriggerNotFoundError";
  constructor(namespace: string, name: string) {
    super(`Trigger ${namespace}/${name} not found.`);
  }
}

/** Another trigger of the namespace owns the webhook path. API: 409. */
export class TriggerPathTakenError extends Error {
  override readonly name = "TriggerPathTakenError";
  constructor(
    readonly path: string,
    readonly owner: string,
  ) {
    super(`The webhook path ${path} belongs to trigger ${owner} in this namespace; choose another path.`);
  }
}

/** The trigger changed between reading it and claiming its run slot (a concurrent fire or apply). */
export class TriggerChangedError extends Error {
  override readonly name = "TriggerChangedError";
  constructor(ref: TriggerRef) {
    super(`Trigger ${ref.namespace}/${ref.name} fired or changed concurrently; send the request again.`);
  }
}

type Item = Record<string, unknown>;

function recordOf(item: Item): TriggerRecord {
  return {
    namespace: item.namespace as string,
    name: item.name as string,
    trigger: item.trigger as AgentTeamTrigger,
    manifest: JSON.parse(item.manifest as string) as Record<string, unknown>,
    version: item.version as number,
    createdAt: item.createdAt as string,
    updatedAt: item.updatedAt as string,
    ...(typeof item.activeRun === "string" ? { activeRun: item.activeRun } : {}),
    ...(typeof item.lastTriggeredAt === "string" ? { lastTriggeredAt: item.lastTriggeredAt } : {}),
    totalRuns: typeof item.totalRuns === "number" ? item.totalRuns : 0,
  };
}

let eventSequence = 0;

export class TriggerStore {
  private readonly doc: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly now: () => Date;

  constructor(options: { client: DynamoDBClient; tableName: string; now?: () => Date }) {
    this.doc = documentClient(options.client);
    this.tableName = options.tableName;
    this.now = options.now ?? (() => new Date());
  }

  /** Creates or replaces (`apply`) a trigger; its path must be free in the namespace. */
  async put(
    trigger: AgentTeamTrigger,
    manifest: Record<string, unknown>,
  ): Promise<{ record: TriggerRecord; created: boolean }> {
    assertStorable(trigger);
    const { namespace, name } = trigger.metadata;
    const path = trigger.spec.trigger.webhook.path;
    await this.claimPath(namespace, path, name);
    const replaced = await writeResource(
      this.doc,
      this.tableName,
      {
        key: { [PK]: triggerPk(namespace, name), [SK]: TRIGGER_SK },
        index: { partition: triggersInNamespace(namespace), sort: name },
        kind: "Trigger",
        metadata: trigger.metadata,
        replace: { trigger, manifest: JSON.stringify(manifest), path },
        at: this.now().toISOString(),
      },
      { returnValues: "ALL_OLD" },
    );
    const oldPath = replaced?.path as string | undefined;
    if (oldPath !== undefined && oldPath !== path) await this.releasePath(namespace, oldPath, name);
    return { record: await this.get(namespace, name), created: replaced === undefined };
  }

  async get(namespace: string, name: string): Promise<TriggerRecord> {
    const item = await getItem(this.doc, this.tableName, {
      [PK]: triggerPk(namespace, name),
      [SK]: TRIGGER_SK,
    });
    if (!item) throw new TriggerNotFoundError(namespace, name);
    return recordOf(item);
  }

  async list(
    namespace: string,
    options: { limit?: number; nextToken?: string } = {},
  ): Promise<{ items: TriggerRecord[]; nextToken?: string }> {
    const page = await queryIndexPartition(this.doc, this.tableName, triggersInNamespace(namespace), {
      kind: "triggers",
      limit: options.limit ?? 50,
      nextToken: options.nextToken,
    });
    return { ...page, items: page.items.map(recordOf) };
  }

  async delete(namespace: string, name: string): Promise<TriggerRecord> {
    const removed = await deleteItem(this.doc, this.tableName, {
      [PK]: triggerPk(namespace, name),
      [SK]: TRIGGER_SK,
    });
    if (!removed) throw new TriggerNotFoundError(namespace, name);
    await this.releasePath(namespace, removed.path as string, name);
    return recordOf(removed);
  }

  /** The trigger that owns `path` in `namespace`, if any (one GetItem for the claim, one for it). */
  async findByPath(namespace: string, path: string): Promise<TriggerRecord | undefined> {
    const item = await getItem(this.doc, this.tableName, { [PK]: pathPk(namespace, path), [SK]: PATH_SK });
    if (!item) return undefined;
    const record = await this.get(namespace, item.triggerName as string).catch((error: unknown) => {
      if (error instanceof TriggerNotFoundError) return undefined;
      throw error;
    });
    return record?.trigger.spec.trigger.webhook.path === path ? record : undefined;
  }

  /**
   * Claims the run slot of a fire: sets `activeRun`, `lastTriggeredAt` and counts the run, only if
   * the trigger is still at `version` (so two fires of a Forbid trigger cannot both start a run).
   */
  async claimRunSlot(record: TriggerRecord, run: string): Promise<TriggerRecord> {
    try {
      const { Attributes } = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [PK]: triggerPk(record.namespace, record.name), [SK]: TRIGGER_SK },
          UpdateExpression: "SET #active = :run, #last = :at ADD #total :one, #version :one",
          ConditionExpression: "#version = :version",
          ExpressionAttributeNames: {
            "#active": "activeRun",
            "#last": "lastTriggeredAt",
            "#total": "totalRuns",
            "#version": "version",
          },
          ExpressionAttributeValues: {
            ":run": run,
            ":at": this.now().toISOString(),
            ":one": 1,
            ":version": record.version,
          },
          ReturnValues: "ALL_NEW",
        }),
      );
      return recordOf(Attributes as Item);
    } catch (error) {
      if (isConditionalCheckFailed(error)) throw new TriggerChangedError(record);
      throw error;
    }
  }

  /** Gives the slot back after the run could not be created (only if nothing fired since). */
  async releaseRunSlot(claimed: TriggerRecord, previous: TriggerRecord): Promise<void> {
    await this.doc
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [PK]: triggerPk(claimed.namespace, claimed.name), [SK]: TRIGGER_SK },
          UpdateExpression:
            previous.activeRun === undefined
              ? "REMOVE #active ADD #total :minus, #version :one"
              : "SET #active = :previous ADD #total :minus, #version :one",
          ConditionExpression: "#version = :version",
          ExpressionAttributeNames: { "#active": "activeRun", "#total": "totalRuns", "#version": "version" },
          ExpressionAttributeValues: {
            ":minus": -1,
            ":one": 1,
            ":version": claimed.version,
            ...(previous.activeRun === undefined ? {} : { ":previous": previous.activeRun }),
          },
        }),
      )
      .catch((error: unknown) => {
        if (!isConditionalCheckFailed(error)) throw error;
      });
  }

  /**
   * Claims each delivery key (the body's hash, the sender's delivery id) for `windowSeconds`.
   * Returns the run an earlier delivery holding one of them made (or "" while it is still being
   * made) when a key is taken and unexpired; nothing is then claimed.
   */
  async claimDeliveries(
    ref: TriggerRef,
    keys: string[],
    windowSeconds: number,
  ): Promise<{ duplicateOf?: string }> {
    const nowS = Math.floor(this.now().getTime() / 1000);
    const claimed: string[] = [];
    for (const key of keys) {
      try {
        await this.doc.send(
          new PutCommand({
            TableName: this.tableName,
            Item: {
              [PK]: triggerPk(ref.namespace, ref.name),
              [SK]: `${DELIVERY_PREFIX}${key}`,
              kind: "TriggerDelivery",
              run: "",
              [TTL]: nowS + windowSeconds,
            },
            ConditionExpression: "attribute_not_exists(#pk) OR #ttl < :now",
            ExpressionAttributeNames: { "#pk": PK, "#ttl": TTL },
            ExpressionAttributeValues: { ":now": nowS },
          }),
        );
        claimed.push(key);
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
        await this.releaseDeliveries(ref, claimed);
        const item = await getItem(this.doc, this.tableName, {
          [PK]: triggerPk(ref.namespace, ref.name),
          [SK]: `${DELIVERY_PREFIX}${key}`,
        });
        return { duplicateOf: typeof item?.run === "string" ? item.run : "" };
      }
    }
    return {};
  }

  async recordDeliveryRun(ref: TriggerRef, keys: string[], run: string): Promise<void> {
    for (const key of keys) {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [PK]: triggerPk(ref.namespace, ref.name), [SK]: `${DELIVERY_PREFIX}${key}` },
          UpdateExpression: "SET #run = :run",
          ExpressionAttributeNames: { "#run": "run" },
          ExpressionAttributeValues: { ":run": run },
        }),
      );
    }
  }

  /** A refused delivery (409, 400) may be sent again: its claims are dropped. */
  async releaseDeliveries(ref: TriggerRef, keys: string[]): Promise<void> {
    for (const key of keys) {
      await this.doc.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { [PK]: triggerPk(ref.namespace, ref.name), [SK]: `${DELIVERY_PREFIX}${key}` },
        }),
      );
    }
  }

  async appendEvent(ref: TriggerRef, event: TriggerEvent): Promise<void> {
    eventSequence = (eventSequence + 1) % 1_000_000;
    const unique = `${String(eventSequence).padStart(6, "0")}${randomBytes(4).toString("hex")}`;
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          [PK]: triggerPk(ref.namespace, ref.name),
          [SK]: `${EVENT_PREFIX}${event.time}#${unique}`,
          kind: "TriggerEvent",
          ...event,
          [TTL]: Math.floor(Date.parse(event.time) / 1000) + EVENT_RETENTION_DAYS * 86_400,
        },
      }),
    );
  }

  /** Newest first: `describe trigger` shows the recent fires. */
  async listEvents(
    ref: TriggerRef,
    options: { limit?: number; nextToken?: string } = {},
  ): Promise<{ items: TriggerEvent[]; nextToken?: string }> {
    const pk = triggerPk(ref.namespace, ref.name);
    const page = await queryPage(
      this.doc,
      {
        TableName: this.tableName,
        KeyConditionExpression: "#pk = :pk AND begins_with(#sk, :prefix)",
        ExpressionAttributeNames: { "#pk": PK, "#sk": SK },
        ExpressionAttributeValues: { ":pk": pk, ":prefix": EVENT_PREFIX },
        ScanIndexForward: false,
        Limit: options.limit ?? 50,
      },
      { kind: "trigger-events", nextToken: options.nextToken, partition: { [PK]: pk } },
    );
    const items = page.items.map((i) => ({
      type: i.type,
      reason: i.reason,
      message: i.message,
      time: i.time,
    })) as TriggerEvent[];
    return { ...page, items };
  }

  private async claimPath(namespace: string, path: string, name: string): Promise<void> {
    // DynamoDB refuses names or values an expression does not use: each condition gets its own.
    const put = (condition: string, owner?: string) =>
      this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { [PK]: pathPk(namespace, path), [SK]: PATH_SK, kind: "TriggerPath", triggerName: name },
          ConditionExpression: condition,
          ExpressionAttributeNames: condition.includes("#owner")
            ? { "#pk": PK, "#owner": "triggerName" }
            : { "#pk": PK },
          ...(owner !== undefined ? { ExpressionAttributeValues: { ":owner": owner } } : {}),
        }),
      );
    try {
      await put("attribute_not_exists(#pk) OR #owner = :owner", name);
      return;
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
    const item = await getItem(this.doc, this.tableName, { [PK]: pathPk(namespace, path), [SK]: PATH_SK });
    const owner = item?.triggerName as string | undefined;
    if (owner !== undefined) {
      const holder = await this.get(namespace, owner).catch(() => undefined);
      if (holder?.trigger.spec.trigger.webhook.path === path) throw new TriggerPathTakenError(path, owner);
    }
    // A stale claim (its trigger was deleted or moved mid-write): take it over, unless it changed.
    try {
      await (owner === undefined
        ? put("attribute_not_exists(#pk)")
        : put("attribute_exists(#pk) AND #owner = :owner", owner));
    } catch (error) {
      if (isConditionalCheckFailed(error)) throw new TriggerPathTakenError(path, owner ?? "another trigger");
      throw error;
    }
  }

  private async releasePath(namespace: string, path: string, name: string): Promise<void> {
    await this.doc
      .send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { [PK]: pathPk(namespace, path), [SK]: PATH_SK },
          ConditionExpression: "#owner = :me",
          ExpressionAttributeNames: { "#owner": "triggerName" },
          ExpressionAttributeValues: { ":me": name },
        }),
      )
      .catch((error: unknown) => {
        if (!isConditionalCheckFailed(error)) throw error;
      });
  }
}
