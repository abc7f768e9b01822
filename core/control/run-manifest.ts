import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { runManifestKey } from "../bucket-layout.ts";
import type { AgentTeam } from "../manifest/types.ts";

/** What the runner reads at start: the normalized team and its run id (`run.json`). */
export interface RunManifest {
  runId: string;
  team: AgentTeam;
  deadline: string;
}

export interface RunManifestWriter {
  write(manifest: RunManifest): Promise<string>;
}

/** AWS: `s3://<bucket>/run-manifests/<runId>.json` (the runner gets SQUADRON_BUCKET and SQUADRON_RUN_ID). */
export class S3RunManifestWriter implements RunManifestWriter {
  constructor(
    private readonly s3: Pick<S3Client, "send">,
    private readonly bucket: string,
  ) {}

  async write(manifest: RunManifest): Promise<string> {
    const key = runManifestKey(manifest.runId);
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: JSON.stringify(manifest, null, 2),
        ContentType: "application/json",
      }),
    );
    return `s3://${this.bucket}/${key}`;
  }
}

/** Local mode: `<runsDir>/<runId>/run.json`, next to the run's team directory. */
export class FileRunManifestWriter implements RunManifestWriter {
  constructor(private readonly runsDir: string) {}

  async write(manifest: RunManifest): Promise<string> {
    const dir = join(this.runsDir, manifest.runId);
    await mkdir(dir, { recursive: true });
    const path = join(dir, "run.json");
    await writeFile(path, JSON.stringify(manifest, null, 2));
    return path;
  }
}
