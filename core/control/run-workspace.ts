import { createHash } from "node:crypto";
import { chmod, chown, lstat, mkdir } from "node:fs/promises";
import { join } from "node:path";
import {
  DeleteTaskDefinitionsCommand,
  DeregisterTaskDefinitionCommand,
  DescribeTaskDefinitionCommand,
  type ECSClient,
  RegisterTaskDefinitionCommand,
  type RegisterTaskDefinitionCommandInput,
  type TaskDefinition,
} from "@aws-sdk/client-ecs";
import {
  AccessPointNotFound,
  CreateAccessPointCommand,
  DeleteAccessPointCommand,
  DescribeAccessPointsCommand,
  type EFSClient,
} from "@aws-sdk/client-efs";
import { RUNNER_CONTAINER_NAME } from "../../state-machines/contract.ts";
import type { AgentTeam } from "../manifest/types.ts";
import { RUN_TAGS } from "./run-tags.ts";
import { runnerSecrets, teamSecretArn } from "./team-secrets.ts";

/**
 * Per-run isolation in AWS: one EFS access point (own POSIX uid, own root directory) and one
 * task-definition revision that mounts it. Local mode binds {@link RunWorkspaces} to a directory.
 */
export interface RunWorkspace {
  /** "" in local mode. */
  accessPointId: string;
  posixUid: number;
  /** "" in local mode and on EKS. */
  taskDefinitionArn: string;
}

export interface RunWorkspaceRequest {
  runId: string;
  namespace: string;
  teamName: string;
  /** The team whose named secrets the runner receives (ECS: container `secrets`). */
  team?: AgentTeam;
}

export interface RunWorkspaces {
  create(run: RunWorkspaceRequest): Promise<RunWorkspace>;
  /** Deletes what `create` made; safe to call twice or with parts already gone. */
  delete(workspace: RunWorkspace): Promise<void>;
}

/**
 * A uid per run in 100000..999999, derived from the run id so a retried Prepare gets the same one.
 * Clashes between concurrent runs are possible but harmless: on ECS each access point has its own
 * root, and on EKS each pod mounts only its run's `runs/<runId>` (subPath) of the shared volume.
 */
export function posixUidFor(runId: string): number {
  const n = createHash("sha256").update(runId).digest().readUInt32BE(0);
  return 100_000 + (n % 900_000);
}

export interface EfsEcsWorkspaceOptions {
  fileSystemId: string;
  /** Family (or ARN) of the runner task definition deployed by CDK; each run gets a revision of it. */
  baseTaskDefinition: string;
  /** Name of the EFS volume in the base task definition that the runner mounts as its team dir. */
  volumeName: string;
  /** Directory under which each run's root is created, e.g. "/runs". */
  runsRoot?: string;
  /** How long Prepare waits for a new access point to become available. */
  availableTimeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /**
   * Turns a team secret's partial ARN into its full ARN (the one ECS documents for `valueFrom`),
   * failing clearly when the secret does not exist; without it the partial ARN is used.
   */
  resolveSecretArn?: (partialArn: string) => Promise<string>;
  /** The deployment's team secret prefix (core/control/team-secrets.ts); "squadron" by default. */
  teamSecretPrefix?: string;
}

type Send<C> = Pick<C, Extract<keyof C, "send">>;

export class EfsEcsRunWorkspaces implements RunWorkspaces {
  constructor(
    private readonly efs: Send<EFSClient>,
    private readonly ecs: Send<ECSClient>,
    private readonly options: EfsEcsWorkspaceOptions,
  ) {}

  async create(run: RunWorkspaceRequest): Promise<RunWorkspace> {
    const uid = posixUidFor(run.runId);
    const root = `${this.options.runsRoot ?? "/runs"}/${run.runId}`;
    const tags = [
      { Key: RUN_TAGS.runId, Value: run.runId },
      { Key: RUN_TAGS.namespace, Value: run.namespace },
      { Key: RUN_TAGS.team, Value: run.teamName },
    ];
    const ap = await this.efs.send(
      new CreateAccessPointCommand({
        // The run id as client token makes a retried Prepare return the same access point.
        ClientToken: run.runId.slice(0, 64),
        FileSystemId: this.options.fileSystemId,
        PosixUser: { Uid: uid, Gid: uid },
        RootDirectory: { Path: root, CreationInfo: { OwnerUid: uid, OwnerGid: uid, Permissions: "0750" } },
        // squadron:fileSystem is what Cleanup's DeleteAccessPoint is conditioned on (infra
        // orchestration.ts), and what Prepare's CreateAccessPoint must carry.
        Tags: [
          { Key: "Name", Value: `squadron-${run.runId}` },
          { Key: RUN_TAGS.fileSystem, Value: this.options.fileSystemId },
          ...tags,
        ],
      }),
    );
    const accessPointId = ap.AccessPointId as string;
    if (ap.LifeCycleState !== "available") await this.waitAvailable(accessPointId);

    const base = await this.ecs.send(
      new DescribeTaskDefinitionCommand({ taskDefinition: this.options.baseTaskDefinition }),
    );
    const td = base.taskDefinition;
    if (!td) throw new Error(`task definition ${this.options.baseTaskDefinition} not found`);
    const volumes = (td.volumes ?? []).filter((v) => v.name !== this.options.volumeName);
    volumes.push({
      name: this.options.volumeName,
      efsVolumeConfiguration: {
        fileSystemId: this.options.fileSystemId,
        transitEncryption: "ENABLED",
        authorizationConfig: { accessPointId, iam: "ENABLED" },
      },
    });
    const input: RegisterTaskDefinitionCommandInput = {
      family: td.family,
      taskRoleArn: td.taskRoleArn,
      executionRoleArn: td.executionRoleArn,
      networkMode: td.networkMode,
      containerDefinitions: await withTeamSecrets(td, run, this.options),
      volumes,
      placementConstraints: td.placementConstraints,
      requiresCompatibilities: td.requiresCompatibilities,
      cpu: td.cpu,
      memory: td.memory,
      runtimePlatform: td.runtimePlatform,
      ephemeralStorage: td.ephemeralStorage,
      tags: tags.map((t) => ({ key: t.Key, value: t.Value })),
    };
    const registered = await this.ecs.send(new RegisterTaskDefinitionCommand(input));
    return {
      accessPointId,
      posixUid: uid,
      taskDefinitionArn: registered.taskDefinition?.taskDefinitionArn as string,
    };
  }

