import { DeleteCommand, type DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";

type Item = Record<string, unknown>;

/** The item under `key`, read consistently (so a write just made is seen), or undefined. */
export async function getItem(
  doc: DynamoDBDocumentClient,
  tableName: string,
  key: Record<string, string>,
): Promise<Item | undefined> {
  const { Item } = await doc.send(new GetCommand({ TableName: tableName, Key: key, ConsistentRead: true }));
  return Item;
}

/** Deletes the item under `key`; returns what it held, undefined when there was none. */
export async function deleteItem(
  doc: DynamoDBDocumentClient,
  tableName: string,
  key: Record<string, string>,
): Promise<Item | undefined> {
  const { Attributes } = await doc.send(
    new DeleteCommand({ TableName: tableName, Key: key, ReturnValues: "ALL_OLD" }),
  );
  return Attributes;
}
