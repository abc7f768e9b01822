import { describe, expect, it } from "vitest";
import { agentMcpConfig } from "../../../runner/workspace/mcp-config.ts";

describe("agent MCP config", () => {
  it("references auth secrets through environment variables, never their values", () => {
    const { config, secretEnv } = agentMcpConfig([
      {
        name: "jira",
        url: "https://mcp.example.com/jira",
        transport: "http",
        authSecret: "prod/jira-token",
        authHeader: "Authorization",
      },
      {
        name: "docs-search",
        url: "https://docs.example.com/sse",
        transport: "sse",
        authHeader: "Authorization",
      },
    ]);
    expect(config).toEqual({
      mcpServers: {
        jira: {
          type: "http",
          url: "https://mcp.example.com/jira",
          headers: { Authorization: `\${SQUADRON_MCP_JIRA_AUTH}` },
        },
        "docs-search": { type: "sse", url: "https://docs.example.com/sse" },
      },
    });
    expect(secretEnv).toEqual({ SQUADRON_MCP_JIRA_AUTH: "prod/jira-token" });
  });
});
