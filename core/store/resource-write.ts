import { type DynamoDBDocumentClient, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { ConflictError, isConditionalCheckFailed } from "./errors.ts";
import { INDEX_PARTITION_KEY, INDEX_SORT_KEY, PARTITION_KEY } from "./table-definition.ts";

/** A namespaced resource item (template, schedule, trigger) as `create` / `apply` write it. */
export interface ResourceItem {
  /** The item's primary key. */
  key: Record<string, string>;
  /** Its namespace-index keys, under which the resource is listed. */
  index: { partition: string; sort: string };
  kind: string;
  metadata: { namespace: string; name: string };
  /** Attributes each write replaces (the spec as applied). */
  replace: Record<string, unknown>;
  /** Attributes written only when the item has none yet (state the fires write, kept across re-applies). */
  keep?: Record<string, unknown>;
  /** ISO time of the write: `updatedAt`, and `createdAt` on the first write. */
  at: string;
}

export interface ResourceWriteOptions {
  /** Refuse a taken key with a ConflictError of this kind (`create`); without it the write replaces (`apply`). */
  createOnly?: ConflictError["kind"];
  /** ALL_NEW: the item as written; ALL_OLD: what it replaced (undefined when it created). */
  returnValues: "ALL_NEW" | "ALL_OLD";
}

/**
 * Creates or replaces a resource with one UpdateItem (for `create`, one refused when the key is
 * taken): `createdAt` and the `version` counter survive replaces, so a re-apply bumps the version
 * and keeps the creation time and whatever `keep` holds.
 */
export async function writeResource(
  doc: DynamoDBDocumentClient,
  tableName: string,
  item: ResourceItem,
  options: ResourceWriteOptions,
): Promise<Record<string, unknown> | undefined> {
  const names: Record<string, string> = {
    "#gpk": INDEX_PARTITION_KEY,
    "#gsk": INDEX_SORT_KEY,
    "#kind": "kind",
    "#ns": "namespace",
    "#name": "name",
    "#updatedAt": "updatedAt",
    "#createdAt": "createdAt",
    "#version": "version",
  };
  const values: Record<string, unknown> = {
    ":gpk": item.index.partition,
    ":gsk": item.index.sort,
    ":kind": item.kind,
    ":ns": item.metadata.namespace,
    ":name": item.metadata.name,
    ":at": item.at,
    ":one": 1,
  };
  const sets = ["#gpk = :gpk", "#gsk = :gsk", "#kind = :kind", "#ns = :ns", "#name = :name"];
  Object.entries(item.replace).forEach(([attr, value], i) => {
    names[`#r${i}`] = attr;
    values[`:r${i}`] = value;
    sets.push(`#r${i} = :r${i}`);
  });
  Object.entries(item.keep ?? {}).forEach(([attr, value], i) => {
    names[`#k${i}`] = attr;
    values[`:k${i}`] = value;
    sets.push(`#k${i} = if_not_exists(#k${i}, :k${i})`);
  });
  sets.push("#updatedAt = :at", "#createdAt = if_not_exists(#createdAt, :at)");
  if (options.createOnly) names["#pk"] = PARTITION_KEY;
  try {
    const { Attributes } = await doc.send(
      new UpdateCommand({
        TableName: tableName,
        Key: item.key,
        UpdateExpression: `SET ${sets.join(", ")} ADD #version :one`,
        ...(options.createOnly ? { ConditionExpression: "attribute_not_exists(#pk)" } : {}),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValues: options.returnValues,
      }),
    );
    return Attributes;
  } catch (error) {
    if (options.createOnly && isConditionalCheckFailed(error)) {
      throw new ConflictError(options.createOnly, item.metadata.namespace, item.metadata.name);
    }
    throw error;
  }
}
