export { anthropicMessages } from "./anthropic.ts";
export { geminiApi } from "./gemini.ts";
export type { Exchange, ModelApiStub, ModelApiStubOptions, ProtocolModule } from "./server.ts";
export { sse, startModelApiStub } from "./server.ts";
export { bareTeamToolName, DEFAULT_USAGE, playTeam, readRole, type TeamPlayOptions } from "./team-play.ts";
export type * from "./types.ts";
