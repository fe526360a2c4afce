// The studio: bots, clients, live conversations, transcript next to each turn's trace, the
// flow graph (server-side SVG) with coverage, and a "try it" pane with a clock override.
import { renderPayload } from "./render.js";

const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => { const n = document.createElement(tag); if (cls) n.className = cls; if (text !== undefined) n.textContent = String(text); return n; };
let key = sessionStorage.getItem("studio.key") || "";
let currentClient = null, currentConversation = null, trySession = null, tryBot = null;

async function api(path, init = {}) {
  const r = await fetch("/studio/api/" + path, { ...init, headers: { "x-bp-messaging-admin-key": key, "content-type": "application/json", ...(init.headers || {}) } });
  if (r.status === 401) { $("studio-status").textContent = "wrong admin key"; throw new Error("401"); }
  if (!r.ok) throw new Error(await r.text());
  return r;
}
const linkButton = (text, onClick) => { const b = el("button", null, text); b.type = "button"; b.addEventListener("click", onClick); return b; };

async function overview() {
  const data = await (await api("overview")).json();
  $("studio-status").textContent = "";
  const list = $("bots"); list.replaceChildren();
  for (const b of data.bots) {
    bots[b.id] = b;
    const li = el("li");
    li.append(linkButton(`${b.name} (${b.id})`, () => showGraph(b.id)));
    const last = b.lastReload;
    const reload = !data.reload ? "reload off" : !last ? "running since start" : last.ok ? "reloaded" : "edit refused: " + last.errors.join("; ");
    li.append(el("div", "small", `version ${b.version.slice(0, 12)} · ${b.steps} steps · ${reload}` + (b.coverage ? ` · coverage ${(b.coverage.stepRatio * 100).toFixed(0)}%` : "")));
    list.append(li);
  }
  const clients = $("clients"); clients.replaceChildren();
  for (const c of data.clients) {
    const li = el("li");
    li.append(linkButton(`${c.name || c.id}${c.bot ? " → " + c.bot : ""}`, () => { currentClient = c.id; conversations(); }));
    clients.append(li);
  }
  if (!currentClient && data.clients.length) currentClient = data.clients[data.clients.length - 1].id;
  if (!tryBot && data.bots.length) { tryBot = data.bots[0].id; showGraph(tryBot); }
}

async function conversations() {
  if (!currentClient) return;
  const rows = await (await api(`clients/${encodeURIComponent(currentClient)}/conversations`)).json();
  const list = $("conversations"); list.replaceChildren();
  for (const c of rows) {
    const li = el("li");
    li.append(linkButton(`${c.id.slice(0, 8)} · ${c.channel} · ${c.lastMessageOn || c.createdOn}`, () => { currentConversation = c.id; conversation(); }));
    list.append(li);
  }
}

async function conversation() {
  if (!currentConversation) return;
  const data = await (await api(`conversations/${encodeURIComponent(currentConversation)}`)).json();
  const box = $("turns"); box.replaceChildren();
  if (!data.turns.length) {
    for (const m of data.messages) box.append(renderPayload(m.payload, () => {}));
  }
  for (const t of data.turns) {
    const row = el("div", "turn");
    const left = el("div", "transcript");
    left.append(el("div", "small", `turn ${t.turn ?? ""} · ${t.at ?? ""}`), el("strong", null, "› " + t.input));
    for (const r of t.replies) left.append(el("div", "reply", "‹ " + r));
    row.append(left, traceBlock(t));
    box.append(row);
  }
}

function traceBlock(t) {
  const lines = [];
  const section = (name, items) => { if (items && items.length) lines.push(name + ":", ...items.map((l) => "  " + l)); };
  if (t.route) lines.push("route: " + t.route);
  section("triggers", t.triggers); section("steps", t.steps); section("variables", t.vars); section("calls", t.calls);
  if (t.error) lines.push("error: " + t.error);
  return el("pre", "trace", lines.join("\n"));
}

let bots = {}, currentFlow = null;

// The flow picker lists the bot's flows; the graph shows one flow at a time.
async function showGraph(botId, flow) {
  tryBot = botId;
  const bot = bots[botId];
  const picker = $("flow-pick");
  if (bot && picker.dataset.bot !== botId) {
    picker.replaceChildren(...bot.flowIds.map((f) => { const o = el("option", null, f); o.value = f; return o; }));
    picker.dataset.bot = botId;
  }
  currentFlow = flow || (bot && bot.firstFlow) || null;
  if (currentFlow) picker.value = currentFlow;
  const query = currentFlow ? `?flow=${encodeURIComponent(currentFlow)}` : "";
  const r = await api(`bots/${encodeURIComponent(botId)}/graph.svg${query}`);
  const text = await r.text();
  $("graph-by").textContent = r.headers.get("X-Drawn-By") ? `drawn by ${r.headers.get("X-Drawn-By")}` : "";
  const doc = new DOMParser().parseFromString(text, "image/svg+xml");
  const svg = document.importNode(doc.documentElement, true);
  const box = $("graph"); box.replaceChildren(svg);
  const pick = (node) => {
    if (node.dataset.flow) { showGraph(botId, node.dataset.flow); return; }  // a reference: open that flow
    svg.querySelectorAll(".node.selected").forEach((n) => n.classList.remove("selected"));
    node.classList.add("selected");
    $("node-info").textContent = `${node.dataset.step} — ${node.dataset.where}`;
  };
  svg.querySelectorAll("g.node[data-step], g.node[data-flow]").forEach((node) => {
    node.addEventListener("click", () => pick(node));
    node.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); pick(node); } });
  });
}
$("flow-pick").addEventListener("change", () => { if (tryBot) showGraph(tryBot, $("flow-pick").value); });

async function tryTurn(event) {
  const now = $("try-now").value || null;
  const r = await (await api("try", { method: "POST", body: JSON.stringify({ bot: tryBot, session: trySession, event, now }) })).json();
  trySession = r.session;
  const log = $("try-log");
  for (const p of r.replies) { const li = el("li", "msg bot"); li.append(renderPayload(p, tryTurn)); log.append(li); }
  $("try-trace").replaceChildren(traceBlock(r.trace));
  log.scrollTop = log.scrollHeight;
}

$("try-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("try-text").value.trim();
  if (!text || !tryBot) return;
  $("try-text").value = "";
  const li = el("li", "msg user"); li.append(renderPayload({ type: "text", text }, () => {})); $("try-log").append(li);
  tryTurn({ type: "text", text });
});
$("key-form").addEventListener("submit", (e) => { e.preventDefault(); key = $("admin-key").value; sessionStorage.setItem("studio.key", key); start(); });

async function refresh() { try { await conversations(); if (currentConversation) await conversation(); } catch { /* shown in status */ } }
let timer = null;
async function start() { await overview(); await refresh(); clearInterval(timer); timer = setInterval(refresh, 2000); }
start().catch(() => {});
