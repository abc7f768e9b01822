import type { ObjectMeta } from "./types.ts";

/**
 * kagents approves a gate by annotating the team: `approved.kagents.dev/<event>: "true"` (v0.8),
 * or `approved.claude.amcheste.io/<event>: "true"` before. Squadron reads both when a manifest is
 * applied: each names a gate to approve, once, recorded with who applied the manifest.
 */
export const APPROVAL_ANNOTATION_PREFIXES = [
  "approved.kagents.dev/",
  "approved.claude.amcheste.io/",
] as const;

export interface AnnotatedApproval {
  /** The gate event, e.g. `stage-outreach` or `spawn-backend-api`. */
  event: string;
  /** The annotation key as written. */
  annotation: string;
}

export function approvalAnnotationEvent(key: string): string | undefined {
  const prefix = APPROVAL_ANNOTATION_PREFIXES.find((p) => key.startsWith(p));
  return prefix === undefined ? undefined : key.slice(prefix.length);
}

/** The gates a manifest's annotations approve (value "true"); "false" approves nothing. */
export function annotatedApprovals(metadata: Pick<ObjectMeta, "annotations">): AnnotatedApproval[] {
  const out: AnnotatedApproval[] = [];
  for (const [annotation, value] of Object.entries(metadata.annotations)) {
    const event = approvalAnnotationEvent(annotation);
    if (event !== undefined && value === "true" && !out.some((a) => a.event === event))
      out.push({ event, annotation });
  }
  return out;
}
