import type { Command } from "commander";
import type { CliCommand } from "../command.ts";
import { scheduleApi } from "../schedules/client.ts";
import { type ConnectionOptions, examples, onResource } from "./shared/context.ts";

/** `suspend schedule NAME` and `resume schedule NAME` (kubectl's CronJob `spec.suspend`). */
const command: CliCommand = {
  register(program: Command) {
    for (const verb of ["suspend", "resume"] as const) {
      const cmd = program
        .command(verb)
        .description(
          verb === "suspend"
            ? "Stop a schedule from firing (its runs and history are kept)."
            : "Let a suspended schedule fire again, from its next fire time on (missed fires are not run).",
        )
        .argument("<resource>", "schedule")
        .argument("<name>", "the schedule's name")
        .addHelpText("after", examples(`squadron ${verb} schedule weekly-standup-summary -n cowork-agents`));
      onResource(
        cmd,
        ["schedule"],
        async ({ client, namespace }, name: string, _options: ConnectionOptions) => {
          const view = await scheduleApi.suspend(client, namespace, name, verb === "suspend");
          process.stdout.write(
            verb === "suspend"
              ? `schedule/${name} suspended\n`
              : `schedule/${name} resumed (next fire ${view.nextScheduledAt ?? "<none>"})\n`,
          );
        },
      );
    }
  },
};

export default command;
