/**
 * Everything the runner does with S3, bundled apart from the runner (runner/build.ts: s3-access.cjs)
 * and loaded only by a runner that talks to S3 (runner/config/load-s3-access.ts).
 *
 * A runner reaches S3 only to read its run manifest in AWS and, in init and finalize, to stage
 * inputs and deliver outputs to the bucket; the local stack's runners never do. Loading the S3
 * client anyway cost every runner about 2 MiB of resident memory and the CPU of evaluating the
 * client's modules (issue 14, item 16: runners under 60 MiB). Imports here are static, so the
 * bundle of this module keeps only the commands used, which test/infra/iam-coverage.test.ts reads.
 */
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { type ObjectStore, S3ObjectStore } from "../../core/run-files/object-store.ts";

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

/** The run's bucket as an object store, and how to close its client. */
export function bucketObjectStore(bucket: string, region?: string): { store: ObjectStore; close(): void } {
  const client = s3Client(region);
  return { store: new S3ObjectStore(client, bucket), close: () => client.destroy() };
}
