/**
 * The start watch of a runner pod on EKS. `eks:runJob.sync` returns only when the Job finishes,
 * and a pod that never starts does not finish: an image that cannot be pulled (ErrImagePull,
 * ImagePullBackOff), a pod no node can take (Unschedulable), a volume that cannot be mounted
 * (FailedMount, ContainerCreating for ever) or a pod the namespace's admission refuses
 * (FailedCreate) would hold the run until the Job's activeDeadlineSeconds, the whole run
 * timeout. ECS needs no such watch: a task that cannot pull or place its container stops, and
 * `ecs:runTask.sync` fails at once with the stop reason.
 *
 * Beside each runJob.sync Task the state machine polls this check (state-machines/launchers.ts):
 * it answers `done` as soon as the pod has started (its Job's result is then runJob's), keeps
 * watching while it may still start, and fails the launch with Kubernetes' own reason when it
 * will not, deleting the Job so nothing starts later.
 */
import { boundedText } from "./bounded-text.ts";
import type { ControlLogger } from "./deps.ts";
import {
  type KubernetesEvent,
  type KubernetesPod,
  RUN_LABEL,
  type RunnerWorkloads,
  runLabelValue,
} from "./run-jobs.ts";

/** Labels that tell one launch's Job and pod apart (the run label is RUN_LABEL). */
export const MODE_LABEL = "squadron.dev/mode";
export const AGENT_LABEL = "squadron.dev/agent";
export const ATTEMPT_LABEL = "squadron.dev/attempt";

export interface RunnerStartCheckPayload {
  action: "checkStart";
  runId: string;
  mode: "init" | "agent" | "finalize";
  /** Agent mode only. */
  agentName?: string;
  /** Agent mode only: 0 for the first launch, n for the n-th restart. */
  attempt?: number;
  /** When the launch began (the watch's `$$.State.EnteredTime`). */
  since: string;
  /** How long a pod may take to be scheduled and start (nodes scaling up included). */
  startTimeoutSeconds: number;
}

export interface RunnerStartCheckResult {
  /** Stop watching: the pod started (or the watch cannot tell; runJob.sync still decides). */
  done: boolean;
}

/** The launch's pod will not start; the Step Functions error of the launch. */
export class RunnerNotStartedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RunnerNotStarted";
  }
}

/**
 * Reasons a container waits that retrying cannot fix: fail the launch at the first sight.
 * Kubelet's names (pkg/kubelet/images: ErrInvalidImageName, ErrImageNeverPull).
 */
const HOPELESS_WAITS = new Set(["InvalidImageName", "ErrImageNeverPull"]);
/**
 * Reasons that kubelet retries with back-off but that are usually a mistake (a wrong image or
 * registry access, a missing ConfigMap, a bad command): given a few back-off rounds.
 */
const FAILING_WAITS = new Set([
  "ErrImagePull",
  "ImagePullBackOff",
  "CreateContainerConfigError",
  "CreateContainerError",
  "RunContainerError",
]);
/** How long a failing wait may last before the launch fails: kubelet's image back-off reaches 80 s by the 4th try. */
export const FAILING_WAIT_GRACE_SECONDS = 180;

