import * as z from "zod";
import { fargateResourceProblems } from "../fargate-sizes.ts";
import { agentScriptSchema } from "./agent-script.ts";
import { workspaceRelativePath } from "./artifacts.ts";
import { DEFAULTS } from "./defaults.ts";
import { DELIVERY_URL_RULE } from "./delivery-url.ts";
import { formatDuration, tryParseDuration } from "./duration.ts";
import {
  absolutePath,
  budget,
  compact,
  deliveryUrl,
  dnsLabel,
  duration,
  gitBranch,
  gitUrl,
  httpUrl,
  isRelativeFilePath,
  nonBlank,
  quantity,
  s3Prefix,
  safeName,
  timeoutSeconds,
} from "./fields.ts";
import { parseOciReference } from "./oci-reference.ts";
import { renderBranchTemplate } from "./templates.ts";
import {
  AGENT_CLIS,
  type AgentSpec,
  type AgentTeam,
  type AgentTeamRun,
  type AgentTeamSchedule,
  type AgentTeamTemplate,
  type ApprovalChannel,
  DELIVERY_TYPES,
  type DeliveryTargetSpec,
  HARNESSES,
  KAGENTS_API_VERSION,
  KAGENTS_DEV_API_VERSION,
  ON_COMPLETE_ACTIONS,
  PERMISSION_MODES,
  type PermissionMode,
  type PipelineSpec,
  SQUADRON_API_VERSION,
  type WorkspaceSpec,
} from "./types.ts";
import { TEAM_WEBHOOK_EVENTS_TEXT, teamWebhookEvent } from "./webhook-events.ts";

/**
 * zod schemas for the three resource kinds. Objects are strict so unknown fields surface as
 * `unrecognized_keys`, which validate.ts turns into warnings (and drops) rather than errors.
 * Cross-field rules (names, dependencies, gates, sizes) live in validate.ts, which checks the raw
 * input so they are reported even when the shape has errors too.
 */

export { KAGENTS_DEV_API_VERSION };

const API_VERSIONS_TEXT = `"${SQUADRON_API_VERSION}" (or kagents' "${KAGENTS_DEV_API_VERSION}" or "${KAGENTS_API_VERSION}")`;

/** All three groups are first-class and kept as written: the API and CLI show what was applied. */
export const apiVersionSchema = z.enum([SQUADRON_API_VERSION, KAGENTS_API_VERSION, KAGENTS_DEV_API_VERSION], {
  error: (issue) =>
    issue.input === undefined
      ? `apiVersion is required: ${API_VERSIONS_TEXT}.`
      : `apiVersion ${JSON.stringify(issue.input)} is not supported; use ${API_VERSIONS_TEXT}.`,
});

const stringMap = z.record(z.string(), z.string());

export const metadataSchema = z
  .strictObject({
    name: dnsLabel,
    namespace: dnsLabel.optional(),
    labels: stringMap.optional(),
    annotations: stringMap.optional(),
  })
  .transform((m) => ({
    name: m.name,
    namespace: m.namespace ?? DEFAULTS.namespace,
    labels: m.labels ?? {},
    annotations: m.annotations ?? {},
  }));

/**
 * A kagents field Squadron does not act on: an error at the field saying why, never a field that
 * is accepted and then ignored (a value that asks for nothing, `only`, is accepted).
 */
function kagentsRejected(why: string, only?: (value: unknown) => boolean) {
  return z
    .unknown()
    .refine((value) => only?.(value) ?? false, { error: why })
    .optional();
}

export const repositorySchema = z
  .strictObject({
    url: gitUrl,
    branch: gitBranch.optional(),
    credentialsSecret: nonBlank("The secret name").optional(),
    worktreeStrategy: kagentsRejected(
      'worktreeStrategy "shared" is not supported: Squadron gives every teammate its own worktree and branch (kagents\' default, "per-teammate", is accepted).',
      (v) => v === "per-teammate",
    ),
  })
  .transform((r) =>
    compact({ url: r.url, branch: r.branch ?? DEFAULTS.branch, credentialsSecret: r.credentialsSecret }),
  );

