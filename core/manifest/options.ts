/** Limits applied by validation; callers (API, CLI) may tighten or loosen them. */
export interface ManifestOptions {
  /** Largest prompt in UTF-8 bytes. Defaults to 32 KiB. */
  maxPromptBytes?: number;
  /** Most teammates a team may have. Defaults to 32. */
  maxTeammates?: number;
}

export interface ResolvedOptions {
  maxPromptBytes: number;
  maxTeammates: number;
}

export const DEFAULT_MAX_PROMPT_BYTES = 32 * 1024;
export const DEFAULT_MAX_TEAMMATES = 32;

export function resolveOptions(options: ManifestOptions = {}): ResolvedOptions {
  return {
    maxPromptBytes: options.maxPromptBytes ?? DEFAULT_MAX_PROMPT_BYTES,
    maxTeammates: options.maxTeammates ?? DEFAULT_MAX_TEAMMATES,
  };
}
