import { DEFAULTS } from "./defaults.ts";
import { tryParseDuration } from "./duration.ts";
import { MAX_BUDGET_USD, MAX_TIMEOUT_SECONDS } from "./limits.ts";

/**
 * A deployment's own defaults for what a manifest leaves out. They replace kagents' defaults
 * (a "4h" timeout, no budget) only where the manifest says nothing: an explicit value always wins.
 */
export interface ManifestDefaults {
  /** Timeout of a team whose lifecycle sets neither `timeout` nor `timeoutSeconds`, e.g. "2h". */
  timeout?: string;
  /** Budget in USD of a team whose lifecycle sets no `budgetLimit`. */
  budgetLimit?: number;
}

/** Limits applied by validation and defaults applied by normalization; callers (API, CLI) set them. */
export interface ManifestOptions {
  /** Largest prompt in UTF-8 bytes. Defaults to 32 KiB. */
  maxPromptBytes?: number;
  /** Most teammates a team may have. Defaults to 32. */
  maxTeammates?: number;
  /** The deployment's defaults (see {@link ManifestDefaults}); checked by {@link resolveOptions}. */
  defaults?: ManifestDefaults;
  /**
   * The namespace a resource gets when its `metadata.namespace` is absent (the API's path
   * namespace). Rules that depend on the namespace (the output prefix a team may deliver to) check
   * against it, so a manifest cannot be validated for one namespace and stored in another.
   */
  namespace?: string;
}

export interface ResolvedDefaults {
  timeout?: string;
  timeoutSeconds?: number;
  budgetLimit?: number;
}

export interface ResolvedOptions {
  maxPromptBytes: number;
  maxTeammates: number;
  defaults: ResolvedDefaults;
  namespace?: string;
}

export const DEFAULT_MAX_PROMPT_BYTES = 32 * 1024;
export const DEFAULT_MAX_TEAMMATES = 32;

/**
 * The options themselves are wrong (a deployment's configuration, not a user's manifest): thrown
 * by {@link resolveOptions}, so a caller can tell it from a ManifestError and fail at start-up.
 */
export class ManifestOptionsError extends Error {
  override name = "ManifestOptionsError";
}

/** Where each default came from, for error messages (an environment variable, a CLI flag). */
export interface DefaultsLabels {
  timeout: string;
  budgetLimit: string;
}

const OPTION_LABELS: DefaultsLabels = { timeout: "defaults.timeout", budgetLimit: "defaults.budgetLimit" };

/** Checks the options and fills in the limits; throws ManifestOptionsError naming every bad value. */
export function resolveOptions(options: ManifestOptions = {}): ResolvedOptions {
  return {
    maxPromptBytes: options.maxPromptBytes ?? DEFAULT_MAX_PROMPT_BYTES,
    maxTeammates: options.maxTeammates ?? DEFAULT_MAX_TEAMMATES,
    defaults: resolveDefaults(options.defaults ?? {}, OPTION_LABELS),
    ...(options.namespace !== undefined ? { namespace: options.namespace } : {}),
  };
}

/**
 * Checks a deployment's defaults once, where they are configured (a Lambda's cold start, `squadron
 * up`), so a mistake stops the start instead of failing every request. Returns them normalized
 * (the timeout trimmed); throws ManifestOptionsError naming every bad value by `labels`.
 */
export function checkManifestDefaults(
  defaults: ManifestDefaults,
  labels: DefaultsLabels = OPTION_LABELS,
): ManifestDefaults {
  const { timeout, budgetLimit } = resolveDefaults(defaults, labels);
  return compactDefaults({ timeout, budgetLimit });
}

/**
 * Defaults given as text (environment variables, command-line flags): an empty or absent text is
 * no default; a budget is a plain number of US dollars ("25", "12.50"). Throws ManifestOptionsError
 * naming every bad value by `labels`.
 */
export function parseManifestDefaults(
  text: { timeout?: string; budgetLimit?: string },
  labels: DefaultsLabels,
): ManifestDefaults {
  const timeout = text.timeout?.trim() || undefined;
  const budgetText = text.budgetLimit?.trim() || undefined;
  const problems: string[] = [];
  let budgetLimit: number | undefined;
  if (budgetText !== undefined) {
    if (DECIMAL.test(budgetText)) budgetLimit = Number(budgetText);
    else {
      problems.push(
        `${labels.budgetLimit}: ${JSON.stringify(budgetText)} is not a number of US dollars; write it like "25" or "12.50".`,
      );
    }
  }
  const checked = defaultsProblems({ timeout, budgetLimit }, labels);
  problems.push(...checked.problems);
  if (problems.length > 0) throw optionsError(problems);
  return compactDefaults(checked.resolved);
}

const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

function resolveDefaults(defaults: ManifestDefaults, labels: DefaultsLabels): ResolvedDefaults {
  if (typeof defaults !== "object" || defaults === null) {
    throw optionsError([
      `defaults must be an object with timeout and budgetLimit (found ${typeof defaults}).`,
    ]);
  }
  const { resolved, problems } = defaultsProblems(defaults, labels);
  if (problems.length > 0) throw optionsError(problems);
  return resolved;
}

function defaultsProblems(
  { timeout, budgetLimit }: ManifestDefaults,
  labels: DefaultsLabels,
): { resolved: ResolvedDefaults; problems: string[] } {
  const problems: string[] = [];
  const resolved: ResolvedDefaults = {};
  if (timeout !== undefined) {
    const seconds = typeof timeout === "string" ? tryParseDuration(timeout) : undefined;
    if (seconds === undefined || seconds <= 0 || seconds > MAX_TIMEOUT_SECONDS) {
      problems.push(
        `${labels.timeout}: ${describe(timeout)} is not a timeout; write a duration longer than zero such as "2h", "90m" or "1h30m" (without a default, teams get ${DEFAULTS.timeout}).`,
      );
    } else {
      resolved.timeout = timeout.trim();
      resolved.timeoutSeconds = seconds;
    }
  }
  if (budgetLimit !== undefined) {
    if (
      typeof budgetLimit !== "number" ||
      !Number.isFinite(budgetLimit) ||
      budgetLimit <= 0 ||
      budgetLimit > MAX_BUDGET_USD
    ) {
      problems.push(
        `${labels.budgetLimit}: ${describe(budgetLimit)} is not a budget; give a number of US dollars greater than zero such as 25.`,
      );
    } else {
      resolved.budgetLimit = budgetLimit;
    }
  }
  return { resolved, problems };
}

function compactDefaults({ timeout, budgetLimit }: ResolvedDefaults): ManifestDefaults {
  return {
    ...(timeout !== undefined ? { timeout } : {}),
    ...(budgetLimit !== undefined ? { budgetLimit } : {}),
  };
}

function describe(value: unknown): string {
  return typeof value === "number" ? String(value) : (JSON.stringify(value) ?? String(value));
}

function optionsError(problems: string[]): ManifestOptionsError {
  return new ManifestOptionsError(
    `Invalid manifest defaults:\n${problems.map((problem) => `  ${problem}`).join("\n")}`,
  );
}
