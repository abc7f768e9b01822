/** The web view: teams of a namespace and, for one team, its graph, tasks, messages and cost. */
import { ALL_NAMESPACES, ApiClient, ApiError, saveToken, storedToken, takeTokenFromFragment } from "./api.js";
import { h, renderInto } from "./dom.js";
import { age, clock, phaseLabel, TERMINAL_TEAM_PHASES, tone, usd } from "./format.js";
import { renderGraph } from "./graph.js";

const POLL_MS = 2000;
const NS_KEY = "squadron.namespace";
const $ = (id) => document.getElementById(id);

const fragment = takeTokenFromFragment(window.location, window.history, window.sessionStorage);
const apiBase = document.querySelector('meta[name="squadron-api-base"]')?.content ?? "";
const api = new ApiClient(apiBase, () => storedToken(window.sessionStorage));

const state = {
  namespace: fragment.get("ns") || window.localStorage.getItem(NS_KEY) || "default",
  team: fragment.get("team") || null,
  teams: [],
  /** Namespaces the token may read (GET /api/namespaces), offered in the namespace field. */
  visibleNamespaces: [],
  view: null,
  timer: null,
  inFlight: false,
  again: false,
  lastOk: null,
};

// ---------- routing: #ns=<namespace>&team=<name> ----------

function routeHref(namespace, team) {
  const p = new URLSearchParams({ ns: namespace });
  if (team) p.set("team", team);
  return `#${p}`;
}