  private async waitAvailable(accessPointId: string): Promise<void> {
    const sleep = this.options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    const deadline = Date.now() + (this.options.availableTimeoutMs ?? 30_000);
    while (Date.now() < deadline) {
      const out = await this.efs.send(new DescribeAccessPointsCommand({ AccessPointId: accessPointId }));
      const state = out.AccessPoints?.[0]?.LifeCycleState;
      if (state === "available") return;
      if (state === "error") throw new Error(`EFS access point ${accessPointId} failed to create`);
      await sleep(500);
    }
    throw new Error(`EFS access point ${accessPointId} did not become available in time`);
  }

  async delete(workspace: RunWorkspace): Promise<void> {
    if (workspace.taskDefinitionArn) {
      try {
        await this.ecs.send(
          new DeregisterTaskDefinitionCommand({ taskDefinition: workspace.taskDefinitionArn }),
        );
        await this.ecs.send(
          new DeleteTaskDefinitionsCommand({ taskDefinitions: [workspace.taskDefinitionArn] }),
        );
      } catch (error) {
        // Already deregistered/deleted by an earlier cleanup: nothing left to do.
        if (
          !/INACTIVE|DELETE_IN_PROGRESS|not found|Unable to describe/i.test((error as Error).message ?? "")
        ) {
          throw error;
        }
      }
    }
    if (workspace.accessPointId) {
      try {
        await this.efs.send(new DeleteAccessPointCommand({ AccessPointId: workspace.accessPointId }));
      } catch (error) {
        if (!(error instanceof AccessPointNotFound)) throw error;
      }
    }
  }
}

/**
 * The base containers with the team's secrets added to the runner's `secrets` (valueFrom: the
 * secret's ARN under the team prefix, resolved by the task execution role); a team secret
 * replaces a deployment-wide one of the same variable (e.g. ANTHROPIC_API_KEY).
 */
async function withTeamSecrets(
  td: TaskDefinition,
  run: RunWorkspaceRequest,
  options: Pick<EfsEcsWorkspaceOptions, "resolveSecretArn" | "teamSecretPrefix">,
): Promise<TaskDefinition["containerDefinitions"]> {
  const resolve = options.resolveSecretArn ?? (async (arn: string) => arn);
  const team = run.team;
  const containers = td.containerDefinitions;
  if (!team || !containers) return containers;
  const wanted = runnerSecrets(team);
  if (wanted.length === 0) return containers;
  const arnBase = td.taskDefinitionArn;
  if (!arnBase) throw new Error("the base task definition has no ARN to place team secrets in");
  if (!containers.some((c) => c.name === RUNNER_CONTAINER_NAME)) {
    throw new Error(`the base task definition has no "${RUNNER_CONTAINER_NAME}" container for team secrets`);
  }
  const added = await Promise.all(
    wanted.map(async (s) => ({
      name: s.env,
      valueFrom: await resolve(teamSecretArn(arnBase, run.namespace, s.secret, options.teamSecretPrefix)),
    })),
  );
  const replaced = new Set(added.map((s) => s.name));
  return containers.map((c) =>
    c.name === RUNNER_CONTAINER_NAME
      ? { ...c, secrets: [...(c.secrets ?? []).filter((s) => !replaced.has(s.name ?? "")), ...added] }
      : c,
  );
}

/**
 * EKS: the Jobs mount `runs/<runId>` of one shared volume (eks:runJob cannot create a volume per
 * run), so the run's directory must exist before them, owned by the run's uid with mode 0700:
 * otherwise kubelet creates it as root 0755, where the run's non-root uid cannot write and every
 * other run's uid can read. Prepare creates it through a mount of the runs' root as root.
 */
export class PosixRunDirectories implements RunWorkspaces {
  /** @param runsRoot where the runs' root (`/runs` of the file system) is mounted. */
  constructor(private readonly runsRoot: string) {}

  async create(run: Pick<RunWorkspaceRequest, "runId">): Promise<RunWorkspace> {
    const uid = posixUidFor(run.runId);
    const dir = join(this.runsRoot, run.runId);
    try {
      await mkdir(dir, { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      // A retried Prepare finds its own directory; anything else there is not one to hand over.
      const existing = await lstat(dir);
      if (!existing.isDirectory()) throw new Error(`${dir} exists and is not a directory`);
    }
    await chown(dir, uid, uid);
    // mkdir's mode is filtered by the umask; the run's directory is its uid's alone.
    await chmod(dir, 0o700);
    return { accessPointId: "", posixUid: uid, taskDefinitionArn: "" };
  }

  /** The directory stays, as on ECS: it is the run's history, read by the api's logs and files. */
  async delete(): Promise<void> {}
}

/** Local mode: the run's directory stands in for the access point. */
export class NoopRunWorkspaces implements RunWorkspaces {
  async create(run: Pick<RunWorkspaceRequest, "runId">): Promise<RunWorkspace> {
    return { accessPointId: "", posixUid: posixUidFor(run.runId), taskDefinitionArn: "" };
  }
  async delete(): Promise<void> {}
}
