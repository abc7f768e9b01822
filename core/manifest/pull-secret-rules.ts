import { type PathIssue, warning } from "./issues.ts";

/**
 * `spec.imagePullSecrets` on an AgentTeam does one thing in Squadron: it authenticates the pulls
 * of `source.oci` skills, with the first secret only (kagents' rule). Anything else it would do in
 * kagents (the kubelet's image pulls) has no counterpart — Squadron's runner image comes from the
 * deployment — so an unused list or unused entries are said, never silently kept.
 */
export function pullSecretIssues(spec: Record<string, unknown>): PathIssue[] {
  const secrets = spec.imagePullSecrets;
  if (!Array.isArray(secrets) || secrets.length === 0) return [];
  const agents = [spec.lead, ...(Array.isArray(spec.teammates) ? spec.teammates : [])];
  const ociSkills = agents.some((agent) => {
    const skills = (agent as { skills?: unknown } | null)?.skills;
    return (
      Array.isArray(skills) &&
      skills.some((s) => (s as { source?: { oci?: unknown } })?.source?.oci !== undefined)
    );
  });
  if (!ociSkills) {
    return [
      warning(
        ["spec", "imagePullSecrets"],
        "imagePullSecrets is not used: Squadron uses it only to pull skills from OCI (source.oci), and no agent of this team has one; its runner image comes from the deployment.",
      ),
    ];
  }
  return secrets
    .slice(1)
    .map((_, i) =>
      warning(
        ["spec", "imagePullSecrets", i + 1],
        "Only the first imagePullSecret is used for skills from OCI (as in kagents): put every registry's credentials in that one dockerconfigjson.",
      ),
    );
}
