/**
 * The tags Prepare puts on a run's access point and task-definition revision. Shared with infra,
 * whose IAM conditions name them: Cleanup may delete only access points tagged with the stack's
 * file system, and Prepare may create them only with that tag.
 */
export const RUN_TAGS = {
  runId: "squadron:run-id",
  namespace: "squadron:namespace",
  team: "squadron:team",
  /** The file system an access point belongs to: the IAM condition of Cleanup's delete. */
  fileSystem: "squadron:fileSystem",
} as const;
