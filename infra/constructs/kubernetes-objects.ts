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

/**
 * The Kubernetes group of the functions that end a run (Cleanup, events): their access entries
 * name it, and a RoleBinding gives it only deletecollection on Jobs in the runners' namespace.
 */
export const JOB_CLEANER_GROUP = "squadron-job-cleaners";
const JOB_CLEANER_ROLE = "squadron-job-cleaner";
/**
 * The Kubernetes group of the start check (the dependencies function, core/control/runner-start.ts):
 * it reads a launch's Job, pod and their Warning events, and deletes a Job whose pod cannot start.
 */
export const LAUNCH_WATCHER_GROUP = "squadron-launch-watchers";
const LAUNCH_WATCHER_ROLE = "squadron-launch-watcher";

export function runnerKubernetesObjects(props: KubernetesObjectsProps): {
  namespace: Manifest;
  serviceAccount: Manifest;
  persistentVolume: Manifest;
  persistentVolumeClaim: Manifest;
  jobCleanerRole: Manifest;
  jobCleanerBinding: Manifest;
  launchWatcherRole: Manifest;
  launchWatcherBinding: Manifest;
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
    // Deleting a run's Jobs by label is one DELETE of the collection (core/control/run-jobs.ts).
    jobCleanerRole: {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: JOB_CLEANER_ROLE, namespace },
      rules: [{ apiGroups: ["batch"], resources: ["jobs"], verbs: ["deletecollection"] }],
    },
    jobCleanerBinding: {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: JOB_CLEANER_ROLE, namespace },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: JOB_CLEANER_ROLE },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: JOB_CLEANER_GROUP }],
    },
    // Reads, no get/watch of any one object and nothing outside the namespace; the only write
    // is deleting the Jobs of a launch that will not start.
    launchWatcherRole: {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: LAUNCH_WATCHER_ROLE, namespace },
      rules: [
        { apiGroups: ["batch"], resources: ["jobs"], verbs: ["list", "deletecollection"] },
        { apiGroups: [""], resources: ["pods", "events"], verbs: ["list"] },
      ],
    },
    launchWatcherBinding: {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: LAUNCH_WATCHER_ROLE, namespace },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: LAUNCH_WATCHER_ROLE },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: LAUNCH_WATCHER_GROUP }],
    },
  };
}
