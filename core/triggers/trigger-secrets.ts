/**
 * Where a trigger's HMAC key lives in AWS: `<teamSecretPrefix>/<namespace>/triggers/<name>`, not
 * beside the team secrets (`<prefix>/<namespace>/<name>`). The api function answers the internet
 * on the webhook route, so it may read these and no other team secret (git tokens, model keys):
 * team secret names hold no "/", so the grant `<prefix>/*\/triggers/*` can never match one.
 */
import { teamSecretId } from "../control/team-secrets.ts";

export function triggerSecretId(namespace: string, name: string, prefix?: string): string {
  const team = teamSecretId(namespace, name, prefix); // checks each part
  return `${team.slice(0, team.length - name.length)}triggers/${name}`;
}
