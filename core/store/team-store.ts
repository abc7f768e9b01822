import { randomBytes, randomUUID } from "node:crypto";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  BatchWriteCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import type { AgentTeam, AgentTeamTemplate } from "../manifest/types.ts";
import { assertAgentTransition, assertTeamTransition, isTerminalTeamPhase } from "../status/phases.ts";
import { recordRunEnd } from "../status/status.ts";
import type { GateStatus, TeamEvent, TeamStatus, UsageDelta } from "../status/types.ts";
import { documentClient } from "./document-client.ts";
import {
  assertStorable,
  ConflictError,
  isConditionalCheckFailed,
  NotFoundError,
  StillRunningError,
  UnknownNameError,
  VersionConflictError,
} from "./errors.ts";
import { deleteItem, getItem } from "./item-by-key.ts";
import {
  EVENT_SK_PREFIX,
  type EventRecord,
  eventFromItem,
  gateTokenAttr,
  heartbeatAttr,
  newRunRecord,
  type PublicTeamRun,
  publicView,
  RUN_SK,
  retiredRunPk,
  runFromItem,
  runItem,
  storedStatus,
  TEMPLATE_SK,
  type TeamRunRecord,
  type TeamRunRef,
  type TemplateRecord,
  teamPk,
  teamsInNamespace,
  templateFromItem,
  templatePk,
  templatesInNamespace,
  USAGE_FIELDS,
  usageAttr,
  usageChargeAttr,
  usageTotalAttr,
  waitTokenAttr,
} from "./items.ts";
import type { PageKind } from "./page-token.ts";
import { type Page, queryAll, queryIndexPartition, queryPage } from "./query-page.ts";
import { writeResource } from "./resource-write.ts";
import {
  INDEX_PARTITION_KEY as GSI_PK,
  INDEX_SORT_KEY as GSI_SK,
  PARTITION_KEY as PK,
  SORT_KEY as SK,
  EXPIRES_AT as TTL,
} from "./table-definition.ts";
import { type ChargeResult, chargedForm, sumUsage, type UsageCharge, usageBetween } from "./usage-charge.ts";

export type { Page } from "./query-page.ts";

export interface TeamStoreOptions {
  /** Created once by the caller (per Lambda container / process) and shared. */
  client: DynamoDBClient;
  tableName: string;
  /** Days an event item is kept before TTL removes it. Default 30. */
  eventRetentionDays?: number;
  /** Clock, replaceable in tests. */
  now?: () => Date;
}

export interface ListOptions {
  /** Items per page, 1 to 1000. Default 100. */
  limit?: number;
  nextToken?: string;
}

/** Returns the next status, or undefined to leave the run unchanged. Must not have side effects: it may run again. */
export type StatusMutator = (current: TeamStatus, record: TeamRunRecord) => TeamStatus | undefined;

export interface UpdateOptions {
  /** Attempts before VersionConflictError. Default 50 (enough for dozens of simultaneous writers). */
  maxAttempts?: number;
}

export interface UsageTotals {
  agent: UsageDelta;
  total: UsageDelta;
}

export interface GateDecision {
  gate: GateStatus;
  /** False when the gate had already been decided (a retried Slack click, a duplicate API call). */
  changed: boolean;
  /** The stored task token, handed out once, to the caller whose decision took effect. */
  taskToken?: string;
}

/** The condition of every write to an agent's own attributes: the run and the agent exist. */
const AGENT_EXISTS = "attribute_exists(#pk) AND attribute_exists(#status.#agents.#agent)";

/** Sort key of the marker of a team whose create is in flight. */
const CREATING_SK = "CREATING";
const NAMESPACES_PK = "NAMESPACES";

let eventSequence = 0;

/**
 * Team state on the single DynamoDB table of DESIGN.md section 4. Every change is a single-item
 * conditional write; every read path is a GetItem or a Query (never a Scan).
 */
export class TeamStore {
  readonly tableName: string;
  private readonly doc: DynamoDBDocumentClient;
  private readonly retentionDays: number;
  private readonly now: () => Date;

  constructor(options: TeamStoreOptions) {
    this.tableName = options.tableName;
    this.doc = documentClient(options.client);
    this.retentionDays = options.eventRetentionDays ?? 30;
    this.now = options.now ?? (() => new Date());
  }

