import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import { EXIT } from "../client/index.ts";
import { type CliCommand, CliError } from "../command.ts";
import { startWebProxy } from "../web-proxy.ts";
import {
  action,
  addConnectionOptions,
  type ConnectionOptions,
  contextFor,
  examples,
  interruptSignal,
  usageExitCodes,
} from "./shared/context.ts";

interface WebOptions extends Omit<ConnectionOptions, "namespace"> {
  port: number;
  host: string;
}

function port(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0 || number > 65535)
    throw new InvalidArgumentError(`"${value}" is not a port (0 to 65535; 0 picks a free one).`);
  return number;
}

/** `squadron web`: the web view for any endpoint, its API calls signed by the CLI. */
const command: CliCommand = {
  register(program: Command) {
    const web = program
      .command("web")
      .description(
        "Serve the web view on this machine for the configured API (a deployed one included): its API calls are relayed with the CLI's auth, SigV4 or a token.",
      )
      .option("--port <port>", "port to listen on (0 picks a free one)", port, 8788)
      .option("--host <address>", "address to listen on; keep it a loopback address", "127.0.0.1")
      .addHelpText(
        "after",
        "\nOpen the printed address: it carries a session token that only this process accepts.\n" +
          examples(
            "squadron web --endpoint https://abc123.execute-api.eu-west-1.amazonaws.com/v1/",
            "AWS_PROFILE=prod squadron web --port 9000",
          ),
      );
    addConnectionOptions(web, { namespace: false });
    usageExitCodes(web).action(
      action(async (options: WebOptions) => {
        const { client } = await contextFor(options);
        let proxy: Awaited<ReturnType<typeof startWebProxy>>;
        try {
          proxy = await startWebProxy({ client, host: options.host, port: options.port });
        } catch (problem) {
          throw new CliError(
            `cannot listen on ${options.host}:${options.port}: ${(problem as Error).message}`,
            EXIT.usage,
          );
        }
        const { endpoint, auth } = client.connection;
        const how =
          auth.kind === "sigv4"
            ? `SigV4 (${auth.region})`
            : auth.kind === "token"
              ? "bearer token"
              : "no auth";
        process.stdout.write(`Web view for ${endpoint.href} (${how}) at\n  ${proxy.url}\nCtrl-C to stop.\n`);
        const interrupt = interruptSignal();
        await new Promise<void>((resolve) =>
          interrupt.signal.addEventListener("abort", () => resolve(), { once: true }),
        );
        interrupt.dispose();
        await proxy.close();
      }),
    );
  },
};

export default command;
