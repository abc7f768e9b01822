/**
 * Child process of local/definition.ts: synthesises the CDK app offline and prints the team-run
 * definition as JSON on stdout. Run apart from the stack because the synth keeps what it loaded:
 * aws-cdk-lib and the app's constructs held 400 MiB more in the stack's process, for as long as
 * the stack ran, after the first start that synthesised.
 */
import { extractTeamRunDefinition } from "../state-machines/synth.ts";

process.stdout.write(JSON.stringify(extractTeamRunDefinition({ compute: "ecs" })));
