import * as efs from "aws-cdk-lib/aws-efs";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import type { Construct } from "constructs";
import { EFS_RUNS_ROOT } from "../../core/control/env-names.ts";

/**
 * The runs' root (`/runs`) of the file system as root: each run's directory belongs to its own
 * POSIX uid with mode 0750 (core/control/run-workspace.ts), so no other uid can read every run.
 * Functions mount it only through {@link ReadOnlyEfsMount}, never with ClientWrite.
 */
export function runsReaderAccessPoint(scope: Construct, fileSystem: efs.IFileSystem): efs.AccessPoint {
  return new efs.AccessPoint(scope, "RunsReader", {
    fileSystem,
    path: EFS_RUNS_ROOT,
    posixUser: { uid: "0", gid: "0" },
    // Created on first mount when no run has created it yet.
    createAcl: { ownerUid: "0", ownerGid: "0", permissions: "755" },
  });
}

/**
 * An EFS access point mounted without write: CDK's `FileSystem.fromEfsAccessPoint` always grants
 * ClientWrite on the whole file system. Mount and root access are allowed on the file system only
 * through this access point and a mount target.
 */
export class ReadOnlyEfsMount extends lambda.FileSystem {
  constructor(accessPoint: efs.AccessPoint, mountPath: string) {
    super(accessPointMount(accessPoint, mountPath, []));
  }
}

/**
 * The same access point mounted with write: Prepare on EKS creates each run's directory under the
 * runs' root as root and hands it to the run's uid (core/control/run-workspace.ts
 * PosixRunDirectories). Write, like mount and root access, only through this access point.
 */
export class RunsRootEfsMount extends lambda.FileSystem {
  constructor(accessPoint: efs.AccessPoint, mountPath: string) {
    super(accessPointMount(accessPoint, mountPath, ["elasticfilesystem:ClientWrite"]));
  }
}

function accessPointMount(
  accessPoint: efs.AccessPoint,
  mountPath: string,
  extraActions: string[],
): lambda.FileSystemConfig {
  return {
    localMountPath: mountPath,
    arn: accessPoint.accessPointArn,
    dependency: [accessPoint.fileSystem.mountTargetsAvailable],
    connections: accessPoint.fileSystem.connections,
    policies: [
      new iam.PolicyStatement({
        actions: ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientRootAccess", ...extraActions],
        resources: [accessPoint.fileSystem.fileSystemArn],
        conditions: {
          StringEquals: { "elasticfilesystem:AccessPointArn": accessPoint.accessPointArn },
          Bool: { "elasticfilesystem:AccessedViaMountTarget": "true" },
        },
      }),
    ],
  };
}
