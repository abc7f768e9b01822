import { createHash } from "node:crypto";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { documentClient } from "../store/document-client.ts";
import { isConditionalCheckFailed } from "../store/errors.ts";
import { PARTITION_KEY as PK, SORT_KEY as SK, EXPIRES_AT as TTL } from "../store/table-definition.ts";
import { HttpError, type HttpResponse } from "./http.ts";

const KEY_PATTERN = /^[\x21-\x7e]{1,128}$/;

export const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;

/**
 * `Idempotency-Key` for creating routes, kept in the team table. The first request claims the
 * key with a conditional put (so two concurrent retries cannot both create), then stores its
 * response; a retry with the same body gets that response back, one with another body a 422.
 */
export class IdempotencyKeys {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.doc = documentClient(client);
  }

  async run(
    scope: { namespace: string; key: string; method: string; path: string; body: string },
    create: () => Promise<HttpResponse>,
  ): Promise<HttpResponse> {
    if (!KEY_PATTERN.test(scope.key)) {
      throw new HttpError(400, "Idempotency-Key must be 1 to 128 printable ASCII characters without spaces");
    }
    const fingerprint = createHash("sha256")
      .update(`${scope.method} ${scope.path}\n${scope.body}`)
      .digest("hex");
    const key = { [PK]: `IDEMPOTENCY#${scope.namespace}#${scope.key}`, [SK]: "IDEMPOTENCY" };
    const nowSeconds = Math.floor(this.now().getTime() / 1000);
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...key,
            kind: "IdempotencyKey",
            fingerprint,
            state: "InProgress",
            [TTL]: nowSeconds + IDEMPOTENCY_TTL_SECONDS,
          },
          // An expired record (TTL not yet applied) may be reclaimed.
          ConditionExpression: "attribute_not_exists(#pk) OR #ttl < :now",
          ExpressionAttributeNames: { "#pk": PK, "#ttl": TTL },
          ExpressionAttributeValues: { ":now": nowSeconds },
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      return await this.replay(key, fingerprint, scope.key);
    }
    let response: HttpResponse;
    try {
      response = await create();
    } catch (error) {
      // Any failure frees the key: a refused request created nothing, and after a server error the
      // caller must be able to retry with the same key instead of waiting for the 24 h expiry.
      await this.release(key, fingerprint).catch(() => undefined);
      throw error;
    }
    await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: key,
        UpdateExpression: "SET #state = :done, #response = :response",
        ExpressionAttributeNames: { "#state": "state", "#response": "response" },
        ExpressionAttributeValues: { ":done": "Done", ":response": response },
      }),
    );
    return response;
  }

  private async replay(
    key: Record<string, string>,
    fingerprint: string,
    name: string,
  ): Promise<HttpResponse> {
    const { Item } = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }),
    );
    if (!Item) throw new HttpError(409, `Idempotency-Key ${name} is being released; retry the request`);
    if (Item.fingerprint !== fingerprint) {
      throw new HttpError(
        422,
        `Idempotency-Key ${name} was already used with a different request body; use a new key for a different request`,
      );
    }
    if (Item.state !== "Done") {
      throw new HttpError(409, `a request with Idempotency-Key ${name} is still in progress; retry shortly`);
    }
    const stored = Item.response as HttpResponse;
    return { ...stored, headers: { ...stored.headers, "idempotent-replayed": "true" } };
  }

  private async release(key: Record<string, string>, fingerprint: string): Promise<void> {
    try {
      await this.doc.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: key,
          ConditionExpression: "#fp = :fp AND #state = :progress",
          ExpressionAttributeNames: { "#fp": "fingerprint", "#state": "state" },
          ExpressionAttributeValues: { ":fp": fingerprint, ":progress": "InProgress" },
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }
}
