import { ManifestError } from "./issues.ts";

const UNIT_SECONDS: Record<string, number> = { h: 3600, m: 60, s: 1 };
const WHOLE = /^(?:\d+(?:\.\d+)?[hms])+$/;
const PART = /(\d+(?:\.\d+)?)([hms])/g;

/**
 * Seconds in a Go-style duration as kagents writes them ("2h", "90m", "1h30m", "45s", "1.5h"),
 * or undefined when the text is not one. Units must not repeat and must go from large to small,
 * so "30m1h" (almost certainly a typo) is refused rather than guessed at.
 */
export function tryParseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (!WHOLE.test(trimmed)) return undefined;
  let seconds = 0;
  let lastUnit = Number.POSITIVE_INFINITY;
  for (const [, amount, unit] of trimmed.matchAll(PART)) {
    const size = UNIT_SECONDS[unit as string] as number;
    if (size >= lastUnit) return undefined;
    lastUnit = size;
    seconds += Number(amount) * size;
  }
  return Math.round(seconds);
}

/** Like tryParseDuration, but a text that is not a duration is a ManifestError. */
export function parseDuration(text: string): number {
  const seconds = tryParseDuration(text);
  if (seconds === undefined) throw ManifestError.single("", durationMessage(text));
  return seconds;
}

export function durationMessage(text: string): string {
  return `"${text}" is not a duration; write hours, minutes and seconds such as "2h", "90m", "1h30m" or "45s".`;
}

/** The shortest "1h30m"-style text for a number of seconds. */
export function formatDuration(totalSeconds: number): string {
  const whole = Math.max(0, Math.round(totalSeconds));
  if (whole === 0) return "0s";
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const seconds = whole % 60;
  return `${hours ? `${hours}h` : ""}${minutes ? `${minutes}m` : ""}${seconds ? `${seconds}s` : ""}`;
}
