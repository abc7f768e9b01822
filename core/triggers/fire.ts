/**
 * One request to a trigger's webhook route (`POST /hooks/<namespace><path>`), in the order that
 * keeps unauthenticated callers from doing anything but being recorded:
 * size bound → signature (constant time) → JSON → replay window → concurrency policy → run.
 * Every request that reaches a trigger, accepted or refused, is an event on that trigger.
 * docs/api.md ("Webhook triggers") explains the rules and docs/architecture.md the threat model.
 */
import { randomBytes } from "node:crypto";
import type { ControlDeps } from "../control/deps.ts";
import { HttpError, type HttpResponse, json } from "../control/http.ts";
import { BeingCreatedError, cancelTeamRun } from "../control/team-runs.ts";
import type { AgentTeamTrigger, TriggerPayload } from "../manifest/types.ts";
import { isTerminalTeamPhase } from "../status/phases.ts";
import { normalEvent, warningEvent } from "../status/status.ts";
import { NotFoundError } from "../store/errors.ts";
import { hmacKeyOf, sha256Hex, verifyHubSignature } from "./signature.ts";
import {
  TriggerChangedError,
  type TriggerRecord,
  type TriggerRef,
  type TriggerStore,
} from "./trigger-store.ts";

/**
 * The largest body accepted. The payload travels inside the run's stored manifest, which holds at
 * most 256 KiB with the team (one DynamoDB item, 400 KB): half of it is left for the team.
 */
export const MAX_TRIGGER_PAYLOAD_BYTES = 128 * 1024;
/**
 * How long a delivery (its body's hash, and X-GitHub-Delivery when sent) is remembered. GitHub
 * lets a delivery be redelivered for 3 days and keeps its X-GitHub-Delivery on redelivery
 * (https://docs.github.com/en/webhooks/testing-and-troubleshooting-webhooks/redelivering-webhooks),
 * so a week covers every redelivery and a captured request replayed within it.
 */
export const DELIVERY_WINDOW_SECONDS = 7 * 86_400;
/** The label every run a trigger creates carries (`get teams -l squadron.dev/trigger=NAME`). */
export const TRIGGER_LABEL = "squadron.dev/trigger";

export interface TriggerFireDeps extends Pick<ControlDeps, "store" | "stopper" | "logger"> {
  triggers: TriggerStore;
  /** A team secret's value by namespace and name (Secrets Manager in AWS, the environment locally). */
  triggerSecret: (namespace: string, name: string) => Promise<string | undefined>;
}

export interface FireRequest {
  namespace: string;
  path: string;
  /** The body's bytes as received: what the sender signed. */
  body: Buffer;
  /** Lower-cased header names. */
  headers: Record<string, string>;
}

/** Creates the run through the API's AgentTeamRun apply path (lambdas/api). */
export type CreateTriggeredRun = (
  run: Record<string, unknown>,
  payload: TriggerPayload | undefined,
) => Promise<HttpResponse>;

