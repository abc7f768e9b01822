/** Errors the store throws; the API maps NotFound to 404, Conflict and VersionConflict to 409. */

export class StoreError extends Error {}

const KIND_TITLES = { team: "Team run", template: "Template", schedule: "Schedule" } as const;

export class NotFoundError extends StoreError {
  override readonly name = "NotFoundError";
  constructor(
    readonly kind: "team" | "template" | "schedule",
    readonly namespace: string,
    readonly resourceName: string,
  ) {
    super(`${KIND_TITLES[kind]} ${namespace}/${resourceName} not found.`);
  }
}

export class ConflictError extends StoreError {
  override readonly name = "ConflictError";
  constructor(
    readonly kind: "team" | "template" | "schedule",
    readonly namespace: string,
    readonly resourceName: string,
  ) {
    super(
      `${{ team: "A team run", template: "A template", schedule: "A schedule" }[kind]} named ${resourceName} already exists in namespace ${namespace}.`,
    );
  }
}

/** The item kept changing under an optimistic update for every allowed attempt. */
export class VersionConflictError extends StoreError {
  override readonly name = "VersionConflictError";
  constructor(
    readonly namespace: string,
    readonly resourceName: string,
    readonly attempts: number,
  ) {
    super(
      `Team run ${namespace}/${resourceName} was changed concurrently ${attempts} times in a row; the update was not applied.`,
    );
  }
}

/** A pagination token that this store did not issue (or that was altered). API: 400. */
export class InvalidPageTokenError extends StoreError {
  override readonly name = "InvalidPageTokenError";
  constructor() {
    super("The page token is not valid: pass back the nextToken of a previous list call unchanged.");
  }
}

/** A gate event or agent name that the run's spec does not declare. API: 400. */
export class UnknownNameError extends StoreError {
  override readonly name = "UnknownNameError";
  constructor(
    readonly kind: "agent" | "gate",
    readonly namespace: string,
    readonly resourceName: string,
    readonly unknown: string,
  ) {
    super(
      `Team run ${namespace}/${resourceName} has no ${kind === "agent" ? "agent" : "approval gate"} "${unknown}".`,
    );
  }
}

export function isConditionalCheckFailed(error: unknown): boolean {
  return (error as { name?: string } | null)?.name === "ConditionalCheckFailedException";
}

/**
 * DynamoDB refuses items over 400 KB, and a team run is one item holding its spec and its status
 * (which grows with the run). A manifest is therefore limited to {@link MAX_STORED_MANIFEST_BYTES}
 * of JSON, leaving room for the status. API: 413 naming the limit.
 */
export const MAX_STORED_MANIFEST_BYTES = 256 * 1024;

export class ManifestTooLargeError extends StoreError {
  override readonly name = "ManifestTooLargeError";
  constructor(readonly bytes: number) {
    super(
      `The manifest takes ${Math.ceil(bytes / 1024)} KiB once normalized; at most ${MAX_STORED_MANIFEST_BYTES / 1024} KiB fit in one stored item (DynamoDB's 400 KB item limit, with room for the run's status). Shorten the prompts or split the team.`,
    );
  }
}

/** Throws ManifestTooLargeError when `resource` would not fit in one stored item. */
export function assertStorable(resource: unknown): void {
  const bytes = Buffer.byteLength(JSON.stringify(resource));
  if (bytes > MAX_STORED_MANIFEST_BYTES) throw new ManifestTooLargeError(bytes);
}

/** Deleting a team that has not ended yet: it is stopped first. API: 409. */
export class StillRunningError extends StoreError {
  override readonly name = "StillRunningError";
  constructor(
    readonly namespace: string,
    readonly resourceName: string,
    readonly phase: string,
  ) {
    super(`Team ${namespace}/${resourceName} is ${phase}; it can be removed once it has ended.`);
  }
}
