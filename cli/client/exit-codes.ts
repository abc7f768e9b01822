/**
 * Exit statuses of every `squadron` command, so scripts can branch on them. Documented in
 * docs/cli.md and `squadron --help`.
 */
export const EXIT = {
  ok: 0,
  /** The API refused the request (400, 405, 422, 5xx) or a manifest is invalid. */
  error: 1,
  /** Bad command line: unknown option, missing argument, bad value. */
  usage: 2,
  /** 404: no such team, template, gate route or namespace. */
  notFound: 3,
  /** 409: the name exists, the gate was already decided, the team already finished. */
  conflict: 4,
  /** No answer from the endpoint: connection refused, DNS failure, timeout, no endpoint configured. */
  unreachable: 5,
  /** 401/403: no or wrong credentials, or not allowed in this namespace. */
  denied: 6,
  /** Ctrl-C during `-w`/`-f`. */
  interrupted: 130,
} as const;

export const EXIT_CODES_HELP = `
Exit status:
  0    success (a watch ended because every team shown finished)
  1    the API refused the request or a manifest is invalid (every problem is printed)
  2    usage error (unknown option, missing argument, bad value)
  3    not found (team, template, route)
  4    conflict (name taken, gate already decided, team already finished)
  5    cannot reach the endpoint (refused, DNS, timeout, none configured)
  6    not authenticated or not allowed (401/403)
  130  interrupted (Ctrl-C during -w or -f)`;

export function exitCodeForStatus(status: number): number {
  if (status === 404) return EXIT.notFound;
  if (status === 409) return EXIT.conflict;
  if (status === 401 || status === 403) return EXIT.denied;
  return EXIT.error;
}