const workspaceInputSchema = z
  .strictObject({
    mountPath: absolutePath,
    configMap: dnsLabel.optional(),
    s3Prefix: s3Prefix.optional(),
    files: stringMap.optional(),
    pvc: kagentsRejected(
      "An input from a PersistentVolumeClaim (pvc) is not supported: Squadron runs on ECS or EKS without your cluster's volumes; give configMap (a prefix of Squadron's bucket), s3Prefix or files.",
    ),
  })
  .transform((input, ctx) => {
    const sources = [input.configMap, input.s3Prefix, input.files].filter((s) => s !== undefined).length;
    if (sources !== 1) {
      ctx.issues.push({
        code: "custom",
        input,
        message: `An input needs exactly one source, configMap, s3Prefix or files; ${sources === 0 ? "none is" : `${sources} are`} set.`,
      });
    }
    for (const path of Object.keys(input.files ?? {})) {
      if (!isRelativeFilePath(path)) {
        ctx.issues.push({
          code: "custom",
          input: path,
          path: ["files", path],
          message: `The file name ${JSON.stringify(path)} must be a relative path without ".." segments.`,
        });
      }
    }
    return compact(input);
  });

const workspaceOutputSchema = z
  .strictObject({
    mountPath: absolutePath.optional(),
    size: quantity.optional(),
    s3Prefix: s3Prefix.optional(),
    pvc: kagentsRejected(
      "An output PersistentVolumeClaim (pvc) is not supported: a run's outputs are delivered to Squadron's bucket (output.s3Prefix chooses where).",
    ),
    storageClass: kagentsRejected(
      "output.storageClass is not supported: Squadron creates no PersistentVolumeClaim for outputs (they go to its shared file system, then its bucket).",
    ),
  })
  .transform((o) =>
    compact({
      mountPath: o.mountPath ?? DEFAULTS.outputMountPath,
      size: o.size ?? DEFAULTS.outputSize,
      s3Prefix: o.s3Prefix,
    }),
  );

export const workspaceSchema = z
  .strictObject({
    inputs: z.array(workspaceInputSchema).optional(),
    output: workspaceOutputSchema.optional(),
  })
  .transform(
    (w): WorkspaceSpec => ({
      inputs: w.inputs ?? [],
      output: w.output ?? { mountPath: DEFAULTS.outputMountPath, size: DEFAULTS.outputSize },
    }),
  );

const secretName = nonBlank("The secret name");

/** `skills[].source.oci`: registry/repository[:tag][@sha256:digest] (core/manifest/oci-reference.ts). */
const ociReference = z.string().superRefine((value, ctx) => {
  const parsed = parseOciReference(value);
  if ("problem" in parsed) ctx.addIssue({ code: "custom", message: parsed.problem, input: value });
});

/**
 * kagents v0.8 `spec.imagePullSecrets`: kubernetes.io/dockerconfigjson secrets for private skill
 * registries; like kagents, the first one is what skills are pulled with (team-secrets.ts).
 */
const imagePullSecretsSchema = z.array(z.strictObject({ name: secretName }));

export const authSchema = z
  .strictObject({
    apiKeySecret: secretName.optional(),
    oauthSecret: kagentsRejected(
      "auth.oauthSecret (a Claude subscription's OAuth token) is not supported: Squadron's agents authenticate with API keys; give auth.apiKeySecret.",
    ),
    cliSecrets: z
      .strictObject({
        claude: secretName.optional(),
        codex: secretName.optional(),
        gemini: secretName.optional(),
        aider: secretName.optional(),
      })
      .transform(compact)
      .optional(),
  })
  .transform(compact);

const scopeSchema = z
  .strictObject({
    includePaths: z.array(z.string()).optional(),
    excludePaths: z.array(z.string()).optional(),
  })
  .transform((s) => ({ includePaths: s.includePaths ?? [], excludePaths: s.excludePaths ?? [] }));

const skillSchema = z
  .strictObject({
    name: safeName,
    source: z.strictObject({
      configMap: dnsLabel.optional(),
      s3Prefix: s3Prefix.optional(),
      inline: nonBlank("The inline skill").optional(),
      /** kagents v0.8: an OCI artifact as `oras push` makes it (runner/workspace/oci-skill.ts pulls it). */
      oci: ociReference.optional(),
    }),
  })
  .transform((skill, ctx) => {
    const sources = Object.values(skill.source).filter((s) => s !== undefined).length;
    if (sources !== 1) {
      ctx.issues.push({
        code: "custom",
        input: skill.source,
        path: ["source"],
        message: `A skill needs exactly one source, configMap, s3Prefix, inline or oci; ${sources === 0 ? "none is" : `${sources} are`} set.`,
      });
    }
    return { name: skill.name, source: compact(skill.source) };
  });

