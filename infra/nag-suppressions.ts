/**
 * cdk-nag AwsSolutions suppressions, each on a specific resource with the reason it is
 * acceptable. Filled in from the findings of test/infra/nag.test.ts.
 */
import type { SquadronConfig } from "./config.ts";
import type { SquadronStack } from "./stack.ts";

export function applyNagSuppressions(_stack: SquadronStack, _config: SquadronConfig): void {}
