/** The HTTP client of the `squadron` CLI for the REST API of docs/api.md. */
export { type ClientOptions, SquadronClient } from "./api-client.ts";
export {
  AUTH_MODES,
  type Auth,
  type AuthMode,
  type Connection,
  ConnectionError,
  type ConnectionFlags,
  regionFromHost,
  resolveConnection,
} from "./connection.ts";
export { ApiError, type ApiIssue, UnreachableError } from "./errors.ts";
export { EXIT, EXIT_CODES_HELP, exitCodeForStatus } from "./exit-codes.ts";
export { type SignableRequest, type SigningOptions, signRequest } from "./sigv4.ts";
export type * from "./types.ts";