const mcpServerSchema = z
  .strictObject({
    name: safeName,
    url: httpUrl,
    transport: z.enum(["http", "sse"]).optional(),
    authSecret: secretName.optional(),
    authHeader: nonBlank("The header name").optional(),
    /** kagents' name for the secret holding the server's credentials. */
    credentialsSecret: secretName.optional(),
  })
  .transform((server, ctx) => {
    if (server.authSecret && server.credentialsSecret && server.authSecret !== server.credentialsSecret) {
      ctx.issues.push({
        code: "custom",
        input: server.credentialsSecret,
        path: ["credentialsSecret"],
        message: "credentialsSecret (kagents) and authSecret name different secrets; give only authSecret.",
      });
    }
    return compact({
      name: server.name,
      url: server.url,
      transport: server.transport ?? DEFAULTS.mcpTransport,
      authSecret: server.authSecret ?? server.credentialsSecret,
      authHeader: server.authHeader ?? DEFAULTS.mcpAuthHeader,
    });
  });

const cpuMemory = z.strictObject({ cpu: quantity.optional(), memory: quantity.optional() });

/** Squadron's `{cpu, memory}` or kagents' Kubernetes `{requests, limits}` (limits win). */
const resourcesSchema = z
  .strictObject({
    cpu: quantity.optional(),
    memory: quantity.optional(),
    requests: cpuMemory.optional(),
    limits: cpuMemory.optional(),
    claims: kagentsRejected(
      "resources.claims (Kubernetes dynamic resource allocation) is not supported: give cpu and memory (requests, limits).",
    ),
  })
  .superRefine((r, ctx) => {
    // On ECS each agent runs as one Fargate task; a request beyond Fargate's largest task (or not
    // a quantity at all) is refused here, with the field's path, instead of by RunTask mid-run.
    // Anything smaller maps to the cheapest valid Fargate size at or above it (core/fargate-sizes.ts).
    const at: Array<[string[], { cpu?: string; memory?: string } | undefined]> = [
      [[], r],
      [["requests"], r.requests],
      [["limits"], r.limits],
    ];
    for (const [path, values] of at) {
      const problems = fargateResourceProblems(values);
      for (const field of ["cpu", "memory"] as const) {
        const message = problems[field];
        if (message)
          ctx.addIssue({ code: "custom", path: [...path, field], message, input: values?.[field] });
      }
    }
  })
  .transform((r) =>
    compact({
      cpu: r.cpu ?? r.limits?.cpu ?? r.requests?.cpu,
      memory: r.memory ?? r.limits?.memory ?? r.requests?.memory,
    }),
  );

/** kagents' permission modes mapped onto Claude Code's. */
const KAGENTS_PERMISSION_MODES: Record<string, PermissionMode> = {
  "auto-accept": "acceptEdits",
  default: "manual",
};

const permissionModeSchema = z
  .enum([...PERMISSION_MODES, ...(Object.keys(KAGENTS_PERMISSION_MODES) as ["auto-accept", "default"])])
  .transform((mode): PermissionMode => KAGENTS_PERMISSION_MODES[mode] ?? (mode as PermissionMode));

const modelSchema = z.string().refine((value) => /^[A-Za-z0-9][A-Za-z0-9._:/@-]*$/.test(value), {
  error: (issue) =>
    `The model ${JSON.stringify(issue.input)} is not a model name; use opus, sonnet, haiku or a full model id.`,
});

const scriptSchema = agentScriptSchema;

const agentFields = {
  model: modelSchema.optional(),
  prompt: nonBlank("The prompt"),
  cli: z.enum(AGENT_CLIS).optional(),
  permissionMode: permissionModeSchema.optional(),
  scope: scopeSchema.optional(),
  skills: z.array(skillSchema).optional(),
  mcpServers: z.array(mcpServerSchema).optional(),
  resources: resourcesSchema.optional(),
  script: scriptSchema.optional(),
  maxTurns: z.number().int().positive().max(100_000).optional(),
};

type AgentFieldsOutput = z.output<ReturnType<typeof z.object<typeof agentFields>>>;

/** A container path under /workspace (or relative to it) naming something below the workspace root. */
function workspacePath(what: string) {
  return z.string().refine((value) => (workspaceRelativePath(value) ?? "") !== "", {
    error: (issue) =>
      `${what} ${JSON.stringify(issue.input)} must be a path under /workspace (e.g. /workspace/output/findings.md) or relative to it, without ".." segments.`,
  });
}

/** kagents v0.8 `teammates[].outputs[]`: a file the teammate must produce (rules.ts checks names). */
const artifactOutputSchema = z
  .strictObject({ path: workspacePath("The output path"), description: z.string().optional() })
  .transform(compact);

