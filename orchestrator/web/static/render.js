// Canonical payloads to DOM nodes. Nothing from a user or a bot is ever parsed as HTML:
// every text goes through textContent; the Markdown subset (**bold**, *italic*, `code`,
// [label](https://url), line breaks) builds elements one by one.

const el = (tag, cls, text) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
};

const safeUrl = (value) => {
  try {
    const url = new URL(String(value), location.href);
    return ["http:", "https:", "mailto:", "tel:"].includes(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
};

const INLINE = /(\*\*[^*]+\*\*|\*[^*]+\*|`[^`]+`|\[[^\]]+\]\([^)\s]+\))/;

export function markdown(text) {
  const out = document.createDocumentFragment();
  String(text ?? "").split("\n").forEach((line, i) => {
    if (i) out.append(el("br"));
    for (const part of line.split(INLINE)) {
      if (!part) continue;
      if (part.startsWith("**") && part.endsWith("**") && part.length > 4) out.append(el("strong", null, part.slice(2, -2)));
      else if (part.startsWith("`") && part.endsWith("`") && part.length > 2) out.append(el("code", null, part.slice(1, -1)));
      else if (part.startsWith("*") && part.endsWith("*") && part.length > 2) out.append(el("em", null, part.slice(1, -1)));
      else if (part.startsWith("[")) {
        const m = /^\[([^\]]+)\]\(([^)\s]+)\)$/.exec(part);
        const href = m && safeUrl(m[2]);
        if (href) {
          const a = el("a", null, m[1]);
          a.href = href; a.target = "_blank"; a.rel = "noopener noreferrer";
          out.append(a);
        } else out.append(document.createTextNode(part));
      } else out.append(document.createTextNode(part));
    }
  });
  return out;
}

function chips(choices, send, cls = "chips") {
  const box = el("div", cls);
  box.setAttribute("role", "group");
  for (const c of choices) {
    const b = el("button", "chip", c.title);
    b.type = "button";
    b.addEventListener("click", () => {
      send({ type: "quick_reply", payload: c.value, text: c.title });
      box.remove(); // chips disappear once used
    });
    box.append(b);
  }
  return box;
}

function button(b, send) {
  const kind = b.type || (b.action === "Open URL" ? "link" : "postback");
  const label = b.label ?? b.title ?? "";
  const url = b.payload?.url ?? b.url;
  const phone = b.payload?.phone;
  if ((kind === "link" || b.action === "Open URL") && safeUrl(url)) {
    const a = el("a", "button", label);
    a.href = safeUrl(url); a.target = "_blank"; a.rel = "noopener noreferrer";
    return a;
  }
  if (kind === "phone" && phone) {
    const a = el("a", "button", label);
    a.href = "tel:" + String(phone).replace(/[^+\d]/g, "");
    return a;
  }
  const node = el("button", "button", label);
  node.type = "button";
  const payload = typeof b.payload === "string" ? b.payload : b.payload?.payload;
  node.addEventListener("click", () => {
    if (b.action === "Say something") send({ type: "text", text: b.text || label });
    else send({ type: "postback", payload: payload || label, text: label });
  });
  return node;
}

function media(tag, url, title) {
  const href = safeUrl(url);
  if (!href) return el("p", null, title || url);
  if (tag === "img") {
    const img = el("img", "media");
    img.src = href; img.alt = title || "image"; img.loading = "lazy";
    return img;
  }
  if (tag === "a") {
    const a = el("a", "file", "📎 " + (title || href.split("/").pop()));
    a.href = href; a.target = "_blank"; a.rel = "noopener noreferrer";
    return a;
  }
  const m = el(tag, "media");
  m.src = href; m.controls = true;
  if (title) m.setAttribute("aria-label", title);
  return m;
}

function card(c, send) {
  const box = el("div", "card");
  if (c.image) box.append(media("img", c.image, c.title));
  box.append(el("div", "card-title", c.title));
  if (c.subtitle) box.append(el("div", "card-subtitle", c.subtitle));
  const actions = el("div", "card-actions");
  for (const a of c.actions || []) actions.append(button(a, send));
  box.append(actions);
  return box;
}

// One payload as a node; `send` posts a user payload; `link` opens an account-linking page.
export function renderPayload(p, send) {
  const t = p?.type;
  const text = (s) => { const d = el("div", "text"); d.append(markdown(s)); return d; };
  switch (t) {
    case "text": return text(p.text);
    case "image": return media("img", p.image, p.title);
    case "audio": return media("audio", p.audio, p.title);
    case "video": return media("video", p.video, p.title);
    case "file": return media("a", p.file, p.title);
    case "location": {
      const a = el("a", "file", "📍 " + (p.title || p.address || `${p.latitude}, ${p.longitude}`));
      a.href = `https://www.openstreetmap.org/?mlat=${Number(p.latitude)}&mlon=${Number(p.longitude)}`;
      a.target = "_blank"; a.rel = "noopener noreferrer";
      return a;
    }
    case "buttons": {
      const box = text(p.text);
      const row = el("div", "buttons");
      for (const b of p.buttons || []) row.append(button(b, send));
      box.append(row);
      if (p.quick_replies?.length) box.append(chips(p.quick_replies, send));
      return box;
    }
    case "single-choice": {
      const box = text(p.text);
      box.append(chips(p.choices || [], send));
      return box;
    }
    case "card": return card(p, send);
    case "carousel": {
      const box = el("div", "carousel");
      box.tabIndex = 0;
      box.setAttribute("aria-label", "carousel");
      for (const item of p.items || []) box.append(card(item, send));
      return box;
    }
    case "account_linking": {
      const box = text(p.text);
      const href = safeUrl(p.url);
      if (href) {
        const a = el("a", "button link-account", p.params?.button_text || "Log in");
        a.href = href; a.target = "_blank"; a.rel = "noopener";
        box.append(a);
      }
      return box;
    }
    case "postback":
    case "quick_reply": return text(p.text || p.payload);
    case "event": return el("div", "event", p.event);
    default: return text(p?.text || `[${t}]`);
  }
}
