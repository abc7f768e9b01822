import type { AgentCli } from "../../core/manifest/types.ts";
import { defaultPriceFn } from "./prices.ts";
import type { AgentAdapter, Invocation, OutputParser, PriceFn, TurnInput } from "./types.ts";

/** What every CLI's adapter can be given. */
export interface CliAdapterOptions {
  /** Path of the CLI's executable (or the scripted agent's shim). Defaults to the CLI's name on PATH. */
  executable?: string;
  /** Prices a turn whose CLI did not report its cost (Squadron's price table by default). */
  priceFn?: PriceFn;
}

/**
 * An adapter from its CLI's two halves: how a turn is launched (given the executable) and how its
 * output is read (given the price function), with the options' defaults applied.
 */
export function cliAdapter(
  cli: AgentCli,
  options: CliAdapterOptions,
  parts: {
    build: (input: TurnInput, executable: string) => Invocation;
    parse: (input: TurnInput, priceFn: PriceFn) => OutputParser;
  },
): AgentAdapter {
  const priceFn = options.priceFn ?? defaultPriceFn;
  return {
    cli,
    buildInvocation: (input) => parts.build(input, options.executable ?? cli),
    createParser: (input) => parts.parse(input, priceFn),
  };
}
