/**
 * Durations the way kubectl prints AGE (k8s.io/apimachinery util/duration.HumanDuration):
 * 45s, 119s, 5m30s, 12m, 3h20m, 47h, 3d5h, 400d, 2y30d.
 */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  // Up to 2 s in the future counts as now: clocks of client and server differ a little.
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 8) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${days}d`;
  const years = Math.floor(days / 365);
  if (hours < 24 * 365 * 8) return days % 365 === 0 ? `${years}y` : `${years}y${days % 365}d`;
  return `${years}y`;
}

/** Age of something created at `iso`, or `<unknown>` when the time is missing or unreadable. */
export function age(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) return "<unknown>";
  const time = Date.parse(iso);
  if (Number.isNaN(time)) return "<unknown>";
  return humanDuration(now.getTime() - time);
}
