import { randomBytes } from "node:crypto";
import type { Command } from "commander";
import { SQUADRON_API_VERSION } from "../../core/manifest/types.ts";
import { EXIT } from "../client/index.ts";
import { type CliCommand, CliError } from "../command.ts";
import {
  action,
  addConnectionOptions,
  type ConnectionOptions,
  contextFor,
  examples,
  usageExitCodes,
} from "./shared/context.ts";
import { reportIssues } from "./shared/manifests.ts";

interface RunOptions extends ConnectionOptions {
  repo: string;
  branch?: string;
  prompt: string;
  name?: string;
  model?: string;
}

const command: CliCommand = {
  register(program: Command) {
    const run = program
      .command("run")
      .description("Start a team from a template on a repository (creates an AgentTeamRun).")
      .argument("<template>", "the AgentTeamTemplate to instantiate")
      .requiredOption("--repo <url>", "git repository the team works on")
      .option("--branch <branch>", "branch to start from (default main)")
      .requiredOption("--prompt <text>", "what the lead should get done")
      .option("--name <name>", "the team's name (default: TEMPLATE-xxxxx)")
      .option("--model <model>", "the lead's model (opus, sonnet, haiku or a model id)")
      .addHelpText(
        "after",
        "\nThe run is validated locally before it is sent; follow it with `squadron get teams NAME -w`.\n" +
          examples(
            'squadron run fullstack-review --repo https://github.com/acme/platform.git --prompt "Review the 4.0 release"',
            'squadron run fullstack-review --repo git@github.com:acme/platform.git --branch release/4.0 --prompt "Review" --name q4-review -n reviews',
          ),
      );
    addConnectionOptions(run);
    usageExitCodes(run).action(
      action(async (template: string, options: RunOptions) => {
        const { client, namespace } = await contextFor(options);
        const name = options.name ?? generatedName(template);
        const manifest = {
          apiVersion: SQUADRON_API_VERSION,
          kind: "AgentTeamRun",
          metadata: { name, namespace },
          spec: {
            templateRef: { name: template },
            repository: { url: options.repo, ...(options.branch ? { branch: options.branch } : {}) },
            lead: { prompt: options.prompt, ...(options.model ? { model: options.model } : {}) },
          },
        };
        const { parseManifests } = await import("../../core/manifest/index.ts");
        const { issues } = parseManifests(JSON.stringify(manifest));
        const errors = reportIssues(issues.map((issue) => ({ ...issue, source: "run" })));
        if (errors > 0)
          throw new CliError(
            `the run is invalid (${errors} ${errors === 1 ? "problem" : "problems"}); nothing sent`,
            EXIT.error,
          );
        const team = await client.createRun(namespace, template, manifest);
        process.stdout.write(`team/${team.name ?? name} created from template/${template}\n`);
      }),
    );
  },
};

export default command;

/** Like Kubernetes' generateName: the template's name and five random characters, within 63. */
function generatedName(template: string): string {
  const suffix = randomBytes(4).toString("hex").slice(0, 5);
  return `${template.slice(0, 57).replace(/-+$/, "")}-${suffix}`;
}
