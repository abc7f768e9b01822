import { stringify } from "yaml";
import type { SquadronResource } from "./types.ts";

export type OutputFormat = "yaml" | "json";

/** Text for one resource; parsing it gives back an equal resource. */
export function serializeResource(resource: SquadronResource, format: OutputFormat = "yaml"): string {
  if (format === "json") return `${JSON.stringify(resource, null, 2)}\n`;
  // lineWidth 0: never fold long prompts, so the text reads as written.
  return stringify(resource, { lineWidth: 0 });
}

/** Several resources: YAML documents separated by `---`, or one JSON object / a JSON list. */
export function serializeResources(
  resources: readonly SquadronResource[],
  format: OutputFormat = "yaml",
): string {
  if (format === "json") {
    return `${JSON.stringify(resources.length === 1 ? resources[0] : resources, null, 2)}\n`;
  }
  return resources.map((resource) => serializeResource(resource, "yaml")).join("---\n");
}
