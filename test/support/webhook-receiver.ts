import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedWebhook {
  /** The X-Squadron-Signature header, as sent. */
  signature: string | undefined;
  body: string;
}

/**
 * A webhook receiver on 127.0.0.1 that records each POST's body and signature. `answer` decides
 * each reply (default 204, no body), so a test can make deliveries fail and be retried.
 */
export async function startWebhookReceiver(
  answer: () => { status: number; body?: string } = () => ({ status: 204 }),
) {
  const received: ReceivedWebhook[] = [];
  const server = createServer(async (req, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    received.push({ signature: req.headers["x-squadron-signature"] as string | undefined, body });
    const reply = answer();
    res.statusCode = reply.status;
    res.end(reply.body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
