import type { LogLine } from "../client/index.ts";

/** Keys every runner line carries (runner/reporting/logger.ts); the pretty form leaves them out. */
const ENVELOPE = new Set(["level", "message", "timestamp", "time", "service", "runId", "agent", "mode"]);

function valueText(value: unknown): string {
  if (typeof value === "string") return /[\s"=]/.test(value) || value === "" ? JSON.stringify(value) : value;
  if (value && typeof value === "object" && "message" in value && typeof value.message === "string") {
    return JSON.stringify(value.message);
  }
  return JSON.stringify(value);
}

/**
 * A runner JSON line as a person reads it: `WARN message key=value ...` (INFO is not spelled out),
 * a multi-line value (git's or a test's output) indented under it. A line that is not the
 * runner's JSON (a crash trace) is printed as it is. `-o json` prints the raw lines instead.
 */
export function prettyLogLine(line: string): string {
  const text = line.trim();
  if (!text.startsWith("{")) return line;
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (!entry || typeof entry !== "object" || typeof entry.message !== "string") return line;
  const level = typeof entry.level === "string" && entry.level !== "INFO" ? `${entry.level} ` : "";
  const inline: string[] = [];
  const blocks: string[] = [];
  for (const [key, value] of Object.entries(entry)) {
    if (ENVELOPE.has(key) || value === undefined) continue;
    if (typeof value === "string" && value.includes("\n")) {
      blocks.push(
        `  ${key}:`,
        ...value
          .replace(/\n+$/, "")
          .split("\n")
          .map((l) => `    ${l}`),
      );
    } else inline.push(`${key}=${valueText(value)}`);
  }
  const head = `${level}${entry.message}${inline.length ? ` ${inline.join(" ")}` : ""}`;
  return [head, ...blocks].join("\n");
}

/** One line of `squadron logs`: `[agent] ` without an AGENT argument, the time with --timestamps. */
export function formatLogLine(
  line: LogLine,
  options: { prefixAgent: boolean; timestamps: boolean; raw: boolean },
): string {
  const body = options.raw ? line.line : prettyLogLine(line.line);
  const prefix = `${options.timestamps ? `${line.time} ` : ""}${options.prefixAgent ? `[${line.agent}] ` : ""}`;
  return body
    .split("\n")
    .map((l, i) => (i === 0 ? `${prefix}${l}` : `${" ".repeat(prefix.length)}${l}`))
    .join("\n");
}
