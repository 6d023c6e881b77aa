/* The helpdesk chat widget: include it on any page with
 *
 *   <script src="https://HELPDESK/widget.js" defer></script>
 *
 * It adds a launcher button (bottom right) and an iframe with the chat from the helpdesk's
 * own origin. Every URL is built from this script's own address, so it works from any site;
 * the iframe keeps the chat's styles and stored conversation apart from the host page.
 */
(function () {
  "use strict";
  if (window.__helpdeskWidget) return; // included twice: one launcher is enough
  window.__helpdeskWidget = true;

  // Only readable while the script first runs, not later in a callback.
  var script = document.currentScript;
  var base = new URL(script && script.src ? script.src : "/widget.js", document.baseURI);
  var origin = base.origin;
  var OPEN_KEY = "hd-widget-open";
  var LABEL = "Fragen Sie uns";

  function remember(open) {
    try {
      if (open) window.sessionStorage.setItem(OPEN_KEY, "1");
      else window.sessionStorage.removeItem(OPEN_KEY);
    } catch (e) { /* storage blocked: the panel just starts closed */ }
  }
  // Only for browsers that deny the chat frame its own storage (see widget-app.js).
  var ID_KEY = "hd-conversation";
  function keepId(id) {
    try {
      if (id) window.localStorage.setItem(ID_KEY, id);
      else window.localStorage.removeItem(ID_KEY);
    } catch (e) { /* then the conversation lasts as long as the page */ }
  }
  function keptId() {
    try {
      return window.localStorage.getItem(ID_KEY);
    } catch (e) {
      return null;
    }
  }
  function wasOpen() {
    try {
      return window.sessionStorage.getItem(OPEN_KEY) === "1";
    } catch (e) {
      return false;
    }
  }

  function start() {
    var launcher = document.createElement("button");
    launcher.type = "button";
    launcher.id = "hd-launcher";
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-controls", "hd-frame");
    var icon = document.createElement("span");
    icon.className = "hd-launcher__icon";
    icon.setAttribute("aria-hidden", "true");
    icon.textContent = "💬";
    var label = document.createElement("span");
    label.className = "hd-launcher__label";
    label.textContent = LABEL;
    var badge = document.createElement("span");
    badge.className = "hd-launcher__badge";
    badge.hidden = true;
    launcher.appendChild(icon);
    launcher.appendChild(label);
    launcher.appendChild(badge);

    var frame = document.createElement("iframe");
    frame.id = "hd-frame";
    frame.title = "Chat mit dem Support";
    frame.src = new URL("widget/", base).href;
    frame.hidden = true;

    function isOpen() {
      return !frame.hidden;
    }
    function tell(type, focus) {
      var message = { type: type, focus: focus !== false };
      if (frame.contentWindow) frame.contentWindow.postMessage(message, origin);
    }
    function setUnread(count) {
      badge.hidden = !count;
      badge.textContent = count ? String(count) : "";
      launcher.setAttribute("aria-label", count ? LABEL + " – " + count + " neue Nachricht" + (count > 1 ? "en" : "") : LABEL);
    }
    function openPanel() {
      frame.hidden = false;
      launcher.setAttribute("aria-expanded", "true");
      setUnread(0);
      remember(true);
      frame.focus();
      tell("hd:open");
    }
    function closePanel(returnFocus) {
      frame.hidden = true;
      launcher.setAttribute("aria-expanded", "false");
      remember(false);
      tell("hd:close");
      if (returnFocus) launcher.focus();
    }

    launcher.addEventListener("click", function () {
      if (isOpen()) closePanel(false);
      else openPanel();
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && isOpen()) closePanel(true);
    });
    window.addEventListener("message", function (event) {
      // Only our own frame may steer the launcher.
      if (event.origin !== origin || event.source !== frame.contentWindow || !event.data) return;
      if (event.data.type === "hd:close") closePanel(true);
      if (event.data.type === "hd:unread" && !isOpen()) setUnread(Number(event.data.count) || 0);
      if (event.data.type === "hd:store") keepId(typeof event.data.id === "string" ? event.data.id : null);
      if (event.data.type === "hd:restore-request" && frame.contentWindow) {
        frame.contentWindow.postMessage({ type: "hd:restore", id: keptId() }, origin);
      }
    });
    frame.addEventListener("load", function () {
      // Reopened after a reload: show the chat, but leave the focus where the page put it.
      if (isOpen()) tell("hd:open", document.activeElement === frame);
    });

    setUnread(0);
    document.body.appendChild(frame);
    document.body.appendChild(launcher);
    if (wasOpen()) {
      frame.hidden = false;
      launcher.setAttribute("aria-expanded", "true");
    }
  }

  // Styles for the two elements on the host page, from a file (host pages' CSP may forbid
  // inline styles, like this app's own). The launcher waits for them, so it never flashes
  // unstyled.
  function withStyles(then) {
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = new URL("static/widget-loader.css", base).href;
    var done = false;
    function once() {
      if (!done) {
        done = true;
        then();
      }
    }
    link.addEventListener("load", once);
    link.addEventListener("error", once);
    window.setTimeout(once, 3000);
    document.head.appendChild(link);
  }

  function boot() {
    withStyles(start);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