export async function checkRunnerStart(
  workloads: RunnerWorkloads,
  payload: RunnerStartCheckPayload,
  logger: Pick<ControlLogger, "warn">,
  now: Date = new Date(),
): Promise<RunnerStartCheckResult> {
  const selector = launchSelector(payload);
  const waited = Math.max(0, (now.getTime() - Date.parse(payload.since)) / 1000);
  const timedOut = waited >= payload.startTimeoutSeconds;
  try {
    const pods = await workloads.listPods(selector);
    const pod = newest(pods);
    if (pod) {
      const verdict = await podVerdict(workloads, pod, now, timedOut);
      if (verdict === "started") return { done: true };
      if (verdict === "waiting") return { done: false };
      await workloads.deleteJobs(selector);
      throw new RunnerNotStartedError(boundedText(`${verdict} (pod ${pod.metadata.name})`));
    }
    if (!timedOut) return { done: false };
    // No pod at all: the Job controller could not create one (admission, quota), or no Job.
    const job = newest(await workloads.listJobs(selector));
    const why = job
      ? (lastWarning(await workloads.warningEvents("Job", job.metadata.name)) ??
        `the Job ${job.metadata.name} created no pod`)
      : "no Job was found for this launch";
    await workloads.deleteJobs(selector);
    throw new RunnerNotStartedError(boundedText(`NoPod: ${why} within ${minutes(waited)}`));
  } catch (error) {
    if (error instanceof RunnerNotStartedError) throw error;
    // The watch is an early warning, never a second judge: when it cannot read the cluster
    // (a missing access entry, the API server away) the launch goes on under runJob.sync.
    if (timedOut) {
      logger.warn("Stopped watching the runner pod's start: the Kubernetes API did not answer", {
        selector,
        error: String(error),
      });
      return { done: true };
    }
    logger.warn("Could not read the runner pod's start; trying again", { selector, error: String(error) });
    return { done: false };
  }
}

/** `started`, `waiting`, or the reason the pod will not start. */
async function podVerdict(
  workloads: RunnerWorkloads,
  pod: KubernetesPod,
  now: Date,
  timedOut: boolean,
): Promise<"started" | "waiting" | string> {
  const phase = pod.status?.phase ?? "Pending";
  // Running, Succeeded or Failed: the containers ran; runJob.sync reports how they ended.
  if (phase !== "Pending" && phase !== "Unknown") return "started";
  const waiting = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]
    .map((c) => c.state?.waiting)
    .find((w) => w?.reason && w.reason !== "ContainerCreating" && w.reason !== "PodInitializing");
  const age = (now.getTime() - (Date.parse(pod.metadata.creationTimestamp ?? "") || now.getTime())) / 1000;
  if (waiting?.reason) {
    const reason = `${waiting.reason}: ${firstLine(waiting.message ?? "")}`;
    if (HOPELESS_WAITS.has(waiting.reason)) return reason;
    if (FAILING_WAITS.has(waiting.reason) && age >= FAILING_WAIT_GRACE_SECONDS)
      return `${reason} for ${minutes(age)}`;
  }
  if (!timedOut) return "waiting";
  if (waiting?.reason) return `${waiting.reason}: ${firstLine(waiting.message ?? "")} for ${minutes(age)}`;
  const unscheduled = pod.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False");
  if (unscheduled) {
    return `${unscheduled.reason ?? "Unschedulable"}: ${firstLine(unscheduled.message ?? "no node can take the pod")} for ${minutes(age)}`;
  }
  // Scheduled but not running: the events say why (FailedMount, FailedAttachVolume, …).
  const warning = lastWarning(await workloads.warningEvents("Pod", pod.metadata.name));
  return `${warning ?? "ContainerCreating: the pod was scheduled but its containers did not start"} for ${minutes(age)}`;
}

export function launchSelector(p: Pick<RunnerStartCheckPayload, "runId" | "mode" | "agentName" | "attempt">) {
  const labels = [`${RUN_LABEL}=${runLabelValue(p.runId)}`, `${MODE_LABEL}=${p.mode}`];
  if (p.mode === "agent") {
    labels.push(`${AGENT_LABEL}=${p.agentName ?? ""}`, `${ATTEMPT_LABEL}=${p.attempt ?? 0}`);
  }
  return labels.join(",");
}

function newest<T extends { metadata: { creationTimestamp?: string } }>(items: T[]): T | undefined {
  const at = (x: T) => Date.parse(x.metadata.creationTimestamp ?? "") || 0;
  return [...items].sort((a, b) => at(b) - at(a))[0];
}

function lastWarning(events: KubernetesEvent[]): string | undefined {
  const e = events.at(-1);
  return e ? `${e.reason ?? "Warning"}: ${firstLine(e.message ?? "")}` : undefined;
}

function firstLine(text: string): string {
  return text.split("\n")[0]?.trim() ?? "";
}

function minutes(seconds: number): string {
  return seconds < 90 ? `${Math.round(seconds)} s` : `${Math.round(seconds / 60)} min`;
}
