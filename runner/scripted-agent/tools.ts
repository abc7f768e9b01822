import { readFile } from "node:fs/promises";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

/** Expands `${VAR}` and `${VAR:-default}` the way Claude Code does in MCP configs. */
export function expandEnv(value: string, env: NodeJS.ProcessEnv): string {
  return value.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g,
    (whole, name: string, def?: string) => {
      const v = env[name];
      if (v !== undefined && v !== "") return v;
      return def ?? whole;
    },
  );
}

interface StdioEntry {
  type?: string;
  command?: string;
  args?: string[];
  env?: Record<string, string>;
}

export interface ToolCallOutcome {
  text: string;
  isError: boolean;
  /** The text parsed as JSON, when it is JSON. */
  json: unknown;
}

/** The stdio MCP servers of `--mcp-config`, connected with the official SDK client. */
export class McpTools {
  private readonly clients = new Map<string, Client>();
  /** Tool name → servers offering it, in config order. */
  private readonly byTool = new Map<string, string[]>();

  static async connect(configPaths: string[], env: NodeJS.ProcessEnv): Promise<McpTools> {
    const tools = new McpTools();
    for (const path of configPaths) {
      const raw = path.trim().startsWith("{") ? path : await readFile(path, "utf8");
      const config = JSON.parse(raw) as { mcpServers?: Record<string, StdioEntry> };
      for (const [name, entry] of Object.entries(config.mcpServers ?? {})) {
        // The scripted agent speaks only to local servers; remote ones are Claude's business.
        if ((entry.type ?? "stdio") !== "stdio" || !entry.command) continue;
        await tools.add(name, entry, env);
      }
    }
    return tools;
  }

  private async add(name: string, entry: StdioEntry, env: NodeJS.ProcessEnv): Promise<void> {
    const serverEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) if (v !== undefined) serverEnv[k] = v;
    for (const [k, v] of Object.entries(entry.env ?? {})) serverEnv[k] = expandEnv(v, env);
    const client = new Client({ name: "squadron-scripted-agent", version: "1.0.0" });
    const transport = new StdioClientTransport({
      command: expandEnv(entry.command as string, env),
      args: (entry.args ?? []).map((a) => expandEnv(a, env)),
      env: serverEnv,
      stderr: "inherit",
    });
    try {
      await client.connect(transport);
    } catch (err) {
      throw new Error(`Could not start MCP server "${name}" (${entry.command}): ${(err as Error).message}`);
    }
    this.clients.set(name, client);
    const { tools } = await client.listTools();
    for (const tool of tools) this.byTool.set(tool.name, [...(this.byTool.get(tool.name) ?? []), name]);
  }

  serverNames(): string[] {
    return [...this.clients.keys()];
  }

  /** Tool names as Claude shows them: `mcp__<server>__<tool>`. */
  qualifiedNames(): string[] {
    const out: string[] = [];
    for (const [tool, servers] of this.byTool) for (const s of servers) out.push(`mcp__${s}__${tool}`);
    return out;
  }

  /** Finds a tool by bare name (the team server wins a tie) or by `mcp__server__tool`. */
  resolve(name: string): { server: string; tool: string } {
    const m = /^mcp__(.+?)__(.+)$/.exec(name);
    if (m?.[1] && m[2]) {
      if (!this.clients.has(m[1])) throw new Error(`No MCP server "${m[1]}" in --mcp-config.`);
      return { server: m[1], tool: m[2] };
    }
    const servers = this.byTool.get(name);
    if (!servers?.length) {
      throw new Error(
        `No connected MCP server offers a tool named "${name}" (servers: ${this.serverNames().join(", ") || "none"}).`,
      );
    }
    return { server: servers.includes("team") ? "team" : (servers[0] as string), tool: name };
  }

  async call(
    name: string,
    args: Record<string, unknown>,
  ): Promise<ToolCallOutcome & { server: string; tool: string }> {
    const { server, tool } = this.resolve(name);
    const client = this.clients.get(server) as Client;
    const res = await client.callTool({ name: tool, arguments: args });
    const content = (res.content ?? []) as Array<{ type: string; text?: string }>;
    const text = content
      .filter((c) => c.type === "text")
      .map((c) => c.text ?? "")
      .join("\n");
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { server, tool, text, isError: res.isError === true, json };
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.clients.values()].map((c) => c.close()));
  }
}
