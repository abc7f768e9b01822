/**
 * A client written for the simple "agent orchestrator" API that Squadron promises to stay
 * compatible with: `POST /api/tasks {"task"}` → 202 `{status: "accepted", message}`, 400
 * `{error: "task field is required and cannot be empty"}`, and `GET /health` → 200 `OK` as plain
 * text. It knows nothing of Squadron; the only addition is the headers a deployment asks for
 * (a bearer token locally).
 */
export interface SeedClient {
  submitTask(task: string): Promise<{ accepted: boolean; message: string; error?: string }>;
  healthy(): Promise<boolean>;
}

export function seedClient(baseUrl: string, headers: Record<string, string> = {}): SeedClient {
  return {
    async submitTask(task) {
      const res = await fetch(`${baseUrl}/api/tasks`, {
        method: "POST",
        headers: { "Content-Type": "application/json", ...headers },
        body: JSON.stringify({ task }),
      });
      const body = (await res.json()) as { status?: string; message?: string; error?: string };
      if (res.status === 202 && body.status === "accepted")
        return { accepted: true, message: body.message ?? "" };
      return { accepted: false, message: "", error: body.error ?? `HTTP ${res.status}` };
    },
    async healthy() {
      const res = await fetch(`${baseUrl}/health`, { headers });
      return res.status === 200 && (await res.text()) === "OK";
    },
  };
}
