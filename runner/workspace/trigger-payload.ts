import { chmod, mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import type { AgentTeam } from "../../core/manifest/types.ts";
import { type RunLayout, resolveMountPath } from "../../core/run-files/layout.ts";

/**
 * Writes the webhook payload of the trigger fire that created this run (team.spec.triggerPayload)
 * at its `payloadInjection.mountPath`, mapped into the run's workspace like every `/workspace/...`
 * mount path (`/workspace/data/p.json` → `<run>/workspace/data/p.json`). The body is written as
 * it was received and verified: a file, never interpolated into a prompt or a command. Mode 0444,
 * as kagents mounts it read-only. Re-running (a retried init) writes it again.
 */
export async function writeTriggerPayload(layout: RunLayout, team: AgentTeam): Promise<string | undefined> {
  const payload = team.spec.triggerPayload;
  if (!payload) return undefined;
  const target = resolveMountPath(layout, payload.mountPath);
  if (target === layout.workspaceDir) {
    throw new Error(`payloadInjection.mountPath ${payload.mountPath} names the workspace itself, not a file`);
  }
  await mkdir(path.dirname(target), { recursive: true });
  await rm(target, { force: true }); // a read-only file left by an earlier attempt
  await writeFile(target, payload.content, { mode: 0o444, flag: "wx" });
  await chmod(target, 0o444); // whatever the umask
  return target;
}
