/**
 * The Kubernetes objects runner Jobs need on an EKS cluster: their namespace, their service
 * account, and the team volume (a static PersistentVolume on Squadron's EFS file system through
 * the EFS CSI driver, and the claim the Jobs mount). Plain manifests, so the stack applies them
 * through CDK's kubectl provider and docs/deploy.md shows the same ones for applying by hand.
 */

export interface KubernetesObjectsProps {
  namespace: string;
  serviceAccountName: string;
  claimName: string;
  /** EFS file system id (a token at synth). */
  fileSystemId: string;
  /** IRSA: the role the service account assumes; absent with EKS Pod Identity. */
  serviceAccountRoleArn?: string;
}

type Manifest = Record<string, unknown>;

/** EFS has no size; Kubernetes requires one on a PV and its claim, and ignores it for EFS. */
const NOMINAL_SIZE = "5Gi";

export function runnerKubernetesObjects(props: KubernetesObjectsProps): {
  namespace: Manifest;
  serviceAccount: Manifest;
  persistentVolume: Manifest;
  persistentVolumeClaim: Manifest;
} {
  const { namespace, serviceAccountName, claimName } = props;
  return {
    namespace: { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } },
    serviceAccount: {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: {
        name: serviceAccountName,
        namespace,
        ...(props.serviceAccountRoleArn
          ? { annotations: { "eks.amazonaws.com/role-arn": props.serviceAccountRoleArn } }
          : {}),
      },
    },
    // Cluster-scoped, named like the claim that binds it (volumeName below).
    persistentVolume: {
      apiVersion: "v1",
      kind: "PersistentVolume",
      metadata: { name: claimName },
      spec: {
        capacity: { storage: NOMINAL_SIZE },
        accessModes: ["ReadWriteMany"],
        // Team directories outlive the claim: deleting it must never touch the file system.
        persistentVolumeReclaimPolicy: "Retain",
        storageClassName: "",
        // The file system's policy refuses anonymous mounts (storage.ts allowAnonymousAccess:
        // false): without `iam` the EFS CSI driver mounts anonymously and gets "mount.nfs4:
        // access denied by server" (aws-efs-csi-driver#280, #422). With it, efs-utils signs the
        // mount with the CSI node's role (compute.ts grants it mount and write, via a mount target).
        mountOptions: ["iam", "tls"],
        csi: {
          driver: "efs.csi.aws.com",
          volumeHandle: props.fileSystemId,
          // Squadron mounts its file system with TLS only.
          volumeAttributes: { encryptInTransit: "true" },
        },
      },
    },
    persistentVolumeClaim: {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: claimName, namespace },
      spec: {
        accessModes: ["ReadWriteMany"],
        storageClassName: "",
        volumeName: claimName,
        resources: { requests: { storage: NOMINAL_SIZE } },
      },
    },
  };
}
