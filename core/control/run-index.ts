import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { documentClient } from "../store/document-client.ts";
import type { TeamRunRef } from "../store/items.ts";
import { PARTITION_KEY as PK, SORT_KEY as SK } from "../store/table-definition.ts";
import type { RunWorkspace } from "./run-workspace.ts";
import type { SlackMessageRef } from "./slack-client.ts";

export class UnknownRunError extends Error {
  override name = "UnknownRunError";
  constructor(readonly runId: string) {
    super(`No team run has run id ${runId}.`);
  }
}

/**
 * The state machine's Task payloads carry only the run id, while the store is keyed by
 * namespace/name. One small pointer item per run (`RUNID#<runId>`) answers the lookup with a
 * GetItem; it is written before the execution starts, so every running execution can resolve.
 */
export class RunIndex {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.doc = documentClient(client);
  }

  async put(runId: string, ref: TeamRunRef): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          [PK]: `RUNID#${runId}`,
          [SK]: "RUNREF",
          kind: "RunRef",
          namespace: ref.namespace,
          name: ref.name,
        },
      }),
    );
  }

  /**
   * Removes the pointer of a run that was never stored (its create failed), so no `RUNID#` item
   * outlives a refused request. Only a pointer to `ref` is removed.
   */
  async remove(runId: string, ref: TeamRunRef): Promise<void> {
    await this.doc.send(
      new DeleteCommand({
        TableName: this.tableName,
        Key: { [PK]: `RUNID#${runId}`, [SK]: "RUNREF" },
        ConditionExpression: "#ns = :ns AND #name = :name",
        ExpressionAttributeNames: { "#ns": "namespace", "#name": "name" },
        ExpressionAttributeValues: { ":ns": ref.namespace, ":name": ref.name },
      }),
    );
  }

  /** The run's AWS resources, so cleanup can delete what prepare created. */
  async putWorkspace(runId: string, workspace: RunWorkspace): Promise<void> {
    await this.set(runId, "workspace", workspace);
  }

  /** The Slack message of a gate, so a decision made through the API updates it too. */
  async putSlackMessage(runId: string, gate: string, message: SlackMessageRef): Promise<void> {
    await this.set(runId, `slack#${gate}`, message);
  }

  async details(runId: string): Promise<{
    ref: TeamRunRef;
    workspace?: RunWorkspace;
    slackMessages: Record<string, SlackMessageRef>;
  }> {
    const item = await this.item(runId);
    const slackMessages: Record<string, SlackMessageRef> = {};
    for (const [k, v] of Object.entries(item)) {
      if (k.startsWith("slack#")) slackMessages[k.slice("slack#".length)] = v as SlackMessageRef;
    }
    const out: { ref: TeamRunRef; workspace?: RunWorkspace; slackMessages: Record<string, SlackMessageRef> } =
      {
        ref: { namespace: item.namespace as string, name: item.name as string },
        slackMessages,
      };
    if (item.workspace) out.workspace = item.workspace as RunWorkspace;
    return out;
  }

  private async set(runId: string, attr: string, value: unknown): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { [PK]: `RUNID#${runId}`, [SK]: "RUNREF" },
        UpdateExpression: "SET #a = :v",
        ConditionExpression: "attribute_exists(#pk)",
        ExpressionAttributeNames: { "#a": attr, "#pk": PK },
        ExpressionAttributeValues: { ":v": value },
      }),
    );
  }

  private async item(runId: string): Promise<Record<string, unknown>> {
    const { Item } = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { [PK]: `RUNID#${runId}`, [SK]: "RUNREF" },
        ConsistentRead: true,
      }),
    );
    if (!Item) throw new UnknownRunError(runId);
    return Item;
  }

  /** The run's team, with the run id: the store then only finds this run, never a later one of the name. */
  async resolve(runId: string): Promise<TeamRunRef & { runId: string }> {
    const item = await this.item(runId);
    return { namespace: item.namespace as string, name: item.name as string, runId };
  }
}
