/**
 * The AgentTeamTrigger kind (kagents v0.8): a signed webhook that creates an AgentTeamRun of a
 * template per verified request. The run fields (repository|workspace, auth, lead, lifecycle,
 * observability) are the AgentTeamRun's own schemas, so a trigger accepts exactly what a run does;
 * rules.ts applies the run's cross-field rules to it as well. Field meanings: kagents'
 * api/v1alpha1/trigger_types.go (AgentTeamTriggerSpec).
 */
import { z } from "zod";
import { compact, dnsLabel, nonBlank } from "./fields.ts";
import { apiVersionSchema, metadataSchema, RUN_FIELDS } from "./schema.ts";
import { type AgentTeamTrigger, CONCURRENCY_POLICIES } from "./types.ts";

/** kagents' own pattern for `trigger.webhook.path` (kubebuilder validation). */
const KAGENTS_PATH = /^\/[A-Za-z0-9._/-]+$/;
export const MAX_TRIGGER_PATH_LENGTH = 200;

const webhookPath = z.string().superRefine((value, ctx) => {
  const segments = value.split("/").slice(1);
  if (
    !KAGENTS_PATH.test(value) ||
    value.length > MAX_TRIGGER_PATH_LENGTH ||
    segments.some((s) => s === "" || s === "." || s === "..")
  ) {
    ctx.addIssue({
      code: "custom",
      input: value,
      message: `The webhook path ${JSON.stringify(value)} must start with "/", hold only letters, digits and ._-/ (kagents' pattern), have no empty, "." or ".." segments and be at most ${MAX_TRIGGER_PATH_LENGTH} characters, e.g. "/hooks/new-deal".`,
    });
  }
});

// `secret` is required, but checked in rules.ts on the raw manifest so that its absence is
// reported beside every other problem (a transform here would not run when the path is invalid).
const webhookSchema = z
  .strictObject({ path: webhookPath, secret: nonBlank("The secret name").optional() })
  .transform((w) => ({ path: w.path, secret: w.secret ?? "" }));

/** A file under the run's workspace, e.g. `/workspace/data/trigger-payload.json` (kagents' sample). */
const payloadMountPath = z
  .string()
  .refine(
    (value) =>
      value.startsWith("/workspace/") &&
      !value.endsWith("/") &&
      value.length > "/workspace/".length &&
      !value.split("/").some((segment) => segment === ".." || segment === "."),
    {
      error: (issue) =>
        `The payload mountPath ${JSON.stringify(issue.input)} must be a file path under /workspace/ without "." or ".." segments, e.g. "/workspace/data/trigger-payload.json" (agents see the run's workspace there).`,
    },
  );

export const triggerSpecSchema = z
  .strictObject({
    trigger: z.strictObject({ webhook: webhookSchema }),
    ...RUN_FIELDS,
    payloadInjection: z.strictObject({ mountPath: payloadMountPath }).optional(),
    concurrencyPolicy: z
      .enum(CONCURRENCY_POLICIES, {
        error: (issue) =>
          `The concurrencyPolicy ${JSON.stringify(issue.input)} is not one of Allow, Forbid, Replace.`,
      })
      .optional(),
  })
  .transform((s) =>
    compact({
      trigger: { webhook: { path: s.trigger.webhook.path, secret: s.trigger.webhook.secret } },
      templateRef: { name: s.templateRef.name },
      repository: s.repository,
      workspace: s.workspace,
      auth: s.auth ?? {},
      imagePullSecrets: s.imagePullSecrets,
      lead: s.lead,
      lifecycle: s.lifecycle,
      observability: s.observability ?? {},
      payloadInjection: s.payloadInjection,
      concurrencyPolicy: s.concurrencyPolicy ?? ("Allow" as const),
    }),
  );

export const agentTeamTriggerSchema = z.strictObject({
  apiVersion: apiVersionSchema,
  kind: z.literal("AgentTeamTrigger"),
  metadata: metadataSchema,
  spec: triggerSpecSchema,
});

type Assert<T extends true> = T;
export type TriggerSchemaMatchesType = Assert<
  z.output<typeof agentTeamTriggerSchema> extends AgentTeamTrigger ? true : false
>;
