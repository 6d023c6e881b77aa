/* The chat inside the widget's iframe (/widget/): talks to /api/chat/ on this origin.
 *
 * The conversation id lives in this frame's localStorage, so a reload of the host page
 * brings the conversation back. Bot and agent messages arrive as HTML the server has
 * already sanitized; customers' own messages are shown as plain text. Nothing the customer
 * typed is thrown away on an error: the text stays in the input until the server has it.
 */
(function () {
  "use strict";

  var API = "/api/chat/conversations";
  var STORE_KEY = "hd-conversation";
  var POLL_OPEN_MS = 2000; // panel open and visible: agent replies feel live
  var POLL_IDLE_MS = 15000; // closed or in a background tab
  var TEXT = {
    empty: "Bitte geben Sie eine Nachricht ein.",
    network: "Keine Verbindung zum Support. Ihre Nachricht ist nicht verloren – bitte versuchen Sie es gleich noch einmal.",
    failed: "Das hat leider nicht geklappt. Bitte versuchen Sie es noch einmal.",
    waiting: "Ein Mitarbeiter übernimmt das Gespräch in Kürze. Sie können hier schon schreiben.",
    agent: "Sie schreiben mit einem Mitarbeiter des Supports.",
    limited: "Eingeschränkter Service",
    guide: "Zur Anleitung: ",
    buttons: "Antwortmöglichkeiten",
    choices: "Anleitungen zur Auswahl",
    feedback: "War diese Antwort hilfreich?",
    who: { customer: "Sie", bot: "Assistent", agent: "Mitarbeiter", system: "Hinweis" },
  };
  var SENDERS = ["customer", "bot", "agent", "system"];

  var els = {};
  var conversationId = null;
  var lastId = 0;
  var seen = {};
  var state = "bot";
  var busy = false;
  var open = window.parent === window; // opened directly, not embedded: always "open"
  var pollTimer = null;
  var unread = 0;
  var activeGroups = [];

  /* Where the conversation id is kept. This frame's own localStorage when the browser
   * allows it; browsers that block storage in third-party frames get the id kept by the
   * loader on the host page instead (it only ever holds ids this frame gave it). */
  var ownStorage = (function () {
    try {
      window.localStorage.setItem("hd-probe", "1");
      window.localStorage.removeItem("hd-probe");
      return true;
    } catch (e) {
      return false;
    }
  })();
  var embedded = window.parent !== window;

  function restore(then) {
    if (ownStorage) return then(window.localStorage.getItem(STORE_KEY));
    if (!embedded) return then(null);
    var done = false;
    function finish(id) {
      if (done) return;
      done = true;
      window.removeEventListener("message", onReply);
      then(typeof id === "string" && id ? id : null);
    }
    function onReply(event) {
      if (event.source === window.parent && event.data && event.data.type === "hd:restore") {
        finish(event.data.id);
      }
    }
    window.addEventListener("message", onReply);
    tellParent({ type: "hd:restore-request" });
    window.setTimeout(finish, 1500); // an old loader that does not answer
  }
  function save(id) {
    if (ownStorage) {
      if (id) window.localStorage.setItem(STORE_KEY, id);
      else window.localStorage.removeItem(STORE_KEY);
    } else {
      tellParent({ type: "hd:store", id: id || null });
    }
  }

  function api(method, path, body) {
    var options = { method: method, headers: { Accept: "application/json" }, credentials: "omit" };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(path, options).then(function (response) {
      return response.json().then(
        function (data) { return { ok: response.ok, status: response.status, data: data || {} }; },
        function () { return { ok: response.ok, status: response.status, data: {} }; }
      );
    });
  }

  function messagesPath() {
    return API + "/" + encodeURIComponent(conversationId) + "/messages";
  }

  function ensureConversation() {
    if (conversationId) return Promise.resolve();
    return api("POST", API, {}).then(function (r) {
      if (!r.ok || !r.data.conversation_id) throw { message: r.data.error || TEXT.failed };
      conversationId = r.data.conversation_id;
      save(conversationId);
      render(r.data.messages || []);
      setState(r.data.state || "bot");
    });
  }

  function forget() {
    conversationId = null;
    save(null);
    lastId = 0;
    seen = {};
    activeGroups = [];
    var old = els.log.querySelectorAll(".hd-msg");
    for (var i = 0; i < old.length; i++) old[i].remove();
    setState("bot");
  }

  /* Sends one message; resolves true once the server has stored it. */
  function send(text, display) {
    if (busy) return Promise.resolve(false);
    busy = true;
    hideError();
    els.send.disabled = true;
    els.typing.hidden = state !== "bot";
    // Shown until the server has stored the message; then the stored one takes its place.
    var pending = el("div", "hd-pending", display || text);
    els.log.appendChild(pending);
    els.log.scrollTop = els.log.scrollHeight;
    var before = lastId;
    var retried = false;
    var body = display ? { text: text, display: display } : { text: text };

    function attempt() {
      return ensureConversation()
        .then(function () { return api("POST", messagesPath(), body); })
        .then(function (r) {
          if (r.status === 404 && !retried) {
            retried = true; // the stored conversation is gone: start a new one, once
            forget();
            return attempt();
          }
          return r;
        });
    }

    return attempt()
      .then(function (r) {
        if (!r.ok) {
          showError(r.data.error || TEXT.failed);
          return false;
        }
        render(r.data.messages || []);
        setState(r.data.state);
        if (before) poll(before); // anything that arrived meanwhile (an agent's reply)
        return true;
      })
      .catch(function (error) {
        showError(error && error.message && !(error instanceof TypeError) ? error.message : TEXT.network);
        return false;
      })
      .then(function (ok) {
        pending.remove();
        busy = false;
        els.send.disabled = false;
        els.typing.hidden = true;
        schedulePoll();
        return ok;
      });
  }

  function poll(after, quiet) {
    if (!conversationId) return Promise.resolve();
    var path = messagesPath() + "?after=" + (after === undefined ? lastId : after);
    return api("GET", path).then(
      function (r) {
        if (r.status === 404) {
          forget();
          return;
        }
        if (!r.ok) return;
        render(r.data.messages || [], quiet);
        setState(r.data.state);
      },
      function () { /* offline for a moment: the next poll will catch up */ }
    );
  }

  function schedulePoll() {
    window.clearTimeout(pollTimer);
    if (!conversationId) return;
    var delay = open && !document.hidden ? POLL_OPEN_MS : POLL_IDLE_MS;
    pollTimer = window.setTimeout(function () {
      (busy ? Promise.resolve() : poll()).then(schedulePoll);
    }, delay);
  }

  function setState(next) {
    if (!next) return;
    state = next;
    var line = next === "waiting" ? TEXT.waiting : next === "agent" ? TEXT.agent : "";
    els.status.textContent = line;
    els.status.hidden = !line;
    els.status.className = "hd-status" + (line ? " hd-status--" + next : "");
  }

  /* ``quiet``: the history after a reload, already read; it is no news for the launcher. */
  function render(messages, quiet) {
    var added = false;
    var news = 0;
    messages.forEach(function (m) {
      if (!m || typeof m.id !== "number" || seen[m.id]) return;
      seen[m.id] = true;
      lastId = Math.max(lastId, m.id);
      if (m.sender === "customer") disableGroups(activeGroups.splice(0));
      else news += 1;
      insertSorted(bubble(m), m.id);
      added = true;
    });
    if (added) els.log.scrollTop = els.log.scrollHeight;
    if (news && !quiet && (!open || document.hidden)) {
      unread += news;
      tellParent({ type: "hd:unread", count: unread });
    }
  }

  function insertSorted(node, id) {
    var all = els.log.querySelectorAll(".hd-msg");
    for (var i = all.length - 1; i >= 0; i--) {
      if (Number(all[i].getAttribute("data-id")) < id) {
        all[i].after(node);
        return;
      }
    }
    if (all.length) all[0].before(node);
    else els.log.appendChild(node);
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function safeUrl(url) {
    try {
      var parsed = new URL(url, window.location.href);
      return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
    } catch (e) {
      return null;
    }
  }

  function bubble(m) {
    var sender = SENDERS.indexOf(m.sender) >= 0 ? m.sender : "system";
    var node = el("div", "hd-msg hd-msg--" + sender);
    node.setAttribute("data-id", String(m.id));
    node.appendChild(el("span", "hd-visually-hidden", TEXT.who[sender] + ": "));
    if (m.limited) node.appendChild(el("span", "hd-limited", TEXT.limited));
    var body = el("div", "hd-body");
    if (sender === "customer") {
      body.textContent = m.text || "";
    } else {
      body.innerHTML = m.html || ""; // sanitized by the server (allowlist), CSP as backstop
      var links = body.querySelectorAll("a");
      for (var i = 0; i < links.length; i++) {
        // Inside the frame a followed link would replace the chat: open a new tab instead.
        links[i].target = "_blank";
        links[i].rel = "noopener noreferrer";
      }
    }
    node.appendChild(body);
    var guideUrl = m.article ? safeUrl(m.article.url) : null;
    var inText = null;
    if (guideUrl) {
      var anchors = body.querySelectorAll("a");
      for (var j = 0; j < anchors.length; j++) {
        if (anchors[j].href === new URL(guideUrl, document.baseURI).href) inText = anchors[j];
      }
    }
    if (inText) {
      inText.classList.add("hd-guide"); // the answer names its guide already: no second link
    } else if (guideUrl) {
      var guide = el("a", "hd-guide", TEXT.guide + (m.article.title || "Anleitung"));
      guide.href = safeUrl(m.article.url);
      guide.target = "_blank";
      guide.rel = "noopener noreferrer";
      node.appendChild(guide);
    }
    var buttons = Array.isArray(m.buttons) ? m.buttons : [];
    var thumbs = buttons.filter(isFeedback);
    var quick = buttons.filter(function (b) { return !isFeedback(b); });
    if (quick.length) {
      // A clarifying question: one button per guide, then "Etwas anderes"; the chosen
      // guide's answer follows as the bot's next message.
      var choices = m.verdict === "clarify";
      node.appendChild(group(
        quick,
        choices ? "hd-buttons hd-choices" : "hd-buttons",
        choices ? TEXT.choices : TEXT.buttons,
        quickButton
      ));
    }
    if (thumbs.length) node.appendChild(group(thumbs, "hd-thumbs", TEXT.feedback, thumbButton));
    if (m.time) {
      var time = el("time", "hd-time", formatTime(m.time));
      time.dateTime = m.time;
      node.appendChild(time);
    }
    return node;
  }

  function isFeedback(button) {
    return typeof button.payload === "string" && button.payload.indexOf("/feedback_") === 0;
  }

  function group(buttons, className, label, make) {
    var box = el("div", className);
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", label);
    if (make === thumbButton) {
      var caption = el("span", "hd-thumbs__label", label);
      caption.setAttribute("aria-hidden", "true"); // the group is already labelled
      box.appendChild(caption);
    }
    buttons.forEach(function (b) { box.appendChild(make(b)); });
    box.addEventListener("click", function (event) {
      var target = event.target.closest("button");
      if (!target || target.disabled) return;
      choose(box, target);
    });
    activeGroups.push(box);
    return box;
  }

  function quickButton(b) {
    var button = el("button", "hd-quick", b.title || b.payload);
    button.type = "button";
    button.setAttribute("data-payload", b.payload || "");
    button.setAttribute("data-title", b.title || "");
    return button;
  }

  function thumbButton(b) {
    var helpful = b.payload === "/feedback_helpful";
    var button = el("button", "hd-thumb hd-thumb--" + (helpful ? "up" : "down"), helpful ? "👍" : "👎");
    button.type = "button";
    button.setAttribute("aria-label", b.title || (helpful ? "Hat geholfen" : "Hat nicht geholfen"));
    button.title = b.title || "";
    button.setAttribute("data-payload", b.payload || "");
    button.setAttribute("data-title", b.title || "");
    return button;
  }

  function choose(box, button) {
    if (busy) return;
    disableGroups([box]);
    button.setAttribute("aria-pressed", "true");
    send(button.getAttribute("data-payload"), button.getAttribute("data-title")).then(function (ok) {
      if (!ok) { // nothing was sent: the choice is still open
        button.removeAttribute("aria-pressed");
        enableGroup(box);
      }
    });
  }

  function disableGroups(boxes) {
    boxes.forEach(function (box) {
      var buttons = box.querySelectorAll("button");
      for (var i = 0; i < buttons.length; i++) buttons[i].disabled = true;
      box.classList.add("hd-used");
    });
  }

  function enableGroup(box) {
    var buttons = box.querySelectorAll("button");
    for (var i = 0; i < buttons.length; i++) buttons[i].disabled = false;
    box.classList.remove("hd-used");
  }

  function formatTime(iso) {
    var date = new Date(iso);
    if (isNaN(date.getTime())) return "";
    return date.toLocaleTimeString("de-DE", { hour: "2-digit", minute: "2-digit" });
  }

  function showError(message) {
    els.error.textContent = message;
    els.error.hidden = false;
  }
  function hideError() {
    els.error.hidden = true;
    els.error.textContent = "";
  }

  function tellParent(message) {
    // Only commands and counts: nothing secret, so any embedding origin may hear them.
    if (embedded) window.parent.postMessage(message, "*");
  }

  function submit() {
    if (busy) return; // the text stays in the input; Enter again once the reply is there
    var text = els.input.value;
    if (!text.trim()) {
      showError(TEXT.empty);
      els.input.focus();
      return;
    }
    els.input.value = "";
    autosize();
    send(text).then(function (ok) {
      if (!ok) { // put it back, with whatever was typed meanwhile
        var now = els.input.value;
        els.input.value = now ? text + "\n" + now : text;
        autosize();
      }
      els.input.focus();
    });
  }

  function autosize() {
    els.input.style.height = "auto";
    els.input.style.height = Math.min(els.input.scrollHeight, 140) + "px";
  }

  function setOpen(value, focus) {
    open = value;
    if (open) {
      unread = 0;
      tellParent({ type: "hd:unread", count: 0 });
      if (focus) els.input.focus();
      poll().then(schedulePoll);
    } else {
      schedulePoll();
    }
  }

  function start() {
    ["log", "form", "input", "send", "typing", "status", "error", "close", "restart"].forEach(
      function (name) { els[name] = document.getElementById("hd-" + name); }
    );
    if (!embedded) els.close.hidden = true;

    els.form.addEventListener("submit", function (event) {
      event.preventDefault();
      submit();
    });
    els.input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        submit();
      }
    });
    els.input.addEventListener("input", function () {
      autosize();
      if (!els.error.hidden && els.input.value.trim()) hideError();
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape") tellParent({ type: "hd:close" });
    });
    els.close.addEventListener("click", function () { tellParent({ type: "hd:close" }); });
    els.restart.addEventListener("click", function () {
      if (busy) return;
      forget();
      els.input.focus();
    });
    var suggestions = document.querySelectorAll(".hd-suggest");
    for (var i = 0; i < suggestions.length; i++) {
      suggestions[i].addEventListener("click", function (event) {
        if (!busy) send(event.currentTarget.textContent.trim());
      });
    }
    window.addEventListener("message", function (event) {
      if (event.source !== window.parent || !event.data) return;
      if (event.data.type === "hd:open") setOpen(true, event.data.focus !== false);
      if (event.data.type === "hd:close") setOpen(false, false);
    });
    document.addEventListener("visibilitychange", schedulePoll);

    restore(function (id) {
      conversationId = id;
      if (conversationId) poll(0, true).then(schedulePoll);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
