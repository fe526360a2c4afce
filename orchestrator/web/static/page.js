// The full-page chat at /webchat/?clientId=...
import { mountChat } from "./chat.js";

const root = document.getElementById("chat-root");
const clientId = new URLSearchParams(location.search).get("clientId");
if (!clientId) {
  const p = document.createElement("p");
  p.className = "hint";
  p.textContent =
    "Add ?clientId=<your client id> to this address. The client needs a webchat channel " +
    "(POST /api/v1/sync with channels.webchat) and a bot. See docs/webchat.md.";
  root.append(p);
} else {
  mountChat(root, { clientId, base: location.origin, title: "Chat" });
}