  // ---- team runs -------------------------------------------------------------------------

  /** Stores a new run of `team`; ConflictError when its name is taken in its namespace. */
  async createRun(team: AgentTeam, options: { runId?: string } = {}): Promise<TeamRunRecord> {
    const { namespace, name } = team.metadata;
    assertStorable(team);
    const record = newRunRecord(team, options.runId ?? randomUUID(), this.now());
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: runItem(record),
          ConditionExpression: "attribute_not_exists(#pk)",
          ExpressionAttributeNames: { "#pk": PK },
        }),
      );
    } catch (error) {
      if (isConditionalCheckFailed(error)) throw new ConflictError("team", namespace, name);
      throw error;
    }
    await this.registerNamespace(namespace);
    return record;
  }

  /**
   * Namespaces that have held a team, one small item each under one partition, so a list across
   * namespaces (`get teams -A`) is Queries, never a Scan. Written with every create (idempotent).
   */
  private async registerNamespace(namespace: string): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { [PK]: NAMESPACES_PK, [SK]: namespace, kind: "Namespace", namespace },
      }),
    );
  }

  /** Every namespace that has held a team, sorted. */
  async listNamespaces(): Promise<string[]> {
    const items = await queryAll(this.doc, {
      TableName: this.tableName,
      KeyConditionExpression: "#pk = :pk",
      ExpressionAttributeNames: { "#pk": PK },
      ExpressionAttributeValues: { ":pk": NAMESPACES_PK },
    });
    return items.map((item) => String(item[SK])).sort();
  }

  /** How long a deleted team's run stays readable by run id. */
  get retentionPeriodDays(): number {
    return this.retentionDays;
  }

  /**
   * Marks `ref` as being created (until {@link clearCreating}, or TTL after 10 minutes), so a
   * delete racing the create can answer "being created, retry" instead of "not found".
   */
  async markCreating(ref: TeamRunRef): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          [PK]: teamPk(ref.namespace, ref.name),
          [SK]: CREATING_SK,
          kind: "Creating",
          [TTL]: Math.floor(this.now().getTime() / 1000) + 600,
        },
      }),
    );
  }

  async clearCreating(ref: TeamRunRef): Promise<void> {
    await this.doc.send(
      new DeleteCommand({
        TableName: this.tableName,
        Key: { [PK]: teamPk(ref.namespace, ref.name), [SK]: CREATING_SK },
      }),
    );
  }

  async isCreating(ref: TeamRunRef): Promise<boolean> {
    const item = await getItem(this.doc, this.tableName, {
      [PK]: teamPk(ref.namespace, ref.name),
      [SK]: CREATING_SK,
    });
    return item !== undefined && Number(item[TTL]) > Math.floor(this.now().getTime() / 1000);
  }

  /** The run with its task tokens (for the state machine's Lambdas); `publicView` it for users. */
  async getRun(ref: TeamRunRef & { runId?: string }): Promise<TeamRunRecord> {
    const record = await this.findRun(ref);
    if (!record) throw new NotFoundError("team", ref.namespace, ref.name);
    return record;
  }

  /**
   * The run stored under `ref`'s name. A ref that carries a `runId` (the state machine's Lambdas
   * resolve one from the run index) only finds that run: once a finished team is deleted and its
   * name applied again, a late Lambda of the old run must never read or write the new one.
   */
  async findRun(ref: TeamRunRef & { runId?: string }): Promise<TeamRunRecord | undefined> {
    const item = await getItem(this.doc, this.tableName, {
      [PK]: teamPk(ref.namespace, ref.name),
      [SK]: RUN_SK,
    });
    if (!item) return undefined;
    const record = runFromItem(item);
    if (typeof ref.runId === "string" && record.runId !== ref.runId) return undefined;
    return record;
  }

  /**
   * Deletes a finished team the way Kubernetes deletes an object, while keeping its run: the run
   * (without tokens) and its events move to the run's own partition `RUNID#<runId>`, where they
   * expire after the retention period (`getRetiredRun`, `listRunEvents`), and the name is free
   * for a new run. Only the run `runId` is removed (a name re-applied meanwhile is left alone),
   * and only once it has ended (StillRunningError otherwise: stop it first).
   */
  async retireRun(ref: TeamRunRef, runId: string): Promise<PublicTeamRun> {
    const record = await this.getRun({ ...ref, runId });
    if (!isTerminalTeamPhase(record.status.phase)) {
      throw new StillRunningError(ref.namespace, ref.name, record.status.phase);
    }
    const expiresAt = Math.floor(this.now().getTime() / 1000) + this.retentionDays * 86_400;
    const pk = retiredRunPk(runId);
    // Events first: a crash between the steps leaves copies, never a run without its history.
    let nextToken: string | undefined;
    do {
      const page = await this.queryEventItems(ref, nextToken);
      const own = page.items.filter((item) => item.runId === runId);
      await this.batchPut(own.map((item) => ({ ...item, [PK]: pk, [TTL]: item[TTL] ?? expiresAt })));
      nextToken = page.nextToken;
    } while (nextToken);
    const { [GSI_PK]: _g, [GSI_SK]: _s, ...item } = runItem(record);
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...item, [PK]: pk, [SK]: RUN_SK, kind: "RetiredTeamRun", [TTL]: expiresAt },
      }),
    );
    try {
      await this.doc.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { [PK]: teamPk(ref.namespace, ref.name), [SK]: RUN_SK },
          ConditionExpression: "#runId = :runId",
          ExpressionAttributeNames: { "#runId": "runId" },
          ExpressionAttributeValues: { ":runId": runId },
        }),
      );
    } catch (error) {
      if (isConditionalCheckFailed(error)) throw new NotFoundError("team", ref.namespace, ref.name);
      throw error;
    }
    do {
      const page = await this.queryEventItems(ref, nextToken);
      await this.batchDelete(
        page.items
          .filter((item) => item.runId === runId)
          .map((item) => ({ [PK]: item[PK], [SK]: item[SK] })) as Record<string, string>[],
      );
      nextToken = page.nextToken;
    } while (nextToken);
    return publicView(record);
  }

  /** A run by its id once its team was deleted (within the retention period), else undefined. */
  async getRetiredRun(runId: string): Promise<PublicTeamRun | undefined> {
    const item = await getItem(this.doc, this.tableName, { [PK]: retiredRunPk(runId), [SK]: RUN_SK });
    return item ? publicView(runFromItem(item)) : undefined;
  }

  /** The events of a run whose team was deleted (see {@link retireRun}), oldest first. */
  async listRetiredRunEvents(runId: string, options: ListOptions = {}): Promise<Page<EventRecord>> {
    return listEventPage(this.doc, this.tableName, retiredRunPk(runId), options);
  }

  /** Runs of a namespace by name, one page at a time (without tokens). */
  async listRuns(namespace: string, options: ListOptions = {}): Promise<Page<PublicTeamRun>> {
    const page = await this.queryIndex("teams", teamsInNamespace(namespace), options);
    return { ...page, items: page.items.map((item) => publicView(runFromItem(item))) };
  }

  /**
   * Optimistic read-modify-write of the status: reads the run, applies `mutator`, and writes
   * only if nobody wrote in between (version attribute); on a conflict it re-reads and retries.
   * Phase changes are checked against the transition tables (InvalidTransitionError).
   */
  async updateStatus(
    ref: TeamRunRef,
    mutator: StatusMutator,
    options: UpdateOptions = {},
  ): Promise<TeamRunRecord> {
    return this.versionedUpdate(
      ref,
      (record) => {
        const next = mutator(structuredClone(record.status), record);
        return next ? { status: next } : undefined;
      },
      options,
    );
  }

  /**
   * Moves a run that has not ended to Cancelled and stops its unfinished agents. A run that
   * already ended is returned unchanged (deleting twice does no harm).
   */
  async cancelRun(ref: TeamRunRef, message = "Cancelled by request."): Promise<TeamRunRecord> {
    const at = this.now().toISOString();
    return this.updateStatus(ref, (status) => {
      if (isTerminalTeamPhase(status.phase)) return undefined;
      status.phase = "Cancelled";
      recordRunEnd(status, { reason: "Cancelled", message, at, agentReason: "RunCancelled" });
      return status;
    });
  }

  /** Removes the run and its events. Returns what was removed (without tokens). */
  async removeRun(ref: TeamRunRef): Promise<PublicTeamRun> {
    const removed = await deleteItem(this.doc, this.tableName, {
      [PK]: teamPk(ref.namespace, ref.name),
      [SK]: RUN_SK,
    });
    if (!removed) throw new NotFoundError("team", ref.namespace, ref.name);
    let nextToken: string | undefined;
    do {
      const page = await this.queryEventKeys(ref, nextToken);
      await this.batchDelete(page.keys);
      nextToken = page.nextToken;
    } while (nextToken);
    return publicView(runFromItem(removed));
  }

  // ---- measured usage and liveness ----------------------------------------------------------

  /**
   * Charges an agent's measured usage exactly once (docs/state.md, "Measured usage"). The agent's
   * charged totals in the item are the reference: the write sets them from `before` to `after`
   * and adds the difference to the run's totals, on condition that they still are `before`, in
   * one single-item update. An ADD would not do: DynamoDB may apply a request whose answer is then
   * lost (a timeout, a reset connection), and the SDK, or the runner after it, sends it again
   * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/WorkingWithItems.html#WorkingWithItems.ConditionalUpdate:
   * "conditional writes are idempotent"; the SDK retries such errors up to `maxAttempts`).
   *
   * A refused condition is resolved with one consistent read: the item names the charge last
   * applied, so a retry of a request that was applied is answered `charged: true` and not counted
   * again; any other mismatch means the caller's `before` is stale (another runner of the agent
   * charged, e.g. before a relaunch), answered `charged: false` with the stored totals to charge
   * from. A ref with a `runId` only charges that run: a late runner of an earlier run under the
   * same name never charges the new one (NotFoundError).
   */
  async chargeUsage(
    ref: TeamRunRef & { runId?: string },
    agent: string,
    charge: UsageCharge,
  ): Promise<ChargeResult> {
    const before = chargedForm(charge.before);
    const after = chargedForm(charge.after);
    const delta = usageBetween(before, after);
    const id = charge.id ?? randomUUID();
    const names: Record<string, string> = {
      "#pk": PK,
      "#status": "status",
      "#agents": "agents",
      "#agent": agent,
      "#charge": usageChargeAttr(agent),
    };
    const values: Record<string, unknown> = { ":zero": 0, ":id": id };
    const sets = ["#charge = :id"];
    const conditions = [AGENT_EXISTS];
    if (typeof ref.runId === "string") {
      names["#runId"] = "runId";
      values[":runId"] = ref.runId;
      conditions.push("#runId = :runId");
    }
    USAGE_FIELDS.forEach((field, i) => {
      for (const [what, value] of [
        ["before", before[field]],
        ["after", after[field]],
      ] as const) {
        if (!Number.isFinite(value) || value < 0) {
          throw new RangeError(`Usage ${field} ${what} must be a non-negative finite number, got ${value}.`);
        }
      }
      if (delta[field] < 0) {
        throw new RangeError(`Usage ${field} cannot go down (from ${before[field]} to ${after[field]}).`);
      }
      names[`#a${i}`] = usageAttr(agent, field);
      names[`#t${i}`] = usageTotalAttr(field);
      values[`:a${i}`] = after[field];
      values[`:d${i}`] = delta[field];
      sets.push(`#a${i} = :a${i}`, `#t${i} = if_not_exists(#t${i}, :zero) + :d${i}`);
      if (before[field] === 0) {
        conditions.push(`(attribute_not_exists(#a${i}) OR #a${i} = :zero)`);
      } else {
        values[`:b${i}`] = before[field];
        conditions.push(`#a${i} = :b${i}`);
      }
    });
    try {
      const { Attributes } = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [PK]: teamPk(ref.namespace, ref.name), [SK]: RUN_SK },
          UpdateExpression: `SET ${sets.join(", ")}`,
          ConditionExpression: conditions.join(" AND "),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: "UPDATED_NEW",
        }),
      );
      return { charged: true, ...usageTotalsOf(Attributes ?? {}, agent) };
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
    const stored = await this.chargedUsage(ref, agent);
    return { charged: stored.chargeId === id, agent: stored.agent, total: stored.total };
  }

  /**
   * An agent's charged totals, the run's, and the id of the charge last applied to the agent
   * (consistent read). NotFoundError without the run (or with another `runId`), UnknownNameError
   * without the agent.
   */
  async chargedUsage(
    ref: TeamRunRef & { runId?: string },
    agent: string,
  ): Promise<UsageTotals & { chargeId?: string }> {
    const item = await getItem(this.doc, this.tableName, {
      [PK]: teamPk(ref.namespace, ref.name),
      [SK]: RUN_SK,
    });
    if (!item || (typeof ref.runId === "string" && item.runId !== ref.runId)) {
      throw new NotFoundError("team", ref.namespace, ref.name);
    }
    const agents = (item.status as TeamStatus | undefined)?.agents ?? {};
    if (!Object.hasOwn(agents, agent)) throw new UnknownNameError("agent", ref.namespace, ref.name, agent);
    const chargeId = item[usageChargeAttr(agent)];
    return { ...usageTotalsOf(item, agent), ...(typeof chargeId === "string" ? { chargeId } : {}) };
  }

  /**
   * Adds `delta` to one agent's usage and to the run's, once per call: the agent's stored totals
   * are read and charged as {@link chargeUsage} does, so a retried request is not counted twice;
   * concurrent writers are serialised by its condition (the one that loses reads again and
   * retries). The runner charges absolute totals through {@link chargeUsage} instead.
   */
  async addUsage(
    ref: TeamRunRef & { runId?: string },
    agent: string,
    delta: Partial<UsageDelta>,
  ): Promise<UsageTotals> {
    for (const field of USAGE_FIELDS) {
      const amount = delta[field] ?? 0;
      if (!Number.isFinite(amount) || amount < 0) {
        throw new RangeError(`Usage ${field} must be a non-negative finite number, got ${amount}.`);
      }
    }
    let current = (await this.chargedUsage(ref, agent)).agent;
    const maxAttempts = 50;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const result = await this.chargeUsage(ref, agent, { before: current, after: sumUsage(current, delta) });
      if (result.charged) return { agent: result.agent, total: result.total };
      current = result.agent;
      await sleep(Math.random() * Math.min(50, 2 ** attempt));
    }
    throw new VersionConflictError(ref.namespace, ref.name, maxAttempts);
  }

  /** Records that an agent is alive, without touching the version (heartbeats are frequent). */
  async heartbeat(ref: TeamRunRef, agent: string, at: Date = this.now()): Promise<void> {
    await this.conditionalAgentUpdate(ref, agent, {
      UpdateExpression: "SET #hb = :at",
      ExpressionAttributeNames: {
        "#pk": PK,
        "#status": "status",
        "#agents": "agents",
        "#agent": agent,
        "#hb": heartbeatAttr(agent),
      },
      ExpressionAttributeValues: { ":at": at.toISOString() },
    });
  }

  // ---- approval gates -----------------------------------------------------------------------

  /**
   * The state machine reached a gate: keeps its task token until someone decides. If the gate
   * was decided beforehand (pre-approval), nothing is stored and the decided gate is returned:
   * the caller completes the task at once.
   */
  async recordGateWaiting(
    ref: TeamRunRef,
    event: string,
    taskToken: string,
    options: { notifiedAt?: Date } = {},
  ): Promise<GateStatus> {
    const tokenRef = gateTokenAttr(event);
    const record = await this.versionedUpdate(ref, (current) => {
      const gate = this.gateOf(current, event);
      if (gate.state !== "Pending") return undefined;
      const status = structuredClone(current.status);
      status.gates[event] = {
        ...gate,
        tokenRef,
        ...(options.notifiedAt ? { notifiedAt: options.notifiedAt.toISOString() } : {}),
      };
      return { status, set: { [tokenRef]: taskToken } };
    });
    return this.gateOf(record, event);
  }

  /**
   * Approves or denies a gate once. The caller whose decision took effect receives the task
   * token (removed from the item in the same write) to resume the execution with.
   */
  async decideGate(
    ref: TeamRunRef,
    event: string,
    decision: "Approved" | "Denied",
    decidedBy: string,
  ): Promise<GateDecision> {
    const tokenRef = gateTokenAttr(event);
    let changed = false;
    let taskToken: string | undefined;
    const record = await this.versionedUpdate(ref, (current) => {
      const gate = this.gateOf(current, event);
      changed = gate.state === "Pending";
      taskToken = changed ? current.tokens.gates[event] : undefined;
      if (!changed) return undefined;
      const status = structuredClone(current.status);
      const { tokenRef: _ref, ...rest } = gate;
      status.gates[event] = { ...rest, state: decision, decidedBy, decidedAt: this.now().toISOString() };
      return { status, remove: [tokenRef] };
    });
    const result: GateDecision = { gate: this.gateOf(record, event), changed };
    if (taskToken !== undefined) result.taskToken = taskToken;
    return result;
  }

  // ---- dependency waits ---------------------------------------------------------------------

  /**
   * Keeps the task token of an agent waiting for its dependencies. Returns the run as written,
   * so the caller can check whether the dependencies finished meanwhile and release at once.
   */
  async putWaitToken(ref: TeamRunRef, agent: string, taskToken: string): Promise<TeamRunRecord> {
    const { Attributes } = await this.conditionalAgentUpdate(ref, agent, {
      UpdateExpression: "SET #wt = :token",
      ExpressionAttributeNames: {
        "#pk": PK,
        "#status": "status",
        "#agents": "agents",
        "#agent": agent,
        "#wt": waitTokenAttr(agent),
      },
      ExpressionAttributeValues: { ":token": taskToken },
      ReturnValues: "ALL_NEW",
    });
    return runFromItem(Attributes ?? {});
  }

  /**
   * Removes and returns an agent's wait token. Exactly one of several concurrent callers gets
   * it, so a dependant is released once; the others get undefined.
   */
  async takeWaitToken(ref: TeamRunRef, agent: string): Promise<string | undefined> {
    try {
      const { Attributes } = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [PK]: teamPk(ref.namespace, ref.name), [SK]: RUN_SK },
          UpdateExpression: "REMOVE #wt",
          ConditionExpression: "attribute_exists(#wt)",
          ExpressionAttributeNames: { "#wt": waitTokenAttr(agent) },
          ReturnValues: "UPDATED_OLD",
        }),
      );
      return Attributes?.[waitTokenAttr(agent)] as string | undefined;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return undefined;
      throw error;
    }
  }

  // ---- events -------------------------------------------------------------------------------

  /** Appends one event to the run's history; it expires after the retention period. */
  async appendEvent(ref: TeamRunRef & { runId: string }, event: TeamEvent): Promise<void> {
    eventSequence = (eventSequence + 1) % 1_000_000;
    // Time first so a Query returns the history in order; the suffix keeps same-millisecond events apart.
    const unique = `${String(eventSequence).padStart(6, "0")}${randomBytes(4).toString("hex")}`;
    const expiresAt = Math.floor(Date.parse(event.time) / 1000) + this.retentionDays * 86_400;
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          [PK]: teamPk(ref.namespace, ref.name),
          [SK]: `${EVENT_SK_PREFIX}${event.time}#${unique}`,
          kind: "Event",
          runId: ref.runId,
          ...event,
          [TTL]: Number.isFinite(expiresAt) ? expiresAt : undefined,
        },
        ConditionExpression: "attribute_not_exists(#sk)",
        ExpressionAttributeNames: { "#sk": SK },
      }),
    );
  }

  /** The run's events, oldest first. */
  async listEvents(ref: TeamRunRef, options: ListOptions = {}): Promise<Page<EventRecord>> {
    return listEventPage(this.doc, this.tableName, teamPk(ref.namespace, ref.name), options);
  }

  // ---- templates ----------------------------------------------------------------------------

  async createTemplate(template: AgentTeamTemplate): Promise<TemplateRecord> {
    return this.writeTemplate(template, "create");
  }

  /** Creates or replaces a template (`apply`). */
  async putTemplate(template: AgentTeamTemplate): Promise<TemplateRecord> {
    return this.writeTemplate(template, "put");
  }

  async getTemplate(namespace: string, name: string): Promise<TemplateRecord> {
    const item = await getItem(this.doc, this.tableName, {
      [PK]: templatePk(namespace, name),
      [SK]: TEMPLATE_SK,
    });
    if (!item) throw new NotFoundError("template", namespace, name);
    return templateFromItem(item);
  }

  async listTemplates(namespace: string, options: ListOptions = {}): Promise<Page<TemplateRecord>> {
    const page = await this.queryIndex("templates", templatesInNamespace(namespace), options);
    return { ...page, items: page.items.map(templateFromItem) };
  }

  async deleteTemplate(namespace: string, name: string): Promise<TemplateRecord> {
    const removed = await deleteItem(this.doc, this.tableName, {
      [PK]: templatePk(namespace, name),
      [SK]: TEMPLATE_SK,
    });
    if (!removed) throw new NotFoundError("template", namespace, name);
    return templateFromItem(removed);
  }

  // ---- internals ----------------------------------------------------------------------------

  private gateOf(record: TeamRunRecord, event: string): GateStatus {
    const gate = record.status.gates[event];
    if (!gate) throw new UnknownNameError("gate", record.namespace, record.name, event);
    return gate;
  }

  private async versionedUpdate(
    ref: TeamRunRef,
    change: (
      record: TeamRunRecord,
    ) => { status: TeamStatus; set?: Record<string, string>; remove?: string[] } | undefined,
    options: UpdateOptions = {},
  ): Promise<TeamRunRecord> {
    const maxAttempts = options.maxAttempts ?? 50;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const current = await this.getRun(ref);
      const next = change(current);
      if (!next) return current;
      checkTransitions(current, next.status);
      const at = this.now().toISOString();
      const names: Record<string, string> = {
        "#status": "status",
        "#version": "version",
        "#updatedAt": "updatedAt",
      };
      const values: Record<string, unknown> = {
        ":status": storedStatus(next.status),
        ":expected": current.version,
        ":next": current.version + 1,
        ":at": at,
      };
      const sets = ["#status = :status", "#version = :next", "#updatedAt = :at"];
      Object.entries(next.set ?? {}).forEach(([attr, value], i) => {
        names[`#s${i}`] = attr;
        values[`:s${i}`] = value;
        sets.push(`#s${i} = :s${i}`);
      });
      const removes = (next.remove ?? []).map((attr, i) => {
        names[`#r${i}`] = attr;
        return `#r${i}`;
      });
      try {
        await this.doc.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: { [PK]: teamPk(ref.namespace, ref.name), [SK]: RUN_SK },
            UpdateExpression: `SET ${sets.join(", ")}${removes.length ? ` REMOVE ${removes.join(", ")}` : ""}`,
            ConditionExpression: "#version = :expected",
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
          }),
        );
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
        // Someone else wrote first: back off a little (jittered, growing) and start over.
        await sleep(Math.random() * Math.min(50, 2 ** attempt));
        continue;
      }
      const tokens = structuredClone(current.tokens);
      for (const attr of next.remove ?? []) {
        if (attr.startsWith("gateToken#")) delete tokens.gates[attr.slice("gateToken#".length)];
      }
      for (const [attr, value] of Object.entries(next.set ?? {})) {
        if (attr.startsWith("gateToken#")) tokens.gates[attr.slice("gateToken#".length)] = value;
      }
      return { ...current, status: next.status, version: current.version + 1, updatedAt: at, tokens };
    }
    throw new VersionConflictError(ref.namespace, ref.name, maxAttempts);
  }

  /** An update of an agent's own attributes, refused (NotFound / UnknownName) when the run or agent is missing. */
  private async conditionalAgentUpdate(
    ref: TeamRunRef,
    agent: string,
    input: Pick<
      ConstructorParameters<typeof UpdateCommand>[0],
      "UpdateExpression" | "ExpressionAttributeNames" | "ExpressionAttributeValues" | "ReturnValues"
    >,
  ) {
    try {
      return await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [PK]: teamPk(ref.namespace, ref.name), [SK]: RUN_SK },
          ConditionExpression: AGENT_EXISTS,
          ...input,
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      await this.getRun(ref); // throws NotFoundError when the run is gone
      throw new UnknownNameError("agent", ref.namespace, ref.name, agent);
    }
  }

  private async queryIndex(kind: PageKind, partition: string, options: ListOptions) {
    return queryIndexPartition(this.doc, this.tableName, partition, {
      kind,
      limit: pageLimit(options.limit),
      nextToken: options.nextToken,
    });
  }

  private async queryEventKeys(ref: TeamRunRef, nextToken: string | undefined) {
    const page = await queryEvents(this.doc, this.tableName, teamPk(ref.namespace, ref.name), nextToken, {
      ProjectionExpression: "#pk, #sk",
    });
    return { keys: page.items as Record<string, string>[], nextToken: page.nextToken };
  }

  private async queryEventItems(ref: TeamRunRef, nextToken: string | undefined) {
    return queryEvents(this.doc, this.tableName, teamPk(ref.namespace, ref.name), nextToken);
  }

  private async batchPut(items: Record<string, unknown>[]): Promise<void> {
    await this.batchWrite(items.map((item) => ({ PutRequest: { Item: item } })));
  }

  private async batchDelete(keys: Record<string, string>[]): Promise<void> {
    await this.batchWrite(keys.map((key) => ({ DeleteRequest: { Key: key } })));
  }

  /** BatchWriteItem 25 requests at a time (its limit), sending again what it left unprocessed. */
  private async batchWrite(
    all: Array<
      { PutRequest: { Item: Record<string, unknown> } } | { DeleteRequest: { Key: Record<string, string> } }
    >,
  ): Promise<void> {
    for (let i = 0; i < all.length; i += 25) {
      let requests = all.slice(i, i + 25);
      for (let attempt = 0; requests.length > 0; attempt++) {
        const { UnprocessedItems } = await this.doc.send(
          new BatchWriteCommand({ RequestItems: { [this.tableName]: requests } }),
        );
        requests = (UnprocessedItems?.[this.tableName] ?? []) as typeof requests;
        if (requests.length > 0) await sleep(Math.min(1000, 20 * 2 ** attempt));
      }
    }
  }

  private async writeTemplate(template: AgentTeamTemplate, mode: "create" | "put"): Promise<TemplateRecord> {
    assertStorable(template);
    const { namespace, name } = template.metadata;
    const written = await writeResource(
      this.doc,
      this.tableName,
      {
        key: { [PK]: templatePk(namespace, name), [SK]: TEMPLATE_SK },
        index: { partition: templatesInNamespace(namespace), sort: name },
        kind: "TeamTemplate",
        metadata: template.metadata,
        replace: { template },
        at: this.now().toISOString(),
      },
      { ...(mode === "create" ? { createOnly: "template" as const } : {}), returnValues: "ALL_NEW" },
    );
    return templateFromItem(written ?? {});
  }
}

