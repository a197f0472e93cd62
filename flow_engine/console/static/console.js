// flow-engine console: our one small script. Pages work without it; it adds local times,
// live updates (Server-Sent Events) and forms that post without a reload.
"use strict";

// <time datetime> in the member's language; in its data-tz (a number's time zone, as the
// PDF and CSV show it, with the zone's name) or else in the browser's.
function localTimes(root) {
  var lang = document.documentElement.lang;
  root.querySelectorAll("time[datetime]").forEach(function (el) {
    var d = new Date(el.getAttribute("datetime"));
    if (isNaN(d)) { return; }
    var zone = el.getAttribute("data-tz");
    try {
      el.textContent = zone
        ? d.toLocaleString(lang, { timeZone: zone, timeZoneName: "short" })
        : d.toLocaleString(lang);
    } catch (e) {  // a zone this browser does not know: keep the server's text
    }
  });
}

function csrfToken() {
  var meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") : "";
}

// Replace the content of an element with HTML rendered (and escaped) by the server.
function replaceWith(id, html) {
  var target = document.getElementById(id);
  if (!target) { return; }
  var atBottom = target.scrollHeight - target.scrollTop - target.clientHeight < 40;
  target.innerHTML = html;
  localTimes(target);
  if (target.hasAttribute("data-stick-bottom") && atBottom) { target.scrollTop = target.scrollHeight; }
}

// <div data-stream="/console/…/stream">: each "replace" event names an element and its HTML.
function openStreams() {
  document.querySelectorAll("[data-stream]").forEach(function (el) {
    var status = el.querySelector("[data-live-status]");
    var source = new EventSource(el.getAttribute("data-stream"));
    source.addEventListener("replace", function (ev) {
      var data = JSON.parse(ev.data);
      replaceWith(data.target, data.html);
    });
    source.addEventListener("signedout", function () {
      source.close();
      window.location.assign("/console/login?next=" + encodeURIComponent(window.location.pathname));
    });
    source.addEventListener("open", function () { if (status) { status.hidden = true; } });
    source.addEventListener("error", function () { if (status) { status.hidden = false; } });
  });
}

// <form data-fetch>: posted in the background; the stream shows the result.
function fetchForms() {
  document.querySelectorAll("form[data-fetch]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var button = form.querySelector("button[type=submit]");
      if (button) { button.disabled = true; }
      fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { "X-CSRF-Token": csrfToken(), "X-Console-Fetch": "1" },
        credentials: "same-origin",
      }).then(function (resp) {
        return resp.text().then(function (text) {
          if (resp.ok) {
            var key = resp.headers.get("X-Next-Key");
            form.querySelectorAll("textarea").forEach(function (t) { t.value = ""; });
            var keyField = form.querySelector("input[name=key]");
            if (key && keyField) { keyField.value = key; }
            var out = form.querySelector("[data-form-status]");
            if (out) { out.textContent = ""; }
          } else {
            var out2 = form.querySelector("[data-form-status]");
            if (out2) { out2.textContent = text; }
          }
        });
      }).finally(function () {
        if (button) { button.disabled = false; }
        var area = form.querySelector("textarea");
        if (area) { area.focus(); }
      });
    });
  });
}

document.addEventListener("DOMContentLoaded", function () {
  localTimes(document);
  openStreams();
  fetchForms();
  var summary = document.getElementById("error-summary") || document.getElementById("diff") ||
    document.getElementById("report");
  if (summary) { summary.focus(); }
});
