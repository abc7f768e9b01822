/**
 * The environment a local runner process starts with. A container in AWS gets the variables its
 * task definition names and nothing of the operator's shell; locally the runner is a child of the
 * stack, so without care it would inherit everything the person who ran `npm start` had exported:
 * cloud credentials, tokens of other services, the CLI config's path. Only what a runner or an
 * agent CLI needs is passed on (an allow-list), and the stack then adds its own few variables.
 */

/** Exact names passed on when the stack's environment has them. */
const PASSED: ReadonlySet<string> = new Set([
  // What any process expects to find.
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "SHELL",
  "TERM",
  "TZ",
  "LANG",
  "LANGUAGE",
  // Network and certificates (a CLI behind a proxy, a corporate CA).
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
  "http_proxy",
  "https_proxy",
  "no_proxy",
  "NODE_EXTRA_CA_CERTS",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
  // The agent CLIs' own keys and endpoints (runner/adapters; docs/local.md, simulated agents).
  "ANTHROPIC_API_KEY",
  "ANTHROPIC_BASE_URL",
  "CLAUDE_CODE_OAUTH_TOKEN",
  "OPENAI_API_KEY",
  "OPENAI_BASE_URL",
  "CODEX_API_KEY",
  "GEMINI_API_KEY",
  "GOOGLE_API_KEY",
  "GOOGLE_GEMINI_BASE_URL",
  // Git repositories the runner clones and pushes (workspace/init.ts, finalize.ts).
  "GITHUB_TOKEN",
  "GH_TOKEN",
  // ssh remotes (git@host:repo): the agent of your ssh keys, and how git runs ssh.
  "SSH_AUTH_SOCK",
  "GIT_SSH",
  "GIT_SSH_COMMAND",
]);

/** Prefixes passed on: locale settings, and Squadron's own runner settings and declared secrets. */
const PASSED_PREFIXES = ["LC_", "SQUADRON_"];

/**
 * Squadron variables that belong to the stack or the CLI, never to a runner: the CLI config
 * (which holds a bearer token) and the local stack's own options.
 */
const WITHHELD: ReadonlySet<string> = new Set(["SQUADRON_CONFIG", "SQUADRON_ENDPOINT", "SQUADRON_TOKEN"]);

/** The variables of `env` a runner process may inherit. */
export function inheritedRunnerEnv(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || WITHHELD.has(name)) continue;
    if (PASSED.has(name) || PASSED_PREFIXES.some((p) => name.startsWith(p))) out[name] = value;
  }
  return out;
}
