import type { AgentCli } from "../../core/manifest/types.ts";
import { aiderAdapter } from "./aider.ts";
import { claudeAdapter } from "./claude.ts";
import { codexAdapter } from "./codex.ts";
import { geminiAdapter } from "./gemini.ts";
import { SCRIPTED_AGENT_SHIM } from "./scripted.ts";
import type { AgentAdapter, PriceFn } from "./types.ts";

export { aiderAdapter } from "./aider.ts";
export { claudeAdapter } from "./claude.ts";
export { codexAdapter } from "./codex.ts";
export { geminiAdapter } from "./gemini.ts";
export { buildMcpConfig, secretEnvName, TEAM_SERVER_NAME, writeMcpConfig } from "./mcp-config.ts";
export type { RunTurnOptions } from "./run-turn.ts";
export { runTurn } from "./run-turn.ts";
export { SCRIPTED_AGENT_SHIM } from "./scripted.ts";
export type * from "./types.ts";

export interface AdapterOptions {
  priceFn?: PriceFn;
  /** Overrides the executable (e.g. a pinned path in the container image). */
  executable?: string;
  /**
   * A private directory that outlives the turn and the runner, for CLIs that keep their sessions
   * under their own home (Gemini: `GEMINI_CLI_HOME`), so a relaunched runner can resume them.
   */
  stateDir?: string;
}

/** The adapter for an agent's `cli`. `scripted` is the Claude adapter driving the scripted agent. */
export function adapterFor(cli: AgentCli, options: AdapterOptions = {}): AgentAdapter {
  switch (cli) {
    case "claude":
      return claudeAdapter(options);
    case "scripted":
      return {
        ...claudeAdapter({ ...options, executable: options.executable ?? SCRIPTED_AGENT_SHIM }),
        cli: "scripted",
      };
    case "codex":
      return codexAdapter(options);
    case "gemini":
      return geminiAdapter({ ...options, ...(options.stateDir ? { home: options.stateDir } : {}) });
    case "aider":
      return aiderAdapter(options);
  }
}
