import type { Command } from "commander";
import type { CliCommand } from "../command.ts";
import { type ConnectionOptions, examples, onResource } from "./shared/context.ts";

interface DecideOptions extends ConnectionOptions {
  reason?: string;
}

/** `approve` and `deny` differ only in the decision, so one file registers both. */
function register(program: Command, decision: "approve" | "deny") {
  const past = decision === "approve" ? "approved" : "denied";
  const cmd = program
    .command(decision)
    .description(
      decision === "approve"
        ? "Approve a team's approval gate (spawn-<teammate>): the teammate starts."
        : "Deny a team's approval gate: the teammate fails with reason Denied.",
    )
    .argument("<resource>", "team")
    .argument("<name>", "the team")
    .argument("<gate>", "the gate's event, e.g. spawn-backend-api (see `squadron describe team NAME`)")
    .option("--reason <text>", "why, recorded with the decision")
    .addHelpText(
      "after",
      "\nA gate that was already decided ends with status 4 (conflict).\n" +
        examples(
          `squadron ${decision} team auth-refactor spawn-backend-api`,
          `squadron ${decision} team auth-refactor spawn-test-coverage --reason "${decision === "approve" ? "reviewed the plan" : "not this sprint"}" -n reviews`,
        ),
    );
  onResource(
    cmd,
    ["team"],
    async ({ client, namespace }, name: string, gate: string, options: DecideOptions) => {
      const result = await client.decideGate(namespace, name, gate, decision, options.reason);
      const by = result.decidedBy ? ` by ${result.decidedBy}` : "";
      process.stdout.write(`team/${name} gate ${result.gate ?? gate} ${past}${by}\n`);
    },
  );
}

const command: CliCommand = {
  register(program: Command) {
    register(program, "approve");
    register(program, "deny");
  },
};

export default command;
