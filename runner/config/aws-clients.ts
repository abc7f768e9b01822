/**
 * The DynamoDB client, imported statically so that bundling keeps only the commands used and
 * resolves the SDK's CommonJS named exports (runner/config/services.ts says why). S3 is another
 * matter: runner/config/s3-access.ts.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";

export function dynamoDbClient(options: { endpoint?: string; region?: string }): DynamoDBClient {
  const local = options.endpoint !== undefined;
  return new DynamoDBClient({
    ...(local ? { endpoint: options.endpoint } : {}),
    region: options.region ?? "us-east-1",
    // DynamoDB Local accepts any credentials; a developer machine may have none configured.
    ...(local && !process.env.AWS_ACCESS_KEY_ID
      ? { credentials: { accessKeyId: "local", secretAccessKey: "local" } }
      : {}),
    maxAttempts: 3,
  });
}
