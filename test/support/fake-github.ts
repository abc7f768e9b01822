import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A local stand-in for the GitHub REST API endpoints the runner calls: create a pull
 * request, list pull requests by head, request reviewers, add labels. Response shapes
 * follow GitHub's documented ones (only the fields Squadron reads, plus a few more).
 */

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

interface FakePull {
  number: number;
  owner: string;
  repo: string;
  title: string;
  body: string;
  head: string;
  base: string;
  draft: boolean;
  state: "open";
  reviewers: string[];
  labels: string[];
}

export interface FakeGitHub {
  baseUrl: string;
  requests: RecordedRequest[];
  pulls: FakePull[];
  /** Makes the next N requests to a path matching `pattern` fail with `status`. */
  failNext(pattern: RegExp, status: number, times?: number): void;
  close(): Promise<void>;
}

export async function startFakeGitHub(): Promise<FakeGitHub> {
  const requests: RecordedRequest[] = [];
  const pulls: FakePull[] = [];
  const failures: { pattern: RegExp; status: number; times: number }[] = [];
  let nextNumber = 1;

  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const url = new URL(req.url ?? "/", "http://localhost");
    const body = text ? JSON.parse(text) : undefined;
    requests.push({
      method: req.method ?? "GET",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body,
    });
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
      res.end(JSON.stringify(payload));
    };
    const failure = failures.find((f) => f.pattern.test(url.pathname) && f.times > 0);
    if (failure) {
      failure.times--;
      return send(failure.status, {
        message: "Injected failure",
        documentation_url: "https://docs.github.com/rest",
      });
    }
    if (!req.headers.authorization) {
      return send(401, {
        message: "Requires authentication",
        documentation_url: "https://docs.github.com/rest",
      });
    }
    const html = (p: FakePull) => `https://github.example/${p.owner}/${p.repo}/pull/${p.number}`;
    const view = (p: FakePull) => ({
      number: p.number,
      html_url: html(p),
      url: `http://${req.headers.host}/repos/${p.owner}/${p.repo}/pulls/${p.number}`,
      state: p.state,
      title: p.title,
      body: p.body,
      draft: p.draft,
      head: { ref: p.head, label: `${p.owner}:${p.head}` },
      base: { ref: p.base },
    });

    let m = /^\/repos\/([^/]+)\/([^/]+)\/pulls$/.exec(url.pathname);
    if (m && req.method === "POST") {
      const [owner, repo] = [m[1] as string, m[2] as string];
      if (!body?.head || !body?.base || !body?.title) {
        return send(422, {
          message: "Validation Failed",
          errors: [{ resource: "PullRequest", code: "missing_field" }],
        });
      }
      if (
        pulls.some((p) => p.owner === owner && p.repo === repo && p.head === body.head && p.state === "open")
      ) {
        return send(422, {
          message: "Validation Failed",
          errors: [
            {
              resource: "PullRequest",
              code: "custom",
              message: `A pull request already exists for ${owner}:${body.head}.`,
            },
          ],
        });
      }
      const pull: FakePull = {
        number: nextNumber++,
        owner,
        repo,
        title: body.title,
        body: body.body ?? "",
        head: body.head,
        base: body.base,
        draft: !!body.draft,
        state: "open",
        reviewers: [],
        labels: [],
      };
      pulls.push(pull);
      return send(201, view(pull));
    }
    if (m && req.method === "GET") {
      const [owner, repo] = [m[1] as string, m[2] as string];
      const head = url.searchParams.get("head");
      const found = pulls.filter(
        (p) => p.owner === owner && p.repo === repo && (!head || `${p.owner}:${p.head}` === head),
      );
      return send(200, found.map(view));
    }
    m = /^\/repos\/([^/]+)\/([^/]+)\/pulls\/(\d+)\/requested_reviewers$/.exec(url.pathname);
    if (m && req.method === "POST") {
      const pull = pulls.find((p) => p.number === Number(m?.[3]));
      if (!pull) return send(404, { message: "Not Found" });
      pull.reviewers.push(...(body?.reviewers ?? []));
      return send(201, { ...view(pull), requested_reviewers: pull.reviewers.map((login) => ({ login })) });
    }
    m = /^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)\/labels$/.exec(url.pathname);
    if (m && req.method === "POST") {
      const pull = pulls.find((p) => p.number === Number(m?.[3]));
      if (!pull) return send(404, { message: "Not Found" });
      pull.labels.push(...(body?.labels ?? []));
      return send(
        200,
        pull.labels.map((name, i) => ({ id: i + 1, name })),
      );
    }
    return send(404, { message: "Not Found", documentation_url: "https://docs.github.com/rest" });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    pulls,
    failNext(pattern, status, times = 1) {
      failures.push({ pattern, status, times });
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
