import { stringify } from "yaml";

export const OUTPUT_FORMATS = ["table", "json", "yaml"] as const;
export type Output = (typeof OUTPUT_FORMATS)[number];

/** JSON (2-space, trailing newline) or YAML (never folded, so prompts read as written). */
export function serialize(value: unknown, format: "json" | "yaml"): string {
  if (format === "json") return `${JSON.stringify(value, null, 2)}\n`;
  return stringify(value, { lineWidth: 0 });
}
