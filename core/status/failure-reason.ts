/**
 * A failure as a person reads it: a short reason (`CloneFailed`) and one line saying what
 * happened (`could not resolve github.com`), instead of Step Functions' `States.TaskFailed` and a
 * multi-line git or test dump with full paths. The detail stays in `squadron logs` (init, the
 * agents, finalize), which the message points to.
 */
export interface HumanFailure {
  reason: string;
  message: string;
}

const RULES: Array<{ test: RegExp; reason: string; say: (m: RegExpExecArray) => string }> = [
  {
    // runner/workspace/skills.ts: a `source.oci` skill not pulled; the registry's answer is the point.
    test: /skill ([\w.-]+): pulling \S+ (anonymously \(([^)]*)\)|with the imagePullSecret "[^"]+") failed: ([^\n]+)/,
    reason: "SkillPullFailed",
    say: (m) => {
      const said = `skill ${m[1]} (${m[3] ?? m[2]}): ${m[4]}`;
      return said.length > 200 ? `${said.slice(0, 199)}…` : said;
    },
  },
  {
    test: /could not resolve (?:host(?:name)?:?\s*)?([A-Za-z0-9.-]+)/i,
    reason: "CloneFailed",
    say: (m) => `could not resolve ${m[1]}`,
  },
  {
    test: /(?:repository ['"]?([^'"\s]+)['"]? (?:not found|does not exist)|does not appear to be a git repository)/i,
    reason: "CloneFailed",
    say: (m) => (m[1] ? `repository ${withoutPaths(m[1])} not found` : "the repository was not found"),
  },
  {
    test: /(permission denied \(publickey\)|authentication failed|could not read username)/i,
    reason: "CloneFailed",
    say: () => "access to the repository was denied (credentials missing or not allowed)",
  },
  {
    test: /remote branch (\S+) not found/i,
    reason: "CloneFailed",
    say: (m) => `branch ${m[1]} not found in the repository`,
  },
  { test: /merge conflict|CONFLICT \(/i, reason: "MergeConflict", say: () => "teammates' branches conflict" },
  {
    test: /(?:failed to push|push.*rejected|\[rejected\])/i,
    reason: "PushFailed",
    say: () => "the merged branch could not be pushed",
  },
  {
    test: /quality gate|requireTests|tests? failed/i,
    reason: "QualityGateFailed",
    say: () => "a quality gate failed",
  },
  {
    test: /(?:no (?:objects|inputs?) (?:under|at)|input[^\n]*(?:ENOENT|not found|missing))/i,
    reason: "InputsMissing",
    say: () => "the workspace's inputs were not found",
  },
];

/** Paths say where on one machine; a short message keeps the last segment only. */
function withoutPaths(text: string): string {
  // Not inside a URL (`https://host/owner/repo` stays as it is).
  return text.replace(/file:\/\/(?=\/)/g, "").replace(/(?<![/:\w])(?:\/[^\s/'":]+){2,}\/?/g, (path) => {
    const last = path.replace(/\/$/, "").split("/").pop() ?? path;
    return `…/${last}`;
  });
}

/** The first line that says something, without paths or Step Functions' prefixes, at most 160 chars. */
export function firstLine(text: string): string {
  const line =
    text
      .split("\n")
      .map((l) =>
        l
          // "States.TaskFailed: the runner exited with code 2." says it after the prefix.
          .replace(/^States\.\w+:\s*/, "")
          .replace(/^(?:fatal|error|ssh|remote):\s*/i, "")
          .replace(/^The runner (?:exited with code \d+|was killed by \w+):\s*/, "")
          .trim(),
      )
      .find((l) => l !== "" && !/^(?:States\.\w+|Cloning into)/.test(l)) ?? "";
  const short = withoutPaths(line);
  return short.length > 160 ? `${short.slice(0, 159)}…` : short;
}

/** The cause Step Functions passes on: text, or JSON (an ECS task, a Lambda error) whose parts are read. */
function causeText(cause: string): string {
  const trimmed = cause.trim();
  if (!trimmed.startsWith("{")) return cause;
  try {
    const value = JSON.parse(trimmed) as Record<string, unknown>;
    const parts: string[] = [];
    for (const key of ["errorMessage", "message", "StoppedReason", "stoppedReason", "error"]) {
      if (typeof value[key] === "string") parts.push(value[key] as string);
    }
    const containers = (value.Containers ?? value.containers) as Array<Record<string, unknown>> | undefined;
    for (const c of containers ?? []) {
      for (const key of ["Reason", "reason"]) if (typeof c[key] === "string") parts.push(c[key] as string);
      const code = c.ExitCode ?? c.exitCode;
      if (typeof code === "number") parts.push(`the runner exited with code ${code}`);
    }
    return parts.length > 0 ? parts.join("\n") : cause;
  } catch {
    return cause;
  }
}

/**
 * `error`/`cause` as the state machine's Catch or an execution's end report them. Reasons that are
 * already Squadron's own (`Denied`, `BudgetExceeded`...) keep their name; Step Functions' generic
 * ones (`States.*`, `ExecutionFailed`) are replaced by what the cause says.
 */
export function humanFailure(error: string | undefined, cause: string | undefined): HumanFailure {
  const text = causeText(cause ?? "");
  for (const rule of RULES) {
    const m = rule.test.exec(text);
    if (m) return { reason: rule.reason, message: rule.say(m) };
  }
  const generic = !error || /^States\./.test(error) || error === "ExecutionFailed" || error === "Error";
  const reason = generic ? "RunFailed" : error;
  const said = firstLine(text);
  return { reason, message: said || "the run failed" };
}
