import { type DynamoDBDocumentClient, QueryCommand, type QueryCommandInput } from "@aws-sdk/lib-dynamodb";
import { decodePageToken, encodePageToken, type PageKind } from "./page-token.ts";
import { INDEX_PARTITION_KEY, NAMESPACE_INDEX } from "./table-definition.ts";

export interface Page<T> {
  items: T[];
  /** Pass back as `nextToken` to get the next page; absent on the last page. */
  nextToken?: string;
}

type Item = Record<string, unknown>;

/** Where a listing resumes: the caller's token, checked to come from a list of `kind` over `partition`. */
export interface PageStart {
  kind: PageKind;
  nextToken: string | undefined;
  /** The key attributes the Query is confined to (a token from another partition is refused). */
  partition: Record<string, string>;
}

/**
 * One page of a Query, resumed after the caller's opaque `nextToken` (InvalidPageTokenError when
 * it is not one of this listing's) and handing back the token of the next page, absent on the last.
 */
export async function queryPage(
  doc: DynamoDBDocumentClient,
  input: Omit<QueryCommandInput, "ExclusiveStartKey">,
  start: PageStart,
): Promise<Page<Item>> {
  const { Items, LastEvaluatedKey } = await doc.send(
    new QueryCommand({
      ...input,
      ExclusiveStartKey: decodePageToken(start.kind, start.nextToken, start.partition),
    }),
  );
  return withToken(Items ?? [], encodePageToken(start.kind, LastEvaluatedKey));
}

/** Every item a Query matches, following LastEvaluatedKey to the end: for short internal lists only. */
export async function queryAll(
  doc: DynamoDBDocumentClient,
  input: Omit<QueryCommandInput, "ExclusiveStartKey">,
): Promise<Item[]> {
  const items: Item[] = [];
  let start: Item | undefined;
  do {
    const page = await doc.send(new QueryCommand({ ...input, ExclusiveStartKey: start }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

/** A page whose `nextToken` is left out, not undefined, on the last page (so JSON shows no key). */
export function withToken<T>(items: T[], nextToken: string | undefined): Page<T> {
  return nextToken ? { items, nextToken } : { items };
}

/** A page of the items listed under one namespace-index partition (a namespace's teams, templates, triggers). */
export function queryIndexPartition(
  doc: DynamoDBDocumentClient,
  tableName: string,
  partition: string,
  page: { kind: PageKind; limit: number; nextToken: string | undefined },
): Promise<Page<Item>> {
  return queryPage(
    doc,
    {
      TableName: tableName,
      IndexName: NAMESPACE_INDEX,
      KeyConditionExpression: "#pk = :pk",
      ExpressionAttributeNames: { "#pk": INDEX_PARTITION_KEY },
      ExpressionAttributeValues: { ":pk": partition },
      Limit: page.limit,
    },
    { kind: page.kind, nextToken: page.nextToken, partition: { [INDEX_PARTITION_KEY]: partition } },
  );
}
