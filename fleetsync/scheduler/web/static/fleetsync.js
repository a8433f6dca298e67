// fleetsync web view: live updates, actions and the API token. Plain script, no dependencies.
(function () {
  "use strict";
  var KEY = "fleetsync.token";
  var POLL_MS = 2000;
  var live = document.getElementById("live");
  var flash = document.getElementById("flash");

  function token() { return sessionStorage.getItem(KEY) || ""; }
  function headers() { return token() ? { Authorization: "Bearer " + token() } : {}; }

  function showToken() {
    var set = !!token();
    document.getElementById("token-state").textContent = set ? "token set" : "read-only";
    document.getElementById("token-forget").hidden = !set;
  }

  function say(text, ok) {
    flash.innerHTML = "";
    var p = document.createElement("p");
    p.className = ok ? "ok" : "failed";
    p.id = "flash-message";
    p.textContent = text;
    flash.appendChild(p);
  }

  var dialog = document.getElementById("token-dialog");
  var pending = null;
  function askToken(then) {
    pending = then || null;
    document.getElementById("token-input").value = "";
    dialog.showModal();
  }
  document.getElementById("token-button").addEventListener("click", function () { askToken(); });
  document.getElementById("token-forget").addEventListener("click", function () {
    sessionStorage.removeItem(KEY);
    showToken();
  });
  dialog.addEventListener("close", function () {
    if (dialog.returnValue === "save") {
      var value = document.getElementById("token-input").value.trim();
      if (value) { sessionStorage.setItem(KEY, value); }
      showToken();
      refresh(true);
      if (pending && value) { pending(); }
    }
    pending = null;
  });

  function typing() {
    // A live update would wipe what the operator is typing in one of its forms (a reason).
    var el = document.activeElement;
    return !!el && el.tagName === "INPUT" && live.contains(el);
  }

  function refresh(force) {
    if (!live || !live.dataset.src) { return Promise.resolve(); }
    if (!force && typing()) { return Promise.resolve(); }
    if (live.dataset.locked && !token()) { return Promise.resolve(); }
    var url = live.dataset.src;
    var since = force ? "" : live.dataset.version;
    if (since) { url += (url.indexOf("?") < 0 ? "?" : "&") + "since=" + encodeURIComponent(since); }
    return fetch(url, { headers: headers(), cache: "no-store" }).then(function (r) {
      var state = document.getElementById("live-state");
      if (r.status === 401 || r.status === 403) {
        state.textContent = "reads need the API token";
        return;
      }
      state.textContent = "live";
      if (r.status === 204) { return; }
      live.dataset.version = r.headers.get("X-Fleetsync-Version") || "";
      return r.text().then(function (html) { live.innerHTML = html; });
    }).catch(function () {
      document.getElementById("live-state").textContent = "offline: retrying";
    });
  }

  function act(method, url, body, retried) {
    var init = { method: method, headers: headers() };
    if (body) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    fetch(url, init).then(function (r) {
      if (r.status === 401 && !retried) {
        askToken(function () { act(method, url, body, true); });
        return;
      }
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (r.ok) {
          say(method + " " + url + ": accepted (" + r.status + ")" + summary(data), true);
        } else {
          say("refused (" + r.status + "): " + (data.detail || r.statusText), false);
        }
        refresh(true);
      });
    });
  }

  function summary(data) {
    if (data.enqueued && data.enqueued.length) { return ": " + data.enqueued.length + " queued"; }
    if (data.phase) { return ": rollout " + data.phase; }
    if (data.revision) { return ": " + data.revision; }
    return "";
  }

  document.addEventListener("click", function (e) {
    var button = e.target.closest("button.action");
    if (!button) { return; }
    e.preventDefault();
    act(button.dataset.method, button.dataset.url);
  });
  document.addEventListener("submit", function (e) {
    var form = e.target.closest("form.rollback");
    var freeze = e.target.closest("form.freeze") || e.target.closest("form.rollout-pin");
    if (freeze) {
      e.preventDefault();
      act("POST", freeze.dataset.url, { reason: freeze.elements.reason.value });
      return;
    }
    if (!form) { return; }
    e.preventDefault();
    act("POST", form.dataset.url, { revision: form.elements.revision.value });
  });

  var objects = document.getElementById("objects");
  if (objects && objects.dataset.src) {
    fetch(objects.dataset.src, { headers: headers() }).then(function (r) { return r.text(); })
      .then(function (html) { objects.innerHTML = html; });
  }

  showToken();
  if (live && live.dataset.locked) { refresh(true); }
  setInterval(function () { if (!document.hidden) { refresh(false); } }, POLL_MS);
  refresh(false);
})();