/** kagents v0.8 `teammates[].inputs[]`: an upstream output staged read-only at `mountPath/artifact`. */
const artifactInputSchema = z
  .strictObject({
    from: dnsLabel,
    artifact: z.string().refine((value) => /^[^/\\\0]+$/.test(value) && value !== "." && value !== "..", {
      error: (issue) =>
        `The artifact ${JSON.stringify(issue.input)} must be the basename of one of the producer's output paths (e.g. "findings.md" for /workspace/output/findings.md).`,
    }),
    mountPath: workspacePath("The mount path"),
  })
  .transform(compact);

function roleSchema<R extends AgentSpec["role"]>(role: R) {
  return z
    .literal(role, {
      error: `The role is fixed by position: "lead" under spec.lead, "teammate" under spec.teammates (this one is "${role}").`,
    })
    .optional();
}

function normalizeAgent<R extends AgentSpec["role"]>(
  role: R,
  a: {
    name?: string | undefined;
    dependsOn?: string[] | undefined;
    outputs?: AgentSpec["outputs"] | undefined;
    inputs?: AgentSpec["inputs"] | undefined;
  } & AgentFieldsOutput,
) {
  return compact({
    name: a.name ?? DEFAULTS.leadName,
    role,
    model: a.model ?? (role === "lead" ? DEFAULTS.leadModel : DEFAULTS.teammateModel),
    prompt: a.prompt,
    cli: a.cli ?? DEFAULTS.cli,
    permissionMode: a.permissionMode ?? DEFAULTS.permissionMode,
    scope: a.scope,
    dependsOn: a.dependsOn ?? [],
    skills: a.skills ?? [],
    mcpServers: a.mcpServers ?? [],
    resources: a.resources,
    script: a.script,
    maxTurns: a.maxTurns,
    outputs: a.outputs,
    inputs: a.inputs,
  });
}

export const leadSchema = z
  .strictObject({
    ...agentFields,
    name: dnsLabel.optional(),
    role: roleSchema("lead"),
    dependsOn: z
      .array(z.string())
      .max(0, {
        error: "The lead cannot depend on other agents: it starts first and coordinates the teammates.",
      })
      .optional(),
  })
  .transform((a) => normalizeAgent("lead", a));

export const teammateSchema = z
  .strictObject({
    ...agentFields,
    name: dnsLabel,
    role: roleSchema("teammate"),
    dependsOn: z.array(z.string()).optional(),
    outputs: z.array(artifactOutputSchema).optional(),
    inputs: z.array(artifactInputSchema).optional(),
  })
  .transform((a) => normalizeAgent("teammate", a));

/** A template's lead: hints merged under the run's lead, so nothing is defaulted here. */
export const partialLeadSchema = z
  .strictObject({ ...agentFields, prompt: agentFields.prompt.optional(), name: dnsLabel.optional() })
  .transform((a): Partial<AgentSpec> => compact({ ...a, role: "lead" as const }));

const approvalGateSchema = z
  .strictObject({
    event: z.string(),
    channel: z.enum(["webhook", "slack", "api", "none"]).optional(),
    webhookUrl: httpUrl.optional(),
    slackChannel: nonBlank("The Slack channel").optional(),
    approvers: z.array(z.string()).optional(),
  })
  .transform((gate, ctx) => {
    // kagents' "none" means: no notification, approve by hand, which is Squadron's API channel.
    const channel: ApprovalChannel =
      gate.channel === "none" ? "api" : (gate.channel ?? (gate.webhookUrl ? "webhook" : "api"));
    if (channel === "webhook" && !gate.webhookUrl) {
      ctx.issues.push({
        code: "custom",
        input: gate,
        path: ["webhookUrl"],
        message: 'An approval gate on channel "webhook" needs a webhookUrl.',
      });
    }
    return compact({
      event: gate.event,
      channel,
      webhookUrl: gate.webhookUrl,
      slackChannel: gate.slackChannel,
      approvers: gate.approvers ?? [],
    });
  });

/**
 * kagents' consolidatedBranchTemplate: the branch Finalize pushes, with {{.TeamName}},
 * {{.Namespace}} (and Squadron's {{team}}, {{namespace}}, {{runId}}); checked by rendering it.
 */
