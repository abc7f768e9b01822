/**
 * Outputs delivery: the function behind the DeliverOutputs state. It copies a finished cowork run's
 * output directory from the file system (the runs' root mounted read-only) to the bucket, so that
 * runner containers — where model-driven agents run shells — need no write access to the bucket at
 * all. It may write only `runs/` (a run's own prefix, derived from the run id) and `outputs/` (where
 * manifests may direct delivery, namespace by namespace) of Squadron's bucket, plus the buckets
 * listed in `outputBuckets`.
 */
import { Duration, Stack } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as iam from "aws-cdk-lib/aws-iam";
import { Construct } from "constructs";
import { BUCKET_AREAS } from "../../core/bucket-layout.ts";
import { ENV } from "../../core/control/env-names.ts";
import type { SquadronConfig } from "../config.ts";
import { RUNS_MOUNT } from "../handler-env.ts";
import { HandlerFunction } from "./handler-function.ts";
import type { Network } from "./network.ts";
import { ReadOnlyEfsMount } from "./read-only-efs-mount.ts";
import type { Storage } from "./storage.ts";

export interface OutputsDeliveryProps {
  config: SquadronConfig;
  network: Network;
  storage: Storage;
}

export class OutputsDelivery extends Construct {
  readonly handler: HandlerFunction;
  readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: OutputsDeliveryProps) {
    super(scope, id);
    const { config, network, storage } = props;
    this.securityGroup = new ec2.SecurityGroup(this, "FunctionSecurityGroup", {
      vpc: network.vpc,
      description: "Squadron outputs function: no inbound; HTTPS to S3 and DynamoDB, NFS to EFS",
      allowAllOutbound: false,
    });
    this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), "HTTPS to S3 and DynamoDB");

    this.handler = new HandlerFunction(this, "Outputs", {
      name: "outputs",
      logRetentionDays: config.logRetentionDays,
      // Outputs are documents, but a run may leave gigabytes: the longest a function may run.
      timeout: Duration.minutes(15),
      memorySize: 1024,
      network: { vpc: network.vpc, subnets: network.runnerSubnets, securityGroup: this.securityGroup },
      // NFS (2049) between this function's group and the file system's: added by the mount.
      filesystem: new ReadOnlyEfsMount(storage.runsReader, RUNS_MOUNT),
      environment: {
        [ENV.table]: storage.table.tableName,
        [ENV.bucket]: storage.bucket.bucketName,
        [ENV.runsMount]: RUNS_MOUNT,
      },
    });
    const fn = this.handler.fn;
    // The run record (its manifest) and the OutputsDelivered event.
    storage.grantItems(fn);
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["s3:PutObject"],
        resources: [
          storage.bucket.arnForObjects(`${BUCKET_AREAS.runs}*`),
          storage.bucket.arnForObjects(`${BUCKET_AREAS.outputs}*`),
          ...config.outputBuckets.map((bucket) =>
            Stack.of(this).formatArn({
              service: "s3",
              region: "",
              account: "",
              resource: bucket,
              resourceName: "*",
            }),
          ),
        ],
      }),
    );
  }
}