function readRoute() {
  const p = new URLSearchParams(window.location.hash.replace(/^#/, ""));
  if (p.has("token")) return; // handled once at start
  const ns = p.get("ns") || state.namespace;
  const team = p.get("team") || null;
  if (ns !== state.namespace || team !== state.team) {
    state.namespace = ns;
    state.team = team;
    state.view = null;
    window.localStorage.setItem(NS_KEY, ns);
    $("namespace").value = ns;
    refresh();
  }
}

// ---------- small pieces ----------

function badge(phase, extra = "") {
  return h(
    "span",
    { class: `badge tone-${tone(phase)} ${extra}`.trim() },
    h("span", { class: "badge-dot", "aria-hidden": "true" }),
    phaseLabel(phase),
  );
}

function toast(text, kind = "info") {
  const el = $("toast");
  el.textContent = text;
  el.className = `toast toast-${kind}`;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => {
    el.hidden = true;
  }, 4000);
}

function banner(text) {
  const el = $("banner");
  el.hidden = !text;
  el.textContent = text ?? "";
}

function setLive(kind, text) {
  $("live").dataset.state = kind;
  $("live-text").textContent = text;
}

function table(headers, rows, caption) {
  return h(
    "table",
    { class: "table" },
    caption ? h("caption", { class: "sr-only" }, caption) : null,
    h(
      "thead",
      null,
      h(
        "tr",
        null,
        headers.map((x) => h("th", { scope: "col", class: x.cls }, x.label ?? x)),
      ),
    ),
    h("tbody", null, rows),
  );
}

function empty(text) {
  return h("p", { class: "muted empty" }, text);
}

// ---------- teams list ----------

/** A team in the route and the list: its name, or namespace/name when every namespace is shown. */
function teamKey(t) {
  return state.namespace === ALL_NAMESPACES ? `${t.namespace}/${t.name}` : t.name;
}

function renderTeams() {
  const teams = state.teams;
  $("teams-count").textContent = `(${teams.length})`;
  const key = JSON.stringify([state.namespace, state.team, teams.map(({ age: _a, ...t }) => t)]);
  renderInto($("teams"), key, () => {
    const all = state.namespace === ALL_NAMESPACES;
    if (teams.length === 0)
      return empty(
        all
          ? "No teams in any namespace you may read. Apply one with squadron apply -f team.yaml."
          : `No teams in namespace ${state.namespace}. Apply one with squadron apply -f team.yaml.`,
      );
    return h(
      "ul",
      { class: "team-items" },
      teams.map((t) =>
        h(
          "li",
          null,
          h(
            "a",
            {
              class: "team-item",
              href: routeHref(state.namespace, teamKey(t)),
              "aria-current": teamKey(t) === state.team ? "page" : undefined,
              "data-team": teamKey(t),
            },
            h(
              "span",
              { class: "team-item-top" },
              h("span", { class: "team-name" }, all ? `${t.namespace}/${t.name}` : t.name),
              badge(t.phase, "badge-sm"),
            ),
            h(
              "span",
              { class: "team-item-meta" },
              h("span", null, `Ready ${t.ready}`),
              h("span", null, `Tasks ${t.tasks?.done ?? 0}/${t.tasks?.total ?? 0}`),
              h("span", null, usd(t.cost?.usd)),
              h("span", { class: "age", "data-created": t.createdAt }, age(t.createdAt)),
            ),
          ),
        ),
      ),
    );
  });
  for (const el of $("teams").querySelectorAll(".age[data-created]"))
    el.textContent = age(el.dataset.created);
  const list = $("namespaces");
  const known = new Set([
    state.namespace,
    "default",
    ...state.visibleNamespaces,
    ...JSON.parse(window.localStorage.getItem("squadron.namespaces") ?? "[]"),
  ]);
  known.delete(ALL_NAMESPACES);
  window.localStorage.setItem("squadron.namespaces", JSON.stringify([...known].slice(0, 20)));
  renderInto(list, [...known].join(","), () => [
    h("option", { value: ALL_NAMESPACES, label: "all namespaces" }),
    ...[...known].map((n) => h("option", { value: n })),
  ]);
}

// ---------- one team ----------

function costMeter(cost) {
  const spent = Number(cost?.usd ?? 0);
  const budget = cost?.budgetUsd;
  // Scripted stand-ins report priced usage, not spending.
  const simulated = cost?.simulated
    ? h("span", { class: "muted", "data-testid": "cost-simulated" }, " (simulated)")
    : null;
  if (!budget)
    return h(
      "div",
      { class: "cost" },
      h("span", { class: "cost-figure" }, usd(spent)),
      simulated,
      h("span", { class: "muted" }, " no budget limit"),
    );
  const pct = Math.min(100, (spent / budget) * 100);
  const level = pct >= 100 ? "over" : pct >= 80 ? "high" : "ok";
  const fill = h("div", { class: `meter-fill meter-${level}` });
  fill.style.width = `${pct.toFixed(1)}%`;
  return h(
    "div",
    { class: "cost" },
    h("span", { class: "cost-figure", "data-testid": "cost" }, usd(spent)),
    simulated,
    h("span", { class: "muted" }, ` of ${usd(budget)} budget`),
    h(
      "div",
      {
        class: "meter",
        role: "progressbar",
        "aria-label": "Budget used",
        "aria-valuemin": "0",
        "aria-valuemax": "100",
        "aria-valuenow": pct.toFixed(0),
        "aria-valuetext": `${pct.toFixed(0)}% of the budget used`,
      },
      fill,
    ),
  );
}

function field(label, value) {
  return h("div", { class: "field" }, h("dt", null, label), h("dd", null, value ?? "—"));
}

function renderHeader(v, tasks) {
  // The task list read just now is fresher than the counts kept in the run's status.
  const live = tasks.filter((t) => t.status !== "deleted");
  const counts =
    live.length > 0
      ? { total: live.length, done: live.filter((t) => t.status === "completed").length }
      : v.tasks;
  const key = JSON.stringify([
    v.name,
    v.phase,
    v.reason,
    v.message,
    v.ready,
    counts,
    v.cost,
    v.runId,
    v.startedAt,
    v.completedAt,
  ]);
  const when = (iso) => (iso ? h("time", { datetime: iso, title: iso }, clock(iso)) : "—");
  renderInto($("team-header"), key, () => [
    h(
      "div",
      { class: "title-row" },
      h("h1", { id: "team-title" }, v.name),
      badge(v.phase, "badge-lg"),
      // A reason that only repeats the phase ("Completed Completed") says nothing.
      v.reason && v.reason !== v.phase ? h("span", { class: "reason" }, v.reason) : null,
    ),
    v.message ? h("p", { class: "message" }, v.message) : null,
    h(
      "dl",
      { class: "fields" },
      field("Namespace", v.namespace),
      field("Run ID", h("code", null, v.runId)),
      field("Mode", v.mode),
      field("Ready", v.ready),
      field("Tasks done", `${counts?.done ?? 0} of ${counts?.total ?? 0}`),
      field("Created", h("time", { datetime: v.createdAt, title: v.createdAt }, `${age(v.createdAt)} ago`)),
      field("Started", when(v.startedAt)),
      field("Completed", when(v.completedAt)),
      h("div", { class: "field field-wide" }, h("dt", null, "Cost"), h("dd", null, costMeter(v.cost))),
    ),
  ]);
}

function decisionButtons(v, gate) {
  if (!api.usesToken) {
    return h("code", { class: "cli-hint" }, `squadron approve team ${v.name} ${gate} -n ${v.namespace}`);
  }
  const decide = async (decision, button) => {
    if (decision === "deny" && !window.confirm(`Deny gate ${gate}? The agent it guards will fail.`)) return;
    for (const b of button.parentElement.querySelectorAll("button")) b.disabled = true;
    try {
      const result = await api.decide(v.namespace, v.name, gate, decision);
      toast(`Gate ${gate}: ${result?.state ?? decision} by ${result?.decidedBy ?? "you"}.`, "success");
    } catch (error) {
      toast(`Could not ${decision} ${gate}: ${error.message}`, "error");
    }
    await refresh();
  };
  return h(
    "span",
    { class: "actions" },
    h(
      "button",
      {
        type: "button",
        class: "btn btn-primary",
        "data-gate": gate,
        "data-decision": "approve",
        onclick: (e) => decide("approve", e.currentTarget),
      },
      "Approve",
    ),
    h(
      "button",
      {
        type: "button",
        class: "btn btn-danger",
        "data-gate": gate,
        "data-decision": "deny",
        onclick: (e) => decide("deny", e.currentTarget),
      },
      "Deny",
    ),
  );
}

function renderApprovals(v) {
  // Between a decision and the agent moving on, the agent still says pendingApproval: trust the gate.
  const agents = [v.lead, ...v.teammates].filter(
    (a) => a?.pendingApproval && (v.gates?.[a.pendingApproval]?.state ?? "Pending") === "Pending",
  );
  const el = $("approvals");
  el.hidden = agents.length === 0;
  const key = JSON.stringify([v.name, api.usesToken, agents.map((a) => [a.name, a.pendingApproval])]);
  renderInto(el, key, () =>
    agents.map((a) =>
      h(
        "div",
        { class: "callout", "data-gate": a.pendingApproval },
        h("span", { class: "callout-icon", "aria-hidden": "true" }, "!"),
        h(
          "div",
          { class: "callout-body" },
          h("strong", null, "Approval required: "),
          h("code", null, a.pendingApproval),
          h("span", null, ` · ${a.name} waits for this gate before it starts.`),
        ),
        decisionButtons(v, a.pendingApproval),
      ),
    ),
  );
}

function renderGates(v) {
  const gates = Object.entries(v.gates ?? {});
  const key = JSON.stringify([v.name, api.usesToken, gates]);
  renderInto($("gates"), key, () => {
    if (gates.length === 0) return empty("This team has no approval gates.");
    return table(
      ["Gate", "State", "Decision"],
      gates.map(([name, g]) => {
        const open = g.state === "Pending" && !TERMINAL_TEAM_PHASES.has(v.phase);
        return h(
          "tr",
          { "data-gate": name, "data-state": g.state },
          h("td", null, h("code", null, name)),
          h(
            "td",
            null,
            badge(g.state === "Pending" && g.notifiedAt ? "PendingApproval" : g.state, "badge-sm"),
          ),
          h(
            "td",
            null,
            g.decidedBy ? `${g.decidedBy} · ${clock(g.decidedAt)}` : open ? decisionButtons(v, name) : "—",
          ),
        );
      }),
      "Approval gates",
    );
  });
}

/** kagents v0.8 status.artifacts: declared outputs, their producer, size and where each was staged. */
function renderArtifacts(v) {
  const artifacts = v.artifacts ?? [];
  $("artifacts-panel").hidden = artifacts.length === 0;
  renderInto($("artifacts"), JSON.stringify(artifacts), () =>
    table(
      ["Artifact", "Produced by", { label: "Size", cls: "num" }, "Delivered to"],
      artifacts.map((a) =>
        h(
          "tr",
          { "data-artifact": a.name },
          h("td", { title: a.description ?? "" }, h("code", null, a.path)),
          h("td", null, a.producedBy),
          h("td", { class: "num" }, `${a.size} B`),
          h(
            "td",
            null,
            a.deliveredTo.length > 0
              ? a.deliveredTo.map((d) => `${d.consumer} → ${d.mountPath}/${a.name}`).join(", ")
              : "—",
          ),
        ),
      ),
      "Artifacts",
    ),
  );
}

function renderTasks(tasks) {
  const visible = tasks.filter((t) => t.status !== "deleted");
  $("tasks-count").textContent =
    `(${visible.filter((t) => t.status === "completed").length}/${visible.length} done)`;
  renderInto($("tasks"), JSON.stringify(visible), () => {
    if (visible.length === 0)
      return empty("No tasks yet. The lead creates them in the team's shared task list.");
    return table(
      [{ label: "#", cls: "num" }, "Subject", "Status", "Owner", "Blocked by"],
      visible.map((t) =>
        h(
          "tr",
          { "data-task": t.id },
          h("td", { class: "num" }, t.id),
          h(
            "td",
            null,
            h("div", { class: "task-subject" }, t.subject),
            t.description ? h("div", { class: "muted small clamp" }, t.description) : null,
          ),
          h("td", null, badge(t.status, "badge-sm")),
          h("td", null, t.owner ?? h("span", { class: "muted" }, "unclaimed")),
          h("td", null, t.blockedBy?.length ? t.blockedBy.map((id) => `#${id}`).join(", ") : "—"),
        ),
      ),
      "Tasks",
    );
  });
}

function renderMessages(messages) {
  $("messages-count").textContent = `(${messages.length})`;
  const newest = [...messages].reverse();
  renderInto($("messages"), JSON.stringify(newest), () => {
    if (newest.length === 0) return empty("No messages yet.");
    return h(
      "ol",
      { class: "messages", reversed: true },
      newest.map((m) =>
        h(
          "li",
          { class: `message-item${m.read ? "" : " unread"}` },
          h(
            "div",
            { class: "message-head" },
            h("strong", null, m.from),
            h("span", { class: "muted", "aria-label": "to" }, " → "),
            h("strong", null, m.to),
            m.read ? null : h("span", { class: "pill" }, "unread"),
            h("time", { class: "muted small", datetime: m.timestamp }, clock(m.timestamp)),
          ),
          m.summary ? h("div", { class: "message-summary" }, m.summary) : null,
          h("div", { class: "message-text" }, m.text),
        ),
      ),
    );
  });
}

function renderEvents(v) {
  const events = [...(v.events ?? [])].reverse();
  renderInto($("events"), JSON.stringify(events), () => {
    if (events.length === 0) return empty("No events yet.");
    return table(
      ["Time", "Reason", "Agent", "Message"],
      events.map((e) =>
        h(
          "tr",
          { class: e.type === "Warning" ? "warning-row" : undefined },
          h("td", { class: "nowrap" }, h("time", { datetime: e.time }, clock(e.time))),
          h("td", null, e.type === "Warning" ? h("span", { class: "warn-text" }, `⚠ ${e.reason}`) : e.reason),
          h("td", null, e.agent ?? "—"),
          h("td", null, e.message),
        ),
      ),
      "Events",
    );
  });
}

function renderTeam(view, tasks, messages) {
  $("empty").hidden = true;
  $("team").hidden = false;
  document.title = `${view.name} · Squadron`;
  renderHeader(view, tasks);
  renderApprovals(view);
  const graphKey = JSON.stringify([view.lead, view.teammates, view.gates, view.pipeline]);
  renderInto($("graph"), graphKey, () => renderGraph(view));
  renderTasks(tasks);
  renderMessages(messages);
  renderGates(view);
  renderArtifacts(view);
  renderEvents(view);
}

function showNoTeam(text) {
  $("team").hidden = true;
  $("empty").hidden = false;
  document.title = "Squadron · Agent teams";
  if (text) $("empty").querySelector("p").textContent = text;
}

// ---------- polling ----------

async function refresh() {
  if (state.inFlight) {
    state.again = true; // a route change or a decision while a poll runs: poll again right after
    return;
  }
  state.inFlight = true;
  state.again = false;
  const namespace = state.namespace;
  const team = state.team;
  try {
    const [teams, visible] = await Promise.all([api.teams(namespace), api.namespaces()]);
    if (namespace !== state.namespace) return;
    state.teams = teams;
    state.visibleNamespaces = visible;
    renderTeams();
    const shown = team ? teams.find((t) => teamKey(t) === team) : undefined;
    if (shown) {
      const [view, tasks, messages] = await Promise.all([
        api.team(shown.namespace, shown.name),
        api.tasks(shown.namespace, shown.name).catch(() => []),
        api.messages(shown.namespace, shown.name).catch(() => []),
      ]);
      if (team === state.team && namespace === state.namespace) {
        state.view = view;
        renderTeam(view, tasks, messages);
      }
    } else {
      showNoTeam(team ? `There is no team ${team} in namespace ${namespace}.` : undefined);
    }
    $("token-form").hidden = true;
    banner(null);
    state.lastOk = new Date();
    setLive("ok", `Live · updated ${clock(state.lastOk.toISOString())}`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      $("token-form").hidden = false;
      setLive("error", "Not signed in");
      banner(`The API refused the request: ${error.message}.`);
    } else if (error instanceof ApiError && error.status === 403) {
      setLive("error", "Not allowed");
      banner(`${error.message}. Pick a namespace your token may read.`);
    } else {
      setLive(
        "error",
        `Offline · ${state.lastOk ? `last update ${clock(state.lastOk.toISOString())}` : "no data yet"}`,
      );
      banner(`Cannot load data: ${error.message}. Retrying every ${POLL_MS / 1000} s.`);
    }
  } finally {
    state.inFlight = false;
  }
  if (state.again) await refresh();
}

function schedule() {
  clearTimeout(state.timer);
  state.timer = setTimeout(async () => {
    if (!document.hidden) await refresh();
    schedule();
  }, POLL_MS);
}

// ---------- wiring ----------

$("namespace").value = state.namespace;
$("namespace-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const ns = $("namespace").value.trim() || "default";
  window.location.hash = routeHref(ns, null);
});
$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  saveToken(window.sessionStorage, $("token-input").value.trim());
  $("token-input").value = "";
  refresh();
});
window.addEventListener("hashchange", readRoute);
document.addEventListener("visibilitychange", () => {
  if (!document.hidden) refresh();
});

refresh().then(schedule);
