import { describe, expect, it } from "vitest";
import {
  atExpression,
  EventBridgeDeadlineScheduler,
  scheduleNameFor,
} from "../../core/control/deadline-scheduler.ts";
import { EfsEcsRunWorkspaces, posixUidFor } from "../../core/control/run-workspace.ts";
import { recorder } from "./harness.ts";

describe("per-run EFS access point and task definition", () => {
  it("creates the access point with the run's uid and root, registers a revision that mounts it, and deletes both", async () => {
    const efs = recorder({
      CreateAccessPoint: (i) => ({
        ClientToken: i.ClientToken,
        AccessPointId: "fsap-0123456789abcdef0",
        AccessPointArn:
          "arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-0123456789abcdef0",
        FileSystemId: "fs-12345678",
        PosixUser: i.PosixUser,
        RootDirectory: i.RootDirectory,
        OwnerId: "123456789012",
        LifeCycleState: "creating",
      }),
      DescribeAccessPoints: () => ({
        AccessPoints: [{ AccessPointId: "fsap-0123456789abcdef0", LifeCycleState: "available" }],
      }),
      DeleteAccessPoint: () => ({}),
    });
    const ecs = recorder({
      DescribeTaskDefinition: () => ({
        taskDefinition: {
          taskDefinitionArn: "arn:aws:ecs:us-east-1:123456789012:task-definition/squadron-runner:7",
          family: "squadron-runner",
          revision: 7,
          taskRoleArn: "arn:aws:iam::123456789012:role/runner",
          executionRoleArn: "arn:aws:iam::123456789012:role/runner-exec",
          networkMode: "awsvpc",
          containerDefinitions: [
            {
              name: "runner",
              image: "runner:latest",
              mountPoints: [{ sourceVolume: "team", containerPath: "/mnt/team" }],
            },
          ],
          volumes: [{ name: "team", efsVolumeConfiguration: { fileSystemId: "fs-12345678" } }],
          requiresCompatibilities: ["FARGATE"],
          cpu: "1024",
          memory: "2048",
          status: "ACTIVE",
        },
      }),
      RegisterTaskDefinition: (i) => ({
        taskDefinition: {
          ...i,
          taskDefinitionArn: "arn:aws:ecs:us-east-1:123456789012:task-definition/squadron-runner:8",
          revision: 8,
        },
      }),
      DeregisterTaskDefinition: () => ({ taskDefinition: { status: "INACTIVE" } }),
      DeleteTaskDefinitions: () => ({ taskDefinitions: [], failures: [] }),
    });
    const workspaces = new EfsEcsRunWorkspaces(efs, ecs, {
      fileSystemId: "fs-12345678",
      baseTaskDefinition: "squadron-runner",
      volumeName: "team",
      sleep: async () => {},
    });
    const ws = await workspaces.create({ runId: "alpha-1a2b3c4d", namespace: "dev", teamName: "alpha" });
    expect(ws).toEqual({
      accessPointId: "fsap-0123456789abcdef0",
      posixUid: posixUidFor("alpha-1a2b3c4d"),
      taskDefinitionArn: "arn:aws:ecs:us-east-1:123456789012:task-definition/squadron-runner:8",
    });
    const create = efs.calls[0]?.input as {
      ClientToken: string;
      RootDirectory: { Path: string };
      PosixUser: { Uid: number };
    };
    expect(create.ClientToken).toBe("alpha-1a2b3c4d");
    expect(create.RootDirectory.Path).toBe("/runs/alpha-1a2b3c4d");
    expect(create.PosixUser.Uid).toBe(ws.posixUid);
    // Cleanup may delete only access points tagged with the stack's file system (IAM condition).
    expect((efs.calls[0]?.input as { Tags?: unknown[] } | undefined)?.Tags).toContainEqual({
      Key: "squadron:fileSystem",
      Value: "fs-12345678",
    });
    const registered = ecs.calls.find((c) => c.command === "RegisterTaskDefinition")?.input as {
      volumes: Array<{
        name: string;
        efsVolumeConfiguration: { authorizationConfig: { accessPointId: string } };
      }>;
    };
    expect(registered.volumes).toHaveLength(1);
    expect(registered.volumes[0]?.efsVolumeConfiguration.authorizationConfig.accessPointId).toBe(
      "fsap-0123456789abcdef0",
    );
    await workspaces.delete(ws);
    expect(ecs.calls.map((c) => c.command)).toContain("DeleteTaskDefinitions");
    expect(efs.calls.at(-1)).toMatchObject({
      command: "DeleteAccessPoint",
      input: { AccessPointId: "fsap-0123456789abcdef0" },
    });
  });

  it("arms a one-time schedule that deletes itself, and disarms it", async () => {
    const scheduler = recorder({
      CreateSchedule: () => ({ ScheduleArn: "arn:aws:scheduler:us-east-1:123456789012:schedule/default/x" }),
      DeleteSchedule: () => ({}),
    });
    const deadlines = new EventBridgeDeadlineScheduler(scheduler, {
      targetArn: "arn:aws:lambda:us-east-1:123456789012:function:deadline",
      roleArn: "arn:aws:iam::123456789012:role/scheduler",
    });
    await deadlines.arm("alpha-1a2b3c4d", new Date("2030-01-02T03:04:05.678Z"));
    expect(scheduler.calls[0]?.input).toMatchObject({
      Name: scheduleNameFor("alpha-1a2b3c4d"),
      ScheduleExpression: "at(2030-01-02T03:04:05)",
      ActionAfterCompletion: "DELETE",
      FlexibleTimeWindow: { Mode: "OFF" },
    });
    expect(JSON.parse((scheduler.calls[0]!.input.Target as { Input: string }).Input)).toEqual({
      source: "squadron.deadline",
      runId: "alpha-1a2b3c4d",
    });
    expect(atExpression(new Date("2030-01-02T03:04:05Z"))).toBe("at(2030-01-02T03:04:05)");
    await deadlines.disarm("alpha-1a2b3c4d");
    expect(scheduler.calls[1]?.command).toBe("DeleteSchedule");
  });
});
