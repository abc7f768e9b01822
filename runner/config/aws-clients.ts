/**
 * AWS SDK clients, with static imports so that bundling keeps only the commands used and resolves
 * the SDK's CommonJS named exports (runner/config/services.ts says why nothing imports it lazily).
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";

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

export function s3Client(region?: string): S3Client {
  return new S3Client(region ? { region } : {});
}

/** The text of one S3 object; `undefined` when it does not exist. */
export async function readS3Object(
  bucket: string,
  key: string,
  region?: string,
): Promise<string | undefined> {
  const client = s3Client(region);
  try {
    const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return (await out.Body?.transformToString("utf8")) ?? "";
  } catch (error) {
    if ((error as { name?: string }).name === "NoSuchKey") return undefined;
    throw error;
  } finally {
    client.destroy();
  }
}
