// The chat UI and its WebSocket: identity kept in localStorage, history on open, resume from
// the last message seen after a drop, user messages re-sent with the same id until echoed.
import { renderPayload } from "./render.js";

const el = (tag, cls, text) => {
  const n = document.createElement(tag);
  if (cls) n.className = cls;
  if (text !== undefined) n.textContent = text;
  return n;
};
const BANNERS = {
  pending: "Connecting you with a person…",
  agent: "An agent joined the conversation.",
  closed: "The conversation was closed.",
};

export function mountChat(root, { clientId, base, title }) {
  const key = `orchestrator.webchat:${base}:${clientId}`;
  let ident = {};
  try { ident = JSON.parse(localStorage.getItem(key) || "{}"); } catch { ident = {}; }
  const save = () => localStorage.setItem(key, JSON.stringify(ident));

  const box = el("section", "chat");
  box.setAttribute("aria-label", title);
  const head = el("header", "chat-head");
  head.append(el("h1", "chat-title", title));
  const status = el("span", "status", "connecting…");
  status.setAttribute("role", "status");
  head.append(status);
  const banner = el("div", "banner");
  banner.hidden = true;
  banner.setAttribute("role", "status");
  const log = el("ol", "log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-label", "messages");
  const typing = el("div", "typing", "Bot is typing…");
  typing.hidden = true;
  typing.setAttribute("aria-live", "polite");
  const form = el("form", "composer");
  const input = el("input");
  input.type = "text"; input.name = "text"; input.autocomplete = "off";
  input.maxLength = 4000; input.placeholder = "Type a message"; input.setAttribute("aria-label", "Message");
  const sendBtn = el("button", "send", "Send");
  sendBtn.type = "submit";
  form.append(input, sendBtn);
  box.append(head, banner, log, typing, form);
  root.append(box);

  const seen = new Set();
  const pending = new Map(); // id -> payload, until echoed
  let lastSeen = null; // in memory: a reloaded page starts from history
  let ws = null, attempt = 0, typingTimer = null, handoff = "bot";

  function showTyping(on) {
    typing.hidden = !on;
    clearTimeout(typingTimer);
    if (on) typingTimer = setTimeout(() => (typing.hidden = true), 20000);
  }
  function setHandoff(state) {
    const before = handoff;
    handoff = state;
    if (BANNERS[state]) { banner.textContent = BANNERS[state]; banner.hidden = false; banner.dataset.state = state; }
    else if (before !== "bot" && (state === "bot" || state === "released")) {
      banner.textContent = "You're back with the bot."; banner.hidden = false; banner.dataset.state = "bot";
    } else banner.hidden = true;
  }
  function add(message) {
    if (seen.has(message.id)) return;
    seen.add(message.id);
    pending.delete(message.id);
    const mine = Boolean(message.authorId);
    if (mine) log.querySelectorAll(".chips").forEach((c) => c.remove());
    const item = el("li", mine ? "msg user" : "msg bot");
    item.dataset.id = message.id;
    if (message.payload?.type === "typing") { showTyping(message.payload.value !== false); return; }
    item.append(renderPayload(message.payload, sendPayload));
    log.append(item);
    lastSeen = message.id;
    log.scrollTop = log.scrollHeight;
  }
  function sendFrame(frame) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
  }
  function sendPayload(payload) {
    const id = crypto.randomUUID();
    pending.set(id, payload);
    sendFrame({ type: "message", id, payload });
  }
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    sendPayload({ type: "text", text });
  });

  function connect() {
    const url = new URL("/webchat/ws", base);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("clientId", clientId);
    ws = new WebSocket(url);
    let opened = false;
    ws.addEventListener("open", () => {
      opened = true; attempt = 0;
      ws.send(JSON.stringify({ type: "hello", userId: ident.userId, userToken: ident.userToken,
        conversationId: ident.conversationId, lastSeen }));
    });
    ws.addEventListener("message", (e) => {
      const f = JSON.parse(e.data);
      if (f.type === "ready") {
        if (f.userToken) { ident = { userId: f.userId, userToken: f.userToken, conversationId: f.conversationId }; save(); }
        ident.conversationId = f.conversationId; save();
        setHandoff(f.handoff || "bot");
      } else if (f.type === "message") add(f.message);
      else if (f.type === "synced") {
        status.textContent = "online"; box.dataset.state = "online";
        for (const [id, payload] of pending) sendFrame({ type: "message", id, payload }); // resend, same ids
      } else if (f.type === "typing") showTyping(f.on);
      else if (f.type === "handoff") setHandoff(f.state);
      else if (f.type === "error") {
        status.textContent = "error: " + f.message;
        if (f.code === 4401) { ident = {}; save(); }
      }
    });
    ws.addEventListener("close", () => {
      box.dataset.state = opened ? "reconnecting" : "refused";
      status.textContent = opened ? "reconnecting…" : "can't connect";
      attempt += 1;
      setTimeout(connect, Math.min(30000, 300 * 2 ** Math.min(attempt, 7)));
    });
  }
  connect();
  return box;
}
