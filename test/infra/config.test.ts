import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../infra/config.ts";
import { EXISTING_VPC, synth } from "./support.ts";

describe("configuration (cdk.json context `squadron`)", () => {
  it("has documented defaults", () => {
    const c = parseConfig(undefined);
    expect(c).toMatchObject({
      compute: "ecs",
      vpc: "new",
      runnerCpu: 1024,
      runnerMemoryMiB: 4096,
      slack: { enabled: false },
      defaultTimeout: "4h",
      logRetentionDays: 30,
      removalPolicy: "retain",
      waf: false,
      inputBuckets: [],
      outputBuckets: [],
    });
  });

  it("requires the cluster's VPC with compute eks, saying why", () => {
    const eks = { clusterName: "prod", manageKubernetesObjects: false };
    expect(() => parseConfig({ compute: "eks", eks })).toThrow(
      /squadron\.vpc: must be the EKS cluster's VPC when compute is "eks" .*mount targets/,
    );
    expect(parseConfig({ compute: "eks", eks, vpc: EXISTING_VPC }).vpc).toEqual(EXISTING_VPC);
  });

  it("refuses a private-only cluster endpoint: Step Functions' eks:runJob reaches only a public one", () => {
    const eks = { clusterName: "prod", manageKubernetesObjects: false, endpointAccess: "private" };
    expect(() => parseConfig({ compute: "eks", eks, vpc: EXISTING_VPC })).toThrow(
      /squadron\.eks\.endpointAccess: cannot be "private": .*supports only Kubernetes APIs with public endpoint access/,
    );
  });

  it("runs kubectl through the private endpoint only when the public one stays on", () => {
    const eks = {
      clusterName: "prod",
      kubectlRoleArn: "arn:aws:iam::123456789012:role/kubectl",
      kubectlSecurityGroupId: "sg-0abc1234",
    };
    expect(() => parseConfig({ compute: "eks", eks, vpc: EXISTING_VPC })).toThrow(
      /squadron\.eks\.kubectlSecurityGroupId: .*"public-and-private"/,
    );
    expect(
      parseConfig({
        compute: "eks",
        eks: { ...eks, endpointAccess: "public-and-private" },
        vpc: EXISTING_VPC,
      }).eks,
    ).toMatchObject({ kubectlSecurityGroupId: "sg-0abc1234", endpointAccess: "public-and-private" });
    expect(() =>
      parseConfig({
        compute: "eks",
        eks: { ...eks, endpointAccess: "public-and-private", kubectlSecurityGroupId: "default" },
        vpc: EXISTING_VPC,
      }),
    ).toThrow(/squadron\.eks\.kubectlSecurityGroupId: must look like sg-0123abcd/);
  });

  it("takes a team secret prefix that is one Secrets Manager name part", () => {
    expect(parseConfig(undefined).teamSecretPrefix).toBe("squadron");
    expect(parseConfig({ teamSecretPrefix: "squadron-prod" }).teamSecretPrefix).toBe("squadron-prod");
    expect(() => parseConfig({ teamSecretPrefix: "squadron/prod" })).toThrow(
      /squadron\.teamSecretPrefix: must be a Secrets Manager name part/,
    );
  });

  it("takes extra input and output buckets by name only", () => {
    expect(parseConfig({ outputBuckets: ["team-reports"] }).outputBuckets).toEqual(["team-reports"]);
    expect(() => parseConfig({ inputBuckets: ["s3://team-data/"], outputBuckets: ["Reports"] })).toThrow(
      /squadron\.inputBuckets\.0: must be an S3 bucket name[^\n]*\n\s*squadron\.outputBuckets\.0: must be an S3 bucket name/,
    );
  });

  it("accepts a JSON string (as -c passes it)", () => {
    const c = parseConfig(
      JSON.stringify({
        compute: "eks",
        eks: { clusterName: "prod", kubectlRoleArn: "arn:aws:iam::123456789012:role/kubectl" },
        vpc: EXISTING_VPC,
      }),
    );
    expect(c.eks).toMatchObject({
      namespace: "squadron",
      manageKubernetesObjects: true,
      endpointAccess: "public",
      nodeSecurityGroupIds: [],
    });
  });

  it("needs a kubectl role for the cluster objects the stack creates, unless told not to create them", () => {
    expect(() => parseConfig({ compute: "eks", eks: { clusterName: "prod" } })).toThrow(
      /squadron\.eks\.kubectlRoleArn: is required .*cluster-admin.*manageKubernetesObjects/,
    );
    expect(() =>
      parseConfig({ compute: "eks", eks: { clusterName: "prod", kubectlRoleArn: "kubectl-admin" } }),
    ).toThrow(/squadron\.eks\.kubectlRoleArn: must be an IAM role ARN/);
    const manual = parseConfig({
      compute: "eks",
      eks: { clusterName: "prod", manageKubernetesObjects: false },
      vpc: EXISTING_VPC,
    });
    expect(manual.eks).toMatchObject({ manageKubernetesObjects: false });
    expect(manual.eks?.kubectlRoleArn).toBeUndefined();
  });

  it("reports every invalid key by name", () => {
    let message = "";
    try {
      parseConfig({ compute: "k8s", runnerCpu: 3, logRetentionDays: 2, defaultTimeout: "soon", typo: true });
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      message = (e as Error).message;
    }
    for (const key of [
      "squadron.compute",
      "squadron.runnerCpu",
      "squadron.logRetentionDays",
      "squadron.defaultTimeout",
    ]) {
      expect(message).toContain(key);
    }
    expect(message).toContain("typo");
  });

  it("requires eks settings for compute eks, and a channel when Slack is on", () => {
    expect(() => parseConfig({ compute: "eks" })).toThrow(/squadron\.eks: is required/);
    expect(() => parseConfig({ slack: { enabled: true } })).toThrow(/squadron\.slack\.channel/);
    expect(() =>
      parseConfig({ vpc: { vpcId: "vpc-1", privateSubnetIds: ["subnet-1"], availabilityZones: ["a"] } }),
    ).toThrow(/squadron\.vpc/);
  });

  it("fails synth with the message naming the key", () => {
    expect(() => synth({ removalPolicy: "sometimes" })).toThrow(/squadron\.removalPolicy/);
  });
});
