/* Agent console: live queue and transcript (polling), KB suggestions and search,
   "Einfügen", replies and code checks with fetch. The server sends ready HTML (escaped or
   sanitized there); this script only places it. Without JavaScript every form still works. */
(function () {
  "use strict";

  var QUEUE_INTERVAL = 5000;
  var MESSAGES_INTERVAL = 3000;

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function getJson(url) {
    return fetch(url, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      redirect: "manual"
    }).then(function (response) {
      // A redirect here is the login page: the session has ended.
      if (response.type === "opaqueredirect" || response.status === 0) {
        throw new Error("Ihre Sitzung ist abgelaufen. Bitte laden Sie die Seite neu.");
      }
      return response.json().then(function (data) {
        if (!response.ok) { throw new Error(data.error || "Anfrage fehlgeschlagen."); }
        return data;
      });
    });
  }

  function postForm(form) {
    return fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
      credentials: "same-origin",
      redirect: "manual"
    }).then(function (response) {
      if (response.type === "opaqueredirect" || response.status === 0) {
        throw new Error("Ihre Sitzung ist abgelaufen. Bitte laden Sie die Seite neu.");
      }
      return response.json().catch(function () {
        if (response.status === 429) {
          throw new Error("Zu viele Anfragen. Bitte warten Sie einen Moment.");
        }
        throw new Error("Anfrage fehlgeschlagen (" + response.status + ").");
      }).then(function (data) {
        if (!response.ok) { throw new Error(data.error || "Anfrage fehlgeschlagen."); }
        return data;
      });
    });
  }

  function localTimes(root) {
    var times = (root || document).querySelectorAll("time[datetime]");
    for (var i = 0; i < times.length; i++) {
      var date = new Date(times[i].getAttribute("datetime"));
      if (!isNaN(date.getTime())) {
        times[i].textContent = date.toLocaleTimeString("de-DE", { hour: "2-digit", minute: "2-digit" });
      }
    }
  }

  function every(interval, task) {
    var busy = false;
    function tick() {
      if (busy || document.hidden) { return; }
      busy = true;
      task().then(function () { busy = false; }, function () { busy = false; });
    }
    window.setInterval(tick, interval);
    return tick;
  }

  /* -- queue page ------------------------------------------------------------------- */

  function initQueue(queue) {
    var status = document.getElementById("queue-status");
    var count = document.getElementById("queue-count");
    every(QUEUE_INTERVAL, function () {
      return getJson(queue.getAttribute("data-api")).then(function (data) {
        queue.innerHTML = data.html;
        if (count) { count.textContent = String(data.count); }
        document.title = (data.count ? "(" + data.count + ") " : "") + "Warteschlange · Helpdesk";
        if (status) { status.textContent = ""; }
      }, function (error) {
        if (status) { status.textContent = "Aktualisierung fehlgeschlagen: " + error.message; }
      });
    });
  }

  /* -- conversation page ------------------------------------------------------------ */

  function insertReply(text) {
    var area = document.getElementById("reply-text");
    if (!area) { return; }
    var start = area.selectionStart, end = area.selectionEnd;
    var before = area.value.slice(0, start), after = area.value.slice(end);
    var glue = before && !/\n$/.test(before) ? "\n\n" : "";
    area.value = before + glue + text + after;
    var caret = (before + glue + text).length;
    area.focus();
    area.setSelectionRange(caret, caret);
  }

  function initConversation(root) {
    var transcript = document.getElementById("transcript");
    var notice = document.getElementById("conv-notice");
    var stateLabel = document.getElementById("conv-state");
    var suggestions = document.getElementById("suggestions");
    var state = root.getAttribute("data-state");
    var lastId = parseInt(root.getAttribute("data-last-id"), 10) || 0;
    var lastCustomerId = parseInt(root.getAttribute("data-last-customer-id"), 10) || 0;

    function showNotice(text) {
      if (!notice) { return; }
      notice.textContent = text;
      notice.hidden = !text;
    }

    function refreshSuggestions() {
      if (!suggestions) { return Promise.resolve(); }
      return getJson(root.getAttribute("data-suggestions-url")).then(function (data) {
        suggestions.innerHTML = data.html;
      }, function () { /* keep the old ones; the next customer message tries again */ });
    }

    function appendMessages(messages) {
      var empty = transcript.querySelector(".transcript-empty");
      if (empty && messages.length) { empty.remove(); }
      messages.forEach(function (message) {
        if (message.id <= lastId || transcript.querySelector('.msg[data-id="' + message.id + '"]')) { return; }
        transcript.insertAdjacentHTML("beforeend", message.html);
        lastId = message.id;
      });
      localTimes(transcript);
      transcript.scrollTop = transcript.scrollHeight;
    }

    var poll = every(MESSAGES_INTERVAL, function () {
      var url = root.getAttribute("data-messages-url") + "?after=" + lastId;
      return getJson(url).then(function (data) {
        appendMessages(data.messages);
        if (stateLabel) { stateLabel.textContent = data.state_label; }
        if (data.state !== state) {
          showNotice("Der Status des Gesprächs hat sich geändert (" + data.state_label +
            "). Bitte laden Sie die Seite neu.");
        }
        if (data.last_customer_message_id && data.last_customer_message_id !== lastCustomerId) {
          lastCustomerId = data.last_customer_message_id;
          return refreshSuggestions();
        }
      }, function (error) {
        showNotice("Aktualisierung fehlgeschlagen: " + error.message);
      });
    });
    transcript.scrollTop = transcript.scrollHeight;

    var replyForm = document.getElementById("reply-form");
    if (replyForm) {
      var replyError = document.getElementById("reply-error");
      var send = document.getElementById("reply-send");
      replyForm.addEventListener("submit", function (event) {
        event.preventDefault();
        send.disabled = true;
        postForm(replyForm).then(function (data) {
          document.getElementById("reply-text").value = "";
          replyError.hidden = true;
          appendMessages([data.message]);
          if (state === "waiting") { state = "agent"; }
          poll();
        }, function (error) {
          // The text stays in the field: nothing typed is lost.
          replyError.textContent = error.message;
          replyError.hidden = false;
        }).then(function () { send.disabled = false; });
      });
    }

    var verifyForm = document.getElementById("verify-form");
    if (verifyForm) {
      var result = document.getElementById("verify-result");
      var identity = document.getElementById("identity");
      verifyForm.addEventListener("submit", function (event) {
        event.preventDefault();
        postForm(verifyForm).then(function (data) {
          result.textContent = data.message;
          result.className = "verify-result verify-result--" + (data.ok ? "ok" : "error");
          if (identity && data.identity_html) { identity.innerHTML = data.identity_html; }
        }, function (error) {
          result.textContent = error.message;
          result.className = "verify-result verify-result--error";
        }).then(function () {
          // The code is gone from the page whatever the outcome.
          document.getElementById("verify-code").value = "";
        });
      });
    }

    var searchForm = document.getElementById("kb-search-form");
    if (searchForm) {
      var results = document.getElementById("kb-results");
      searchForm.addEventListener("submit", function (event) {
        event.preventDefault();
        var q = document.getElementById("kb-search").value;
        var url = root.getAttribute("data-search-url") + "?q=" + encodeURIComponent(q);
        results.textContent = "Suche läuft …";
        getJson(url).then(function (data) {
          results.innerHTML = data.html;
        }, function (error) {
          results.textContent = error.message;
        });
      });
    }

    document.addEventListener("click", function (event) {
      var button = event.target.closest ? event.target.closest("button.insert") : null;
      if (button) { insertReply(button.getAttribute("data-reply") || ""); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    localTimes(document);
    var queue = document.getElementById("queue");
    if (queue) { initQueue(queue); }
    var conversation = document.getElementById("conversation");
    if (conversation) { initConversation(conversation); }
  });
})();
