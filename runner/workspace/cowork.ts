import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { AgentTeam } from "../../core/manifest/types.ts";
import { type RunLayout, resolveMountPath, safeJoin } from "../../core/run-files/layout.ts";
import { configMapLocation, type ObjectStore, parseS3Location } from "../../core/run-files/object-store.ts";

/** Where a cowork team's deliverables go when the manifest names no `workspace.output`. */
export const DEFAULT_OUTPUT_MOUNT_PATH = "/workspace/output";

export interface CoworkWorkspace {
  workspaceDir: string;
  inputs: { mountPath: string; dir: string; files: string[] }[];
  outputDir: string;
}

/** Copies every input into place and creates the output directory. Re-running overwrites. */
export async function prepareCoworkWorkspace(
  layout: RunLayout,
  team: AgentTeam,
  store?: ObjectStore,
): Promise<CoworkWorkspace> {
  const workspace = team.spec.workspace ?? {
    inputs: [],
    output: { mountPath: DEFAULT_OUTPUT_MOUNT_PATH, size: "5Gi" },
  };
  await mkdir(layout.workspaceDir, { recursive: true });
  const inputs: CoworkWorkspace["inputs"] = [];
  for (const [i, input] of workspace.inputs.entries()) {
    const dir = resolveMountPath(layout, input.mountPath);
    await mkdir(dir, { recursive: true });
    let files: string[];
    if (input.files) {
      files = [];
      for (const [relative, content] of Object.entries(input.files)) {
        const target = safeJoin(dir, relative, `workspace.inputs[${i}].files`);
        await mkdir(path.dirname(target), { recursive: true });
        await writeFile(target, content);
        files.push(relative);
      }
    } else if (input.configMap || input.s3Prefix) {
      if (!store)
        throw new Error(
          `workspace.inputs[${i}] needs an object store (configMap/s3Prefix) but none is configured`,
        );
      const location = input.configMap
        ? configMapLocation(team.metadata.namespace, input.configMap)
        : parseS3Location(input.s3Prefix as string);
      files = await store.download(location, dir);
    } else {
      throw new Error(
        `workspace.inputs[${i}] (${input.mountPath}) has no source: give files, configMap or s3Prefix`,
      );
    }
    inputs.push({ mountPath: input.mountPath, dir, files });
  }
  const outputDir = resolveMountPath(layout, workspace.output.mountPath);
  await mkdir(outputDir, { recursive: true });
  return { workspaceDir: layout.workspaceDir, inputs, outputDir };
}