export async function fireTrigger(
  deps: TriggerFireDeps,
  request: FireRequest,
  createRun: CreateTriggeredRun,
): Promise<HttpResponse> {
  const { namespace, path, body, headers } = request;
  const record = await deps.triggers.findByPath(namespace, path);
  if (!record) throw new HttpError(404, `no trigger has the webhook path ${path} in namespace ${namespace}`);
  const ref: TriggerRef = { namespace, name: record.name };
  const spec = record.trigger.spec;
  const delivery = deliveryId(headers);
  const from = `${delivery ? `delivery ${delivery}, ` : ""}${body.length} bytes`;
  const refuse = async (status: number, reason: string, message: string, answer: string) => {
    await deps.triggers.appendEvent(ref, warningEvent(reason, `${message} (${from})`));
    throw new HttpError(status, answer);
  };

  if (body.length > MAX_TRIGGER_PAYLOAD_BYTES) {
    await refuse(
      413,
      "PayloadTooLarge",
      `Refused a request of more than ${MAX_TRIGGER_PAYLOAD_BYTES} bytes.`,
      `the payload is larger than ${MAX_TRIGGER_PAYLOAD_BYTES / 1024} KiB`,
    );
  }
  let key: string;
  try {
    key = hmacKeyOf(
      await deps.triggerSecret(namespace, spec.trigger.webhook.secret),
      spec.trigger.webhook.secret,
    );
  } catch (error) {
    // The sender cannot fix this: a 503 (not a 401) says so, and the event says what is wrong.
    return refuse(
      503,
      "SecretUnavailable",
      `Could not read the HMAC key: ${(error as Error).message}.`,
      "the trigger cannot verify signatures right now; its events say why",
    );
  }
  const verdict = verifyHubSignature(body, headers["x-hub-signature-256"], key);
  if (!verdict.ok) {
    const why = {
      missing: "no X-Hub-Signature-256 header",
      malformed: 'an X-Hub-Signature-256 header not of the form "sha256=<64 hex digits>"',
      mismatch: "an X-Hub-Signature-256 that does not match the body",
    }[verdict.reason];
    await refuse(
      401,
      "SignatureRejected",
      `Refused a request with ${why}.`,
      "invalid or missing X-Hub-Signature-256",
    );
  }
  const text = body.toString("utf8");
  try {
    JSON.parse(text);
  } catch (error) {
    await refuse(
      400,
      "PayloadRejected",
      `Refused a signed request whose body is not JSON: ${(error as Error).message}.`,
      "the body must be JSON",
    );
  }

  const sha256 = sha256Hex(body);
  const keys = [`body#${sha256}`, ...(delivery ? [`id#${delivery}`] : [])];
  const { duplicateOf } = await deps.triggers.claimDeliveries(ref, keys, DELIVERY_WINDOW_SECONDS);
  if (duplicateOf !== undefined) {
    await deps.triggers.appendEvent(
      ref,
      normalEvent(
        "DuplicateDelivery",
        `Ignored a delivery seen in the last ${DELIVERY_WINDOW_SECONDS / 86_400} days${duplicateOf ? ` (it created run ${duplicateOf})` : ""}: no run created (${from}).`,
      ),
    );
    return json(200, { trigger: record.name, duplicate: true, ...(duplicateOf ? { run: duplicateOf } : {}) });
  }

  try {
    return await startRun(deps, record, { sha256, from, text }, createRun);
  } catch (error) {
    // A refused fire may be sent again (GitHub's "Redeliver"): it was not a delivery.
    await deps.triggers.releaseDeliveries(ref, keys);
    throw error;
  }

  async function startRun(
    deps: TriggerFireDeps,
    record: TriggerRecord,
    fire: { sha256: string; from: string; text: string },
    createRun: CreateTriggeredRun,
  ): Promise<HttpResponse> {
    const policy = spec.concurrencyPolicy;
    const active = await activeRun(deps, record);
    if (active && policy === "Forbid") {
      await refuse(
        409,
        "ConcurrencyForbidden",
        `Refused: run ${active} of this trigger is still active and the concurrencyPolicy is Forbid.`,
        `run ${active} of trigger ${record.name} is still active (concurrencyPolicy: Forbid)`,
      );
    }
    if (active && policy === "Replace") {
      try {
        await cancelTeamRun(
          deps,
          { namespace: record.namespace, name: active },
          `trigger ${record.name} (Replace)`,
        );
      } catch (error) {
        if (!(error instanceof BeingCreatedError)) throw error;
        await refuse(
          409,
          "ConcurrencyReplaceDeferred",
          `Refused: run ${active} is still being created and cannot be replaced yet.`,
          `run ${active} of trigger ${record.name} is still being created; send the request again`,
        );
      }
      await deps.triggers.appendEvent(
        ref,
        normalEvent("Replaced", `Stopped run ${active} to start a new one (concurrencyPolicy: Replace).`),
      );
    }

    const runName = newRunName(record.name);
    let claimed: TriggerRecord;
    try {
      claimed = await deps.triggers.claimRunSlot(record, runName);
    } catch (error) {
      if (!(error instanceof TriggerChangedError)) throw error;
      return refuse(409, "ConcurrentFire", `Refused: ${error.message}`, error.message);
    }
    const payload: TriggerPayload | undefined = spec.payloadInjection
      ? {
          trigger: record.name,
          mountPath: spec.payloadInjection.mountPath,
          content: fire.text,
          sha256: fire.sha256,
        }
      : undefined;
    let response: HttpResponse;
    try {
      response = await createRun(runDocument(record, runName), payload);
    } catch (error) {
      await deps.triggers.releaseRunSlot(claimed, record);
      const message = error instanceof Error ? error.message : String(error);
      await deps.triggers.appendEvent(
        ref,
        warningEvent("RunNotCreated", `Could not create run ${runName}: ${message} (${fire.from}).`),
      );
      throw error;
    }
    await deps.triggers.recordDeliveryRun(ref, keys, runName);
    await deps.triggers.appendEvent(
      ref,
      normalEvent(
        "Fired",
        `Created run ${runName} (${fire.from}, sha256 ${fire.sha256.slice(0, 12)}…${payload ? `, payload at ${payload.mountPath}` : ""}).`,
      ),
    );
    const view = (response.body ?? {}) as Record<string, unknown>;
    return json(202, {
      trigger: record.name,
      namespace: record.namespace,
      run: runName,
      runId: view.runId,
      phase: view.phase,
      concurrencyPolicy: policy,
    });
  }
}

/** The run of this trigger that has not finished, if any (the last fire's run). */
async function activeRun(deps: TriggerFireDeps, record: TriggerRecord): Promise<string | undefined> {
  if (!record.activeRun) return undefined;
  try {
    const run = await deps.store.getRun({ namespace: record.namespace, name: record.activeRun });
    return isTerminalTeamPhase(run.status.phase) ? undefined : record.activeRun;
  } catch (error) {
    if (error instanceof NotFoundError) return undefined; // deleted since
    throw error;
  }
}

/** X-GitHub-Delivery (a GUID), kept only when it is a plausible id. */
function deliveryId(headers: Record<string, string>): string | undefined {
  const value = headers["x-github-delivery"];
  return value !== undefined && /^[A-Za-z0-9-]{1,128}$/.test(value) ? value : undefined;
}

/** `<trigger>-<10 hex>`: a DNS label (at most 63 characters), new for every fire. */
export function newRunName(trigger: string): string {
  const prefix = trigger.slice(0, 52).replace(/-+$/, "");
  return `${prefix}-${randomBytes(5).toString("hex")}`;
}

/**
 * The AgentTeamRun a fire applies: the trigger's run fields as written, its apiVersion, and the
 * trigger label. Validated and merged with the template by the same code as any applied run.
 */
export function runDocument(record: TriggerRecord, runName: string): Record<string, unknown> {
  const manifest = record.manifest;
  const {
    trigger: _t,
    payloadInjection: _p,
    concurrencyPolicy: _c,
    ...spec
  } = (manifest.spec ?? {}) as Record<string, unknown>;
  return {
    apiVersion: record.trigger.apiVersion,
    kind: "AgentTeamRun",
    metadata: { name: runName, namespace: record.namespace, labels: { [TRIGGER_LABEL]: record.name } },
    spec,
  };
}

export type { AgentTeamTrigger };
