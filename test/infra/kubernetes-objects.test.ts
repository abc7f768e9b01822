import { describe, expect, it } from "vitest";
import { runnerKubernetesObjects } from "../../infra/constructs/kubernetes-objects.ts";

const base = {
  namespace: "squadron",
  serviceAccountName: "squadron-runner",
  claimName: "squadron-team",
  fileSystemId: "fs-0123abcd",
};

describe("runner Kubernetes objects", () => {
  it("annotates the service account with the runner role for IRSA, and not with Pod Identity", () => {
    const role = "arn:aws:iam::123456789012:role/runner";
    expect(runnerKubernetesObjects({ ...base, serviceAccountRoleArn: role }).serviceAccount).toMatchObject({
      metadata: { annotations: { "eks.amazonaws.com/role-arn": role } },
    });
    expect(runnerKubernetesObjects(base).serviceAccount).not.toHaveProperty("metadata.annotations");
  });

  it("binds the claim to the EFS volume by name, with TLS on the mount", () => {
    const { persistentVolume, persistentVolumeClaim } = runnerKubernetesObjects(base);
    expect(persistentVolume).toMatchObject({
      metadata: { name: "squadron-team" },
      spec: {
        storageClassName: "",
        csi: { volumeHandle: "fs-0123abcd", volumeAttributes: { encryptInTransit: "true" } },
      },
    });
    expect(persistentVolumeClaim).toMatchObject({
      metadata: { namespace: "squadron" },
      spec: { volumeName: "squadron-team", storageClassName: "" },
    });
  });
});
