import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

/**
 * The one document client setup every store uses. Document clients made `from` one DynamoDB
 * client share its configuration, so their marshalling options must agree (the last one made
 * would otherwise decide for all). Name-keyed maps (agents, labels, gates, MCP servers) may hold a
 * key such as "constructor", which makes the marshaller take the map for a class instance and
 * refuse it with an error (a 500 to the caller): every object written here is plain data.
 */
export function documentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: true },
  });
}
