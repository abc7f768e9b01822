import { fileURLToPath } from "node:url";

/** Executable that runs the scripted agent with Claude Code's command line and stream-json. */
export const SCRIPTED_AGENT_SHIM = fileURLToPath(new URL("../scripted-agent/claude-shim", import.meta.url));
