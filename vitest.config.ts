import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    // Off unless SQUADRON_AWS_CALL_LOG is set (scripts/record-aws-calls.ts).
    setupFiles: ["test/support/aws-call-recorder-setup.ts"],
    reporters: ["default", "./test/support/summary-reporter.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Two cores: more workers only contend with DynamoDB Local and the agent processes tests spawn.
    maxWorkers: 2,
  },
});
