import type { ProxyHandler } from "./http-gateway.ts";

export const REDACTED_TOKEN = "[redacted bearer token]";

/**
 * No API answer carries a bearer token of this stack. Agents run as the stack's user (docs/local.md,
 * "Trust model"): one that found a token some other way could print it into its log, a message or
 * a task, and a confined token would then read it back through the logs, messages or tasks route.
 * Every response body is scrubbed of the stack's tokens, whatever route produced it.
 */
export function redactingTokens(handler: ProxyHandler, tokens: () => readonly string[]): ProxyHandler {
  return async (event) => {
    const result = await handler(event);
    if (typeof result.body !== "string" || result.body === "") return result;
    let body = result.body;
    for (const token of tokens())
      if (token && body.includes(token)) body = body.replaceAll(token, REDACTED_TOKEN);
    return body === result.body ? result : { ...result, body };
  };
}
