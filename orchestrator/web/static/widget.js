// The embeddable widget: <script src="https://HOST/webchat/widget.js" data-client-id="ID"></script>
// Options: data-title, data-open="true". The chat renders in a shadow root of the host page.
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me) return;
  var base = new URL(".", me.src); // .../webchat/
  var clientId = me.getAttribute("data-client-id");
  var host = document.createElement("div");
  host.setAttribute("data-orchestrator-webchat", "");
  document.body.appendChild(host);
  var shadow = host.attachShadow({ mode: "open" });
  var css = document.createElement("link");
  css.rel = "stylesheet";
  css.href = new URL("static/chat.css", base).href;
  shadow.appendChild(css);
  var launcher = document.createElement("button");
  launcher.type = "button";
  launcher.className = "launcher";
  launcher.textContent = "Chat";
  launcher.setAttribute("aria-expanded", "false");
  var panel = document.createElement("div");
  panel.className = "widget-panel";
  panel.hidden = true;
  shadow.appendChild(panel);
  shadow.appendChild(launcher);
  var mounted = false;
  function toggle() {
    panel.hidden = !panel.hidden;
    launcher.setAttribute("aria-expanded", String(!panel.hidden));
    if (!mounted) {
      mounted = true;
      import(new URL("static/chat.js", base).href).then(function (m) {
        m.mountChat(panel, {
          clientId: clientId,
          base: base.origin,
          title: me.getAttribute("data-title") || "Chat",
        });
      });
    }
  }
  launcher.addEventListener("click", toggle);
  if (me.getAttribute("data-open") === "true") toggle();
})();
