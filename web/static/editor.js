// KB editor: live preview while typing, a warning before leaving with unsaved changes,
// and a confirmation before unpublishing. Loaded by every editor page; each part only acts
// when its elements are on the page. No inline scripts (the CSP forbids them).
(function () {
  "use strict";

  var PREVIEW_DELAY_MS = 400;

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function setupPreview(form) {
    var body = document.getElementById("body");
    var preview = document.getElementById("preview");
    var status = document.getElementById("preview-status");
    var url = form.getAttribute("data-preview-url");
    if (!body || !preview || !url) return;
    var timer = null;
    var sequence = 0; // answers may arrive out of order; only the newest is shown

    function render() {
      var mine = ++sequence;
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify({ body: body.value })
      })
        .then(function (response) {
          if (!response.ok) throw new Error(String(response.status));
          return response.json();
        })
        .then(function (data) {
          if (mine !== sequence) return;
          // The server cleaned this HTML with an allowlist sanitizer (nh3) after rendering
          // the Markdown, so it carries no scripts, handlers or javascript: URLs; the CSP
          // would block inline script anyway. That is why innerHTML is acceptable here.
          preview.innerHTML = data.html;
          if (status) status.textContent = "";
        })
        .catch(function () {
          if (mine !== sequence) return;
          if (status) status.textContent = "Die Vorschau ist gerade nicht verfügbar. Ihr Text bleibt erhalten.";
        });
    }

    body.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(render, PREVIEW_DELAY_MS);
    });
  }

  function setupUnsavedWarning(form) {
    var dirty = false;
    form.addEventListener("input", function () { dirty = true; });
    form.addEventListener("change", function () { dirty = true; });
    form.addEventListener("submit", function () { dirty = false; });
    window.addEventListener("beforeunload", function (event) {
      if (!dirty) return;
      event.preventDefault();
      event.returnValue = ""; // the browser shows its own "leave page?" question
    });
    return function () { return dirty; };
  }

  function setupUnpublish(isDirty) {
    var form = document.getElementById("unpublish-form");
    if (!form) return;
    form.addEventListener("submit", function (event) {
      var question = "Den Artikel wirklich zurückziehen? Der Bot verwendet ihn dann nicht mehr.";
      if (isDirty()) {
        question += "\n\nIhre ungespeicherten Änderungen im Formular werden dabei nicht übernommen.";
      }
      if (!window.confirm(question)) event.preventDefault();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("article-form");
    if (!form) return;
    setupPreview(form);
    setupUnpublish(setupUnsavedWarning(form));
  });
})();