function checkTransitions(current: TeamRunRecord, next: TeamStatus): void {
  assertTeamTransition(current.status.phase, next.phase);
  for (const [agent, status] of Object.entries(next.agents)) {
    const before = current.status.agents[agent];
    if (!before) throw new UnknownNameError("agent", current.namespace, current.name, agent);
    assertAgentTransition(agent, before.phase, status.phase);
  }
}

function pageLimit(limit: number | undefined): number {
  const n = limit ?? 100;
  if (!Number.isInteger(n) || n < 1 || n > 1000) {
    throw new RangeError(`A page limit must be an integer from 1 to 1000, got ${limit}.`);
  }
  return n;
}

/** A page of the events kept under partition `pk` (a team's, or a retired run's), oldest first. */
async function listEventPage(
  doc: DynamoDBDocumentClient,
  tableName: string,
  pk: string,
  options: ListOptions,
): Promise<Page<EventRecord>> {
  const page = await queryEvents(doc, tableName, pk, options.nextToken, { Limit: pageLimit(options.limit) });
  return { ...page, items: page.items.map(eventFromItem) };
}

/** The event items under partition `pk`, one page at a time (a whole Query page when no limit is given). */
function queryEvents(
  doc: DynamoDBDocumentClient,
  tableName: string,
  pk: string,
  nextToken: string | undefined,
  extra: { Limit?: number; ProjectionExpression?: string } = {},
) {
  return queryPage(
    doc,
    {
      TableName: tableName,
      KeyConditionExpression: "#pk = :pk AND begins_with(#sk, :prefix)",
      ExpressionAttributeNames: { "#pk": PK, "#sk": SK },
      ExpressionAttributeValues: { ":pk": pk, ":prefix": EVENT_SK_PREFIX },
      ...extra,
    },
    { kind: "events", nextToken, partition: { [PK]: pk } },
  );
}

/** An agent's usage totals and the run's, from a run item or the attributes an update returned. */
function usageTotalsOf(item: Record<string, unknown>, agent: string): UsageTotals {
  const pick = (attr: (f: (typeof USAGE_FIELDS)[number]) => string) =>
    Object.fromEntries(
      USAGE_FIELDS.map((f) => [f, (item[attr(f)] as number | undefined) ?? 0]),
    ) as unknown as UsageDelta;
  return { agent: pick((f) => usageAttr(agent, f)), total: pick(usageTotalAttr) };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
