import {
  awsDeadlines,
  awsRunIndex,
  awsRunJobs,
  awsStore,
  awsWebhookNotifier,
  awsWorkspaces,
} from "../../core/control/aws-deps.ts";

/**
 * What ending a run and releasing its resources needs (core/control/lifecycle.ts): the Cleanup
 * task, and the events function for an execution that ended without reaching Cleanup.
 */
export const runCleanupDependencies = {
  store: awsStore,
  runs: awsRunIndex,
  workspaces: awsWorkspaces,
  runJobs: awsRunJobs,
  deadlines: awsDeadlines,
  notifier: awsWebhookNotifier,
};