const branchTemplate = z.string().superRefine((template, ctx) => {
  const rendered = renderBranchTemplate(template, {
    team: "team",
    namespace: "default",
    runId: "team-0a1b2c3d",
  });
  if (!gitBranch.safeParse(rendered).success || /\{\{/.test(rendered)) {
    ctx.addIssue({
      code: "custom",
      message: `The branch template ${JSON.stringify(template)} does not make a valid branch name (rendered: ${JSON.stringify(rendered)}); use {{.TeamName}}, {{.Namespace}} or {{runId}}, e.g. "teams/{{.TeamName}}".`,
    });
  }
});

const pullRequestSchema = z
  .strictObject({
    targetBranch: gitBranch.optional(),
    titleTemplate: z.string().optional(),
    bodyTemplate: z.string().optional(),
    reviewers: z.array(z.string()).optional(),
    labels: z.array(z.string()).optional(),
    draft: z.boolean().optional(),
  })
  .transform((pr) =>
    compact({ ...pr, reviewers: pr.reviewers ?? [], labels: pr.labels ?? [], draft: pr.draft ?? false }),
  );

const DELIVERY_TYPES_TEXT = DELIVERY_TYPES.map((t) => `"${t}"`).join(" and ");

/** kagents' fields of its email and google-drive targets, and artifactPath, which no sender reads. */
const FOREIGN_DELIVERY_FIELDS = ["to", "subject", "attachmentPath", "folder", "artifactPath"] as const;

/**
 * One kagents v0.8 delivery target. Only webhook and slack are sent; email and google-drive are
 * refused here rather than accepted and failed at the end of a run (kagents itself accepts them and
 * records "not implemented" in status). Per-type rules are in the transform, so a target reports
 * each missing or misplaced field at its own path.
 */
const deliveryTargetSchema = z
  .strictObject({
    type: z.enum(DELIVERY_TYPES, {
      error: (issue) =>
        issue.input === undefined
          ? `A delivery target needs a type: ${DELIVERY_TYPES_TEXT} are supported.`
          : `Delivery type ${JSON.stringify(issue.input)} is not supported by Squadron; the supported types are ${DELIVERY_TYPES_TEXT}.`,
    }),
    url: deliveryUrl.optional(),
    message: z.string().max(4000).optional(),
    channel: nonBlank("The Slack channel").optional(),
    credentialsSecret: secretName.optional(),
    ...Object.fromEntries(FOREIGN_DELIVERY_FIELDS.map((f) => [f, z.unknown().optional()])),
  })
  .transform((t, ctx): DeliveryTargetSpec => {
    const problem = (field: string, message: string) =>
      ctx.issues.push({ code: "custom", input: t, path: [field], message });
    for (const field of FOREIGN_DELIVERY_FIELDS) {
      if ((t as Record<string, unknown>)[field] === undefined) continue;
      problem(
        field,
        field === "artifactPath"
          ? "artifactPath is not supported: every delivery lists all the run's artifacts (name, size, where)."
          : `${field} belongs to kagents' email and google-drive targets, which Squadron does not send; the supported types are ${DELIVERY_TYPES_TEXT}.`,
      );
    }
    if (t.type === "webhook") {
      if (!t.url) problem("url", `A webhook delivery target needs a url: ${DELIVERY_URL_RULE}.`);
      if (t.channel !== undefined) problem("channel", "channel applies to slack delivery targets only.");
      return compact({
        type: "webhook" as const,
        url: t.url as string,
        message: t.message,
        credentialsSecret: t.credentialsSecret,
      });
    }
    if (!t.credentialsSecret) {
      problem(
        "credentialsSecret",
        'A slack delivery target needs credentialsSecret: the secret whose key "slack-webhook-url" holds the incoming-webhook URL.',
      );
    }
    if (t.url !== undefined) {
      problem(
        "url",
        'A slack target takes its URL from credentialsSecret (key "slack-webhook-url"), so the URL never appears in a manifest.',
      );
    }
    return compact({
      type: "slack" as const,
      credentialsSecret: t.credentialsSecret as string,
      channel: t.channel,
      message: t.message,
    });
  });

export const lifecycleSchema = z
  .strictObject({
    timeout: duration.optional(),
    timeoutSeconds: timeoutSeconds.optional(),
    budgetLimit: budget.optional(),
    onComplete: z
      .enum(ON_COMPLETE_ACTIONS, {
        error: (issue) =>
          `Must be one of ${ON_COMPLETE_ACTIONS.map((a) => `"${a}"`).join(", ")} (found ${JSON.stringify(issue.input)}).`,
      })
      .optional(),
    delivery: z.array(deliveryTargetSchema).max(10).optional(),
    pullRequest: pullRequestSchema.optional(),
    approvalGates: z.array(approvalGateSchema).optional(),
    maxRestarts: z.number().int().min(0).max(100).optional(),
    // kagents: overrides pullRequest.titleTemplate; {{.TeamName}} and {{.Namespace}} are known.
    prTitleTemplate: z.string().min(1).max(256).optional(),
    consolidatedBranchTemplate: branchTemplate.optional(),
    githubTokenSecret: kagentsRejected(
      "lifecycle.githubTokenSecret is not supported: pull requests are opened with the deployment's GitHub token (Secrets Manager <prefix>/github-token; locally GITHUB_TOKEN), or the team's repository.credentialsSecret.",
    ),
    gitCredentialsSecret: kagentsRejected(
      "lifecycle.gitCredentialsSecret is not supported: the consolidated branch is pushed with repository.credentialsSecret (or the deployment's GitHub token); name the secret there.",
    ),
  })
  .transform((l, ctx) => {
    if (l.onComplete === "deliver" && !l.delivery?.length) {
      ctx.issues.push({
        code: "custom",
        input: l.delivery,
        path: ["delivery"],
        message: `onComplete "deliver" needs lifecycle.delivery with at least one target (type ${DELIVERY_TYPES_TEXT}).`,
      });
    } else if (l.delivery !== undefined && l.onComplete !== "deliver") {
      ctx.issues.push({
        code: "custom",
        input: l.delivery,
        path: ["delivery"],
        message: `lifecycle.delivery is sent only with onComplete "deliver" (found ${JSON.stringify(l.onComplete ?? DEFAULTS.onComplete)}); set onComplete: deliver or remove delivery.`,
      });
    }
    let timeout = l.timeout;
    let timeoutSeconds = timeout === undefined ? undefined : tryParseDuration(timeout);
    if (timeoutSeconds === undefined) {
      timeoutSeconds = l.timeoutSeconds ?? (tryParseDuration(DEFAULTS.timeout) as number);
      timeout = l.timeoutSeconds === undefined ? DEFAULTS.timeout : formatDuration(l.timeoutSeconds);
    } else if (l.timeoutSeconds !== undefined && l.timeoutSeconds !== timeoutSeconds) {
      ctx.issues.push({
        code: "custom",
        input: l.timeoutSeconds,
        path: ["timeoutSeconds"],
        message: `timeoutSeconds ${l.timeoutSeconds} disagrees with timeout "${timeout}" (${timeoutSeconds} seconds); give only one of them.`,
      });
    }
    return compact({
      timeout: timeout as string,
      timeoutSeconds,
      budgetLimit: l.budgetLimit,
      onComplete: l.onComplete ?? DEFAULTS.onComplete,
      delivery: l.delivery,
      pullRequest: l.prTitleTemplate
        ? { ...(l.pullRequest ?? pullRequestSchema.parse({})), titleTemplate: l.prTitleTemplate }
        : l.pullRequest,
      consolidatedBranchTemplate: l.consolidatedBranchTemplate,
      approvalGates: l.approvalGates ?? [],
      maxRestarts: l.maxRestarts ?? DEFAULTS.maxRestarts,
    });
  });

/** kagents' coordination backends: only its default, the shared file system, exists in Squadron. */
function sharedVolumeOnly(field: string, what: string) {
  return z
    .string()
    .refine((value) => value === "shared-volume", {
      error: (issue) =>
        `${field} ${JSON.stringify(issue.input)} is not supported: the team's ${what} live on its shared file system ("shared-volume", kagents' default), the only backend Squadron has.`,
    })
    .transform(() => "shared-volume" as const)
    .optional();
}

export const coordinationSchema = z
  .strictObject({
    taskAssignment: z.enum(["lead-assigns", "self-claim"]).optional(),
    peerMessaging: z.boolean().optional(),
    mailboxBackend: sharedVolumeOnly("mailboxBackend", "mailboxes"),
    taskBackend: sharedVolumeOnly("taskBackend", "task list"),
    beads: kagentsRejected(
      "coordination.beads (Beads tracking on a Dolt server) is not supported: the team's tasks and mailboxes live on its shared file system.",
      (v) => typeof v === "object" && v !== null && (v as { enabled?: unknown }).enabled === false,
    ),
  })
  .transform((c) =>
    compact({
      taskAssignment: c.taskAssignment ?? DEFAULTS.coordination.taskAssignment,
      peerMessaging: c.peerMessaging ?? DEFAULTS.coordination.peerMessaging,
      mailboxBackend: c.mailboxBackend,
      taskBackend: c.taskBackend,
    }),
  );

export const qualityGatesSchema = z
  .strictObject({
    requireTests: z.boolean().optional(),
    requireLint: z.boolean().optional(),
    validationScript: z.string().optional(),
    testCommand: nonBlank("The test command").optional(),
    lintCommand: nonBlank("The lint command").optional(),
  })
  .transform((q) =>
    compact({ ...q, requireTests: q.requireTests ?? false, requireLint: q.requireLint ?? false }),
  );

export const observabilitySchema = z
  .strictObject({
    webhook: z
      .strictObject({
        url: httpUrl,
        secretRef: secretName.optional(),
        events: z
          .array(
            z.string().refine((name) => teamWebhookEvent(name) !== undefined, {
              error: (issue) =>
                `${JSON.stringify(issue.input)} is not an event Squadron sends to observability.webhook; the events are ${TEAM_WEBHOOK_EVENTS_TEXT}. Run starts and agent failures are events of the run (squadron describe team).`,
            }),
          )
          .min(1, { error: "events lists at least one event; leave it out to receive every event." })
          .optional(),
      })
      .transform(compact)
      .optional(),
    metrics: kagentsRejected(
      "observability.metrics (a Prometheus endpoint) is not supported: Squadron publishes its metrics to CloudWatch (docs/architecture.md); remove it or set enabled: false.",
      (v) => typeof v === "object" && v !== null && (v as { enabled?: unknown }).enabled === false,
    ),
    logLevel: kagentsRejected(
      "observability.logLevel other than \"info\" is not supported: Squadron logs at info (its runners' and functions' logs are in CloudWatch, locally in squadron logs).",
      (v) => v === "info",
    ),
  })
  .transform(({ metrics: _metrics, logLevel: _logLevel, ...o }) => compact(o));

const stageSchema = z
  .strictObject({
    name: dnsLabel,
    teammates: z.array(z.string()).min(1, { error: "A stage needs at least one teammate." }),
    dependsOn: z.array(z.string()).optional(),
    fan: z.enum(["parallel", "merge"]).optional(),
    approvalRequired: z.boolean().optional(),
  })
  .transform((stage) => ({
    name: stage.name,
    teammates: stage.teammates,
    dependsOn: stage.dependsOn ?? [],
    fan: stage.fan ?? DEFAULTS.stageFan,
    approvalRequired: stage.approvalRequired ?? false,
  }));

/** kagents v0.8's stages; names, membership, cycles and exclusivity are checked in rules.ts. */
export const pipelineSchema = z
  .strictObject({
    stages: z.array(stageSchema).min(1, { error: "A pipeline needs at least one stage." }),
  })
  .transform((p): PipelineSpec => ({ stages: p.stages }));

const harnessSchema = z.enum(HARNESSES, {
  error: (issue) =>
    `The harness ${JSON.stringify(issue.input)} is not supported; kagents (and Squadron) know only "claude-code", which runs every agent with cli: claude.`,
});

const defaultLifecycle = () => lifecycleSchema.parse({});
const defaultCoordination = () => coordinationSchema.parse({});

export const teamSpecSchema = z
  .strictObject({
    mode: z.enum(["coding", "cowork"]).optional(),
    harness: harnessSchema.optional(),
    repository: repositorySchema.optional(),
    workspace: workspaceSchema.optional(),
    auth: authSchema.optional(),
    imagePullSecrets: imagePullSecretsSchema.optional(),
    lead: leadSchema,
    teammates: z.array(teammateSchema).optional(),
    pipeline: pipelineSchema.optional(),
    coordination: coordinationSchema.optional(),
    lifecycle: lifecycleSchema.optional(),
    qualityGates: qualityGatesSchema.optional(),
    observability: observabilitySchema.optional(),
  })
  .transform((s) =>
    compact({
      // Both or neither of repository/workspace is reported by validate.ts; the mode is moot then.
      mode: s.repository ? ("coding" as const) : ("cowork" as const),
      harness: s.harness,
      pipeline: s.pipeline,
      repository: s.repository,
      workspace: s.workspace,
      auth: s.auth ?? {},
      imagePullSecrets: s.imagePullSecrets,
      lead: s.lead,
      teammates: s.teammates ?? [],
      coordination: s.coordination ?? defaultCoordination(),
      lifecycle: s.lifecycle ?? defaultLifecycle(),
      qualityGates: s.qualityGates,
      observability: s.observability ?? {},
    }),
  );

export const templateSpecSchema = z
  .strictObject({
    description: z.string().optional(),
    teammates: z.array(teammateSchema).min(1, { error: "A template needs at least one teammate." }),
    pipeline: pipelineSchema.optional(),
    coordination: coordinationSchema.optional(),
    qualityGates: qualityGatesSchema.optional(),
    lifecycle: lifecycleSchema.optional(),
    lead: partialLeadSchema.optional(),
    imagePullSecrets: kagentsRejected(
      "imagePullSecrets are credentials, which a run brings (like auth): set them on the AgentTeamRun, AgentTeamSchedule or AgentTeamTrigger that uses this template, or on an AgentTeam.",
    ),
  })
  .transform((s) =>
    compact({
      description: s.description,
      teammates: s.teammates,
      pipeline: s.pipeline,
      coordination: s.coordination ?? defaultCoordination(),
      qualityGates: s.qualityGates,
      lifecycle: s.lifecycle ?? defaultLifecycle(),
      lead: s.lead,
    }),
  );

/**
 * What every kind that creates runs of a template carries (AgentTeamRun, AgentTeamSchedule,
 * AgentTeamTrigger): the template and the run's own fields.
 */
export const RUN_FIELDS = {
  templateRef: z.strictObject({ name: dnsLabel }),
  repository: repositorySchema.optional(),
  workspace: workspaceSchema.optional(),
  auth: authSchema.optional(),
  imagePullSecrets: imagePullSecretsSchema.optional(),
  lead: leadSchema,
  lifecycle: lifecycleSchema.optional(),
  observability: observabilitySchema.optional(),
};

export const runSpecSchema = z.strictObject(RUN_FIELDS).transform((s) =>
  compact({
    templateRef: { name: s.templateRef.name },
    repository: s.repository,
    workspace: s.workspace,
    auth: s.auth ?? {},
    imagePullSecrets: s.imagePullSecrets,
    lead: s.lead,
    lifecycle: s.lifecycle,
    observability: s.observability ?? {},
  }),
);

/**
 * kagents v0.8's AgentTeamSchedule: a run's fields plus the cron. The cron, time zone and name
 * length are checked in rules.ts (with core/schedules/cron.ts); `timezone` is read as `timeZone`.
 */
export const scheduleSpecSchema = z
  .strictObject({
    schedule: z.string({ error: 'The schedule is a five-field cron expression such as "0 6 * * MON".' }),
    timeZone: z.string().optional(),
    timezone: z.string().optional(),
    ...RUN_FIELDS,
    historyLimit: z
      .number()
      .int({ error: "historyLimit is a whole number of runs." })
      .min(0, { error: "historyLimit cannot be negative (0 keeps every run)." })
      .max(100, { error: "historyLimit is at most 100." })
      .optional(),
    suspend: z.boolean().optional(),
  })
  .transform((s): AgentTeamSchedule["spec"] =>
    compact({
      schedule: s.schedule.trim().split(/\s+/).join(" "),
      timeZone: s.timeZone ?? s.timezone ?? "UTC",
      templateRef: { name: s.templateRef.name },
      repository: s.repository,
      workspace: s.workspace,
      auth: s.auth ?? {},
      imagePullSecrets: s.imagePullSecrets,
      lead: s.lead,
      lifecycle: s.lifecycle,
      observability: s.observability ?? {},
      historyLimit: s.historyLimit ?? DEFAULTS.scheduleHistoryLimit,
      suspend: s.suspend ?? false,
    }),
  );

function resourceSchema<K extends string, S extends z.ZodType>(kind: K, spec: S) {
  return z.strictObject({
    apiVersion: apiVersionSchema,
    kind: z.literal(kind),
    metadata: metadataSchema,
    spec,
  });
}

export const agentTeamSchema = resourceSchema("AgentTeam", teamSpecSchema);
export const agentTeamTemplateSchema = resourceSchema("AgentTeamTemplate", templateSpecSchema);
export const agentTeamRunSchema = resourceSchema("AgentTeamRun", runSpecSchema);
export const agentTeamScheduleSchema = resourceSchema("AgentTeamSchedule", scheduleSpecSchema);

export const SCHEMA_BY_KIND = {
  AgentTeam: agentTeamSchema,
  AgentTeamTemplate: agentTeamTemplateSchema,
  AgentTeamRun: agentTeamRunSchema,
  AgentTeamSchedule: agentTeamScheduleSchema,
} as const;

export type ResourceKind = keyof typeof SCHEMA_BY_KIND;

// Compile-time contract: what the schemas produce must be exactly usable as the types in types.ts.
type Assert<T extends true> = T;
export type SchemaMatchesTypes = [
  Assert<z.output<typeof agentTeamSchema> extends AgentTeam ? true : false>,
  Assert<z.output<typeof agentTeamTemplateSchema> extends AgentTeamTemplate ? true : false>,
  Assert<z.output<typeof agentTeamRunSchema> extends AgentTeamRun ? true : false>,
  Assert<z.output<typeof agentTeamScheduleSchema> extends AgentTeamSchedule ? true : false>,
];
