/**
 * Storage: the EFS file system holding every run's team directory (encrypted at rest, TLS and
 * IAM required on mounts, backups), the team table (from core/store/table-definition.ts, the
 * same definition tests create locally) and the bucket for cowork inputs and outputs.
 */
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import type * as ec2 from "aws-cdk-lib/aws-ec2";
import * as efs from "aws-cdk-lib/aws-efs";
import * as iam from "aws-cdk-lib/aws-iam";
import * as s3 from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import { TABLE_DEFINITION } from "../../core/store/table-definition.ts";
import type { SquadronConfig } from "../config.ts";
import { runsReaderAccessPoint } from "./read-only-efs-mount.ts";

export interface StorageProps {
  config: SquadronConfig;
  vpc: ec2.IVpc;
  subnets: ec2.SubnetSelection;
}

function attributeType(type: "S" | "N"): dynamodb.AttributeType {
  return type === "S" ? dynamodb.AttributeType.STRING : dynamodb.AttributeType.NUMBER;
}

/** TableV2 properties derived from the shared table definition. */
export function tableProps(removalPolicy: RemovalPolicy): dynamodb.TablePropsV2 {
  const d = TABLE_DEFINITION;
  return {
    partitionKey: { name: d.partitionKey.name, type: attributeType(d.partitionKey.type) },
    sortKey: { name: d.sortKey.name, type: attributeType(d.sortKey.type) },
    billing: dynamodb.Billing.onDemand(),
    globalSecondaryIndexes: [
      {
        indexName: d.namespaceIndex.indexName,
        partitionKey: {
          name: d.namespaceIndex.partitionKey.name,
          type: attributeType(d.namespaceIndex.partitionKey.type),
        },
        sortKey: { name: d.namespaceIndex.sortKey.name, type: attributeType(d.namespaceIndex.sortKey.type) },
        projectionType: dynamodb.ProjectionType.ALL,
      },
    ],
    dynamoStream: dynamodb.StreamViewType[d.streamViewType],
    timeToLiveAttribute: d.timeToLiveAttribute,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    encryption: dynamodb.TableEncryptionV2.awsManagedKey(),
    deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
    removalPolicy,
  };
}

export class Storage extends Construct {
  /**
   * Item reads and writes on the team table, and Query on the namespace index when asked —
   * narrower than grantReadWriteData (no Scan, no `index/*`).
   */
  grantItems(grantee: iam.IGrantable, options: { namespaceIndex?: boolean } = {}): void {
    iam.Grant.addToPrincipal({
      grantee,
      actions: [
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
        "dynamodb:ConditionCheckItem",
      ],
      resourceArns: [this.table.tableArn],
    });
    if (options.namespaceIndex) {
      iam.Grant.addToPrincipal({
        grantee,
        actions: ["dynamodb:Query"],
        resourceArns: [`${this.table.tableArn}/index/${TABLE_DEFINITION.namespaceIndex.indexName}`],
      });
    }
  }

  readonly fileSystem: efs.FileSystem;
  readonly table: dynamodb.TableV2;
  readonly bucket: s3.Bucket;
  /** `/runs` as root, for the functions that read runs' directories (read-only mounts). */
  readonly runsReader: efs.AccessPoint;

  constructor(scope: Construct, id: string, props: StorageProps) {
    super(scope, id);
    const removalPolicy =
      props.config.removalPolicy === "retain" ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    this.fileSystem = new efs.FileSystem(this, "TeamFileSystem", {
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      encrypted: true,
      enableAutomaticBackups: true,
      performanceMode: efs.PerformanceMode.GENERAL_PURPOSE,
      throughputMode: efs.ThroughputMode.ELASTIC,
      lifecyclePolicy: efs.LifecyclePolicy.AFTER_14_DAYS,
      // The file-system policy is written here, not by CDK. With allowAnonymousAccess: false CDK
      // adds a statement allowing ClientWrite and ClientRootAccess to every principal through a
      // mount target; EFS grants an NFS action when EITHER the caller's identity policy OR the
      // file-system policy allows it ("IAM policies and file system policies",
      // https://docs.aws.amazon.com/efs/latest/ug/iam-access-control-nfs-efs.html), so that
      // statement would make the api and outputs functions' read-only mounts writable as root.
      // `true` only stops CDK adding it: anonymous clients are still refused, because once a
      // file-system policy exists EFS authorises every client by IAM and this policy allows
      // nobody. Each role's own grant decides (runner: mount+write; api/outputs: mount+root
      // through the read-only access point), checked by test/infra/iam-evaluation.test.ts.
      allowAnonymousAccess: true,
      removalPolicy,
    });
    this.fileSystem.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: "DenyUnencryptedTransport",
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ["*"],
        conditions: { Bool: { "aws:SecureTransport": "false" } },
      }),
    );

    this.runsReader = runsReaderAccessPoint(this, this.fileSystem);

    this.table = new dynamodb.TableV2(this, "TeamTable", tableProps(removalPolicy));

    const accessLogs = new s3.Bucket(this, "AccessLogs", {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ id: "expire-access-logs", expiration: Duration.days(365) }],
      removalPolicy,
    });
    this.bucket = new s3.Bucket(this, "WorkspaceBucket", {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: true,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: "workspace/",
      lifecycleRules: [{ id: "expire-old-versions", noncurrentVersionExpiration: Duration.days(30) }],
      removalPolicy,
    });
  }
}
