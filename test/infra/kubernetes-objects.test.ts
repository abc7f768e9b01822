import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { PersistentVolume } from "kubernetes-models/v1/PersistentVolume";
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { runnerKubernetesObjects } from "../../infra/constructs/kubernetes-objects.ts";
import { deployDocBlock } from "./support.ts";

/** kubernetes-models' class (its schema) for each kind the stack applies. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  Namespace,
  ServiceAccount,
  PersistentVolume,
  PersistentVolumeClaim,
  Role,
  RoleBinding,
};

const base = {
  namespace: "squadron",
  serviceAccountName: "squadron-runner",
  claimName: "squadron-team",
  fileSystemId: "fs-0123abcd",
};

describe("runner Kubernetes objects", () => {
  it("are each valid against Kubernetes' schema (kubernetes-models 5.1.0: Kubernetes 1.34 OpenAPI)", () => {
    for (const props of [base, { ...base, serviceAccountRoleArn: "arn:aws:iam::123456789012:role/runner" }]) {
      // Every object the stack applies, whatever it is named: a new one without a model fails here.
      for (const [name, manifest] of Object.entries(runnerKubernetesObjects(props))) {
        const Model = MODELS[String(manifest.kind)];
        if (!Model) throw new Error(`${name}: no Kubernetes schema model for kind ${String(manifest.kind)}`);
        expect(() => new Model(manifest as never).validate(), name).not.toThrow();
      }
    }
  });

  it("mounts EFS with IAM authorisation and TLS, which the file system's policy requires", () => {
    // Without `iam` the EFS CSI driver mounts anonymously: "access denied by server".
    expect(runnerKubernetesObjects(base).persistentVolume).toMatchObject({
      spec: { mountOptions: ["iam", "tls"] },
    });
  });

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

  it("are the ones docs/deploy.md tells an operator to apply by hand", () => {
    const documented = parseAllDocuments(deployDocBlock("eks-objects", "yaml")).map((d) => d.toJS());
    const o = runnerKubernetesObjects({ ...base, fileSystemId: "FILE_SYSTEM_ID" });
    expect(documented).toEqual([
      o.namespace,
      o.serviceAccount,
      o.persistentVolume,
      o.persistentVolumeClaim,
      o.jobCleanerRole,
      o.jobCleanerBinding,
      o.launchWatcherRole,
      o.launchWatcherBinding,
    ]);
  });

  it("let the functions that end runs delete Jobs in the namespace, and nothing else", () => {
    const o = runnerKubernetesObjects(base);
    expect(o.jobCleanerRole).toMatchObject({
      metadata: { namespace: "squadron" },
      rules: [{ apiGroups: ["batch"], resources: ["jobs"], verbs: ["deletecollection"] }],
    });
    expect(o.jobCleanerBinding).toMatchObject({
      metadata: { namespace: "squadron" },
      subjects: [{ kind: "Group", name: "squadron-job-cleaners" }],
    });
  });

  it("bind no Role to the runner's service account: the token its pods mount opens nothing", () => {
    const bindings = Object.values(runnerKubernetesObjects(base)).filter((m) => m.kind === "RoleBinding");
    expect(bindings.length).toBeGreaterThan(0);
    const subjects = bindings.flatMap((b) => b.subjects as Array<{ kind: string; name: string }>);
    // Only the functions' groups (their access entries), never a service account.
    expect(subjects.map((x) => x.kind)).toEqual(bindings.map(() => "Group"));
  });
});
