/**
 * Network: a new VPC (private subnets, NAT for model APIs and git hosts, VPC endpoints for the
 * AWS services runners and the control plane call, flow logs) or an existing one imported
 * from its ids (offline, no lookup), plus the runners' security group.
 */
import { RemovalPolicy } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import type { SquadronConfig } from "../config.ts";

export interface NetworkProps {
  config: SquadronConfig;
}

/** Interface endpoints of a new VPC: image pulls, ECS agent, logs, secrets, EFS, Step Functions. */
export const INTERFACE_ENDPOINTS = {
  Ecr: ec2.InterfaceVpcEndpointAwsService.ECR,
  EcrDocker: ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
  Ecs: ec2.InterfaceVpcEndpointAwsService.ECS,
  EcsAgent: ec2.InterfaceVpcEndpointAwsService.ECS_AGENT,
  EcsTelemetry: ec2.InterfaceVpcEndpointAwsService.ECS_TELEMETRY,
  Logs: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
  SecretsManager: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
  Efs: ec2.InterfaceVpcEndpointAwsService.ELASTIC_FILESYSTEM,
  StepFunctions: ec2.InterfaceVpcEndpointAwsService.STEP_FUNCTIONS,
} as const;

export class Network extends Construct {
  readonly vpc: ec2.IVpc;
  readonly runnerSubnets: ec2.SubnetSelection;
  readonly runnerSecurityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    const { config } = props;
    if (config.vpc === "new") {
      const egress = config.natGateways > 0;
      const vpc = new ec2.Vpc(this, "Vpc", {
        maxAzs: 2,
        natGateways: config.natGateways,
        subnetConfiguration: [
          ...(egress ? [{ name: "public", subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 }] : []),
          {
            name: "private",
            subnetType: egress ? ec2.SubnetType.PRIVATE_WITH_EGRESS : ec2.SubnetType.PRIVATE_ISOLATED,
            cidrMask: 20,
          },
        ],
        flowLogs: {
          all: {
            destination: ec2.FlowLogDestination.toCloudWatchLogs(
              new logs.LogGroup(this, "FlowLogs", {
                retention: config.logRetentionDays as logs.RetentionDays,
                removalPolicy: RemovalPolicy.DESTROY,
              }),
            ),
            trafficType: ec2.FlowLogTrafficType.REJECT,
          },
        },
      });
      vpc.addGatewayEndpoint("DynamoDb", { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB });
      vpc.addGatewayEndpoint("S3", { service: ec2.GatewayVpcEndpointAwsService.S3 });
      for (const [name, service] of Object.entries(INTERFACE_ENDPOINTS)) {
        vpc.addInterfaceEndpoint(name, { service, privateDnsEnabled: true });
      }
      this.vpc = vpc;
      this.runnerSubnets = {
        subnetType: egress ? ec2.SubnetType.PRIVATE_WITH_EGRESS : ec2.SubnetType.PRIVATE_ISOLATED,
      };
    } else {
      this.vpc = ec2.Vpc.fromVpcAttributes(this, "Vpc", {
        vpcId: config.vpc.vpcId,
        availabilityZones: config.vpc.availabilityZones,
        privateSubnetIds: config.vpc.privateSubnetIds,
      });
      this.runnerSubnets = { subnets: this.vpc.privateSubnets };
    }
    // Agents reach model APIs, git hosts and MCP servers over HTTPS; nothing reaches them.
    this.runnerSecurityGroup = new ec2.SecurityGroup(this, "RunnerSecurityGroup", {
      vpc: this.vpc,
      description: "Squadron runners: no inbound, HTTPS and NFS outbound",
      allowAllOutbound: false,
    });
    this.runnerSecurityGroup.addEgressRule(
      ec2.Peer.anyIpv4(),
      ec2.Port.tcp(443),
      "HTTPS to AWS APIs, models, git",
    );
  }
}
