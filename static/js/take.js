// The candidate's question page: shows the server's clock, waits for verdicts graded by
// workers, reveals hints, and reports focus losses and pastes. The server decides
// everything; without this script the page still works through its forms.
(function () {
  "use strict";

  var page = document.querySelector("article.question");
  if (!page) return;
  var strings = JSON.parse(document.getElementById("take-strings").textContent);
  var form = document.getElementById("answer-form");
  var feedback = document.getElementById("feedback");
  var announce = document.getElementById("timer-announce");
  var timerText = page.querySelector(".timer-text");
  var timerBar = document.getElementById("timer-bar");
  var timerIcon = page.querySelector(".timer-icon");
  var timerState = document.getElementById("timer-state");
  var csrf = document.querySelector("input[name=csrfmiddlewaretoken]");
  var position = Number(page.dataset.position);

  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, name) { return values[name]; });
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      keepalive: true,
      headers: {
        "Accept": "application/json",
        "Content-Type": "application/json",
        "X-CSRFToken": csrf ? csrf.value : ""
      },
      body: JSON.stringify(body || {})
    });
  }

  // The clock: the server fixed the deadline; the page counts down to it and re-syncs.
  var localDeadline = null;
  if (page.dataset.deadlineMs) {
    localDeadline = Date.now() + (Number(page.dataset.deadlineMs) - Number(page.dataset.nowMs));
  }
  var announced = {};
  if (localDeadline !== null) {
    // A threshold passed well before the page loaded (a reload) is not announced late:
    // "one minute remaining" with fourteen seconds left would mislead. One just reached
    // (a ten-second question opening) still is.
    var atLoad = (localDeadline - Date.now()) / 1000;
    if (atLoad < 58) announced.oneMinute = true;
    if (atLoad < 8) announced.tenSeconds = true;
  }

  function clock(seconds) {
    var s = Math.max(0, Math.ceil(seconds));
    var rest = s % 60;
    return Math.floor(s / 60) + ":" + (rest < 10 ? "0" : "") + rest;
  }

  function say(key) {
    if (announced[key]) return;
    announced[key] = true;
    announce.textContent = strings[key];
  }

  // Warning states: a colour, but also an icon and words, so they never rest on colour alone.
  var LEVELS = {
    normal: { icon: "⏱", text: "" },
    warning: { icon: "⚠️", text: strings.warning },
    danger: { icon: "⏰", text: strings.danger },
    up: { icon: "⏱", text: strings.timeUpShown }
  };
  var level = null;
  function showLevel(name) {
    if (name === level || !timerBar) return;
    level = name;
    timerBar.className = "timer-bar timer-" + name;
    if (timerIcon) timerIcon.textContent = LEVELS[name].icon;
    if (timerState) timerState.textContent = LEVELS[name].text;
  }

  var expired = false;
  function tick() {
    if (localDeadline === null || expired) return;
    var left = (localDeadline - Date.now()) / 1000;
    if (timerText) timerText.textContent = format(strings.remaining, { clock: clock(left) });
    showLevel(left <= 0 ? "up" : left <= 10 ? "danger" : left <= 30 ? "warning" : "normal");
    if (left <= 60 && left > 10) say("oneMinute");
    if (left <= 10 && left > 0) say("tenSeconds");
    if (left <= 0) {
      expired = true;
      say("timeUp");
      if (form) {
        Array.prototype.forEach.call(form.elements, function (el) { el.disabled = true; });
      }
      var hintButton = document.querySelector(".hint-form button");
      if (hintButton) hintButton.disabled = true;
      // "Time is up" stays on screen (and was said) while the server's grace period runs
      // out; then the page reloads to what the server decided: the closed question, whose
      // banner says time ran out, or the results, which say so too.
      setTimeout(function () { window.location.reload(); }, 3000);
    }
  }

  function sync() {
    return fetch(page.dataset.stateUrl, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (state) {
        if (!state) return null;
        if (state.remaining_ms !== null && localDeadline !== null) {
          localDeadline = Date.now() + state.remaining_ms;
        }
        return state;
      })
      .catch(function () { return null; });
  }

  if (localDeadline !== null) {
    tick();
    setInterval(tick, 250);
    setInterval(sync, 15000);
  }

  // Verdicts graded by a worker: poll until the answer is graded, then show it in place.
  function showVerdict(state) {
    var last = state.last_answer;
    feedback.textContent = "";
    var p = document.createElement("p");
    p.className = "verdict";
    if (last && last.status === "graded") {
      p.className += last.correct ? " correct" : " incorrect";
      p.textContent = (last.correct ? "✓ " : "✗ ") + (last.correct ? strings.correct : strings.incorrect);
    } else if (last && last.status === "failed") {
      p.textContent = strings.failed;
    } else if (last && last.status === "late") {
      p.className += " incorrect";
      p.textContent = strings.late;
    }
    feedback.appendChild(p);
    if (last && last.after_explanation && last.status === "graded") {
      var ae = document.createElement("p");
      ae.className = "after-explanation";
      ae.textContent = strings.afterExplanation;
      feedback.appendChild(ae);
    }
    if (last && last.feedback && last.status === "graded") {
      var f = document.createElement("p");
      f.className = "grader-feedback";
      f.textContent = last.feedback;
      feedback.appendChild(f);
    }
    if (last && last.details && last.details.tests) {
      var list = document.createElement("ul");
      list.className = "test-results";
      last.details.tests.forEach(function (t) {
        var li = document.createElement("li");
        li.className = t.passed ? "pass" : "fail";
        li.textContent = (t.passed ? "✓ " : "✗ ") + t.name + ": " + t.message;
        list.appendChild(li);
      });
      feedback.appendChild(list);
    }
    var attempts = document.getElementById("attempts");
    if (attempts) attempts.textContent = format(strings.attemptsLeft, { n: state.attempts_left });
    if (state.explanation_html) {
      var box = document.getElementById("explanation");
      box.querySelector(".explanation-body").innerHTML = state.explanation_html; // sanitized by the server
      box.hidden = false;
    }
    remember(null);  // shown in place: the live region announces it, no reload to follow
    if (state.closed || state.session !== "started") {
      // The question is over: no more answers; offer the way on (the server decides where).
      if (form) form.remove();
      var nav = document.querySelector(".question-nav");
      if (nav && !nav.querySelector("a.continue")) {
        var next = document.createElement("a");
        next.className = "button primary continue";
        next.href = page.dataset.currentUrl;
        next.textContent = state.session === "started" ? strings.next : strings.results;
        nav.insertBefore(next, nav.firstChild);
        next.focus();
      }
      return;
    }
    if (form) {
      Array.prototype.forEach.call(form.elements, function (el) { el.disabled = false; });
    }
  }

  // The server says how to wait ("first factor cap", in ms): soon at first, so a quick job
  // shows at once, then less often. While the verdict is on its way the answer comes from
  // the server's cache; once it is stored, the full state (clock included).
  var schedule = (page.dataset.poll || "100 1.5 2000").split(" ").map(Number);
  function poll(delay) {
    setTimeout(function () {
      fetch(page.dataset.stateUrl + "?poll=1", { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .catch(function () { return null; })
        .then(function (state) {
          if (state && !state.pending) {
            if (state.remaining_ms !== null && state.remaining_ms !== undefined && localDeadline !== null) {
              localDeadline = Date.now() + state.remaining_ms;
            }
            showVerdict(state);
          } else {
            poll(Math.min(delay * schedule[1], schedule[2]));
          }
        });
    }, delay);
  }
  if (page.dataset.pending === "1") poll(schedule[0]);

  // One submit per click: the server also counts a repeated submission once.
  if (form) {
    form.addEventListener("submit", function () {
      var button = form.querySelector("button[type=submit]");
      setTimeout(function () { if (button) button.disabled = true; }, 0);
      remember(location.pathname);
    });
  }

  // Answering reloads the page, which leaves the focus at the top and the verdict unread (a
  // live region is silent about what a page loads with): give the verdict the focus instead.
  var ANSWERED = "take-answered";
  function remember(path) {
    try {
      if (path) sessionStorage.setItem(ANSWERED, path); else sessionStorage.removeItem(ANSWERED);
    } catch (e) { /* storage disabled: the verdict is still on the page */ }
  }
  function answeredHere() {
    try { return sessionStorage.getItem(ANSWERED) === location.pathname; } catch (e) { return false; }
  }
  if (answeredHere() && page.dataset.pending !== "1") {
    remember(null);
    var verdict = page.querySelector(".closed-banner .verdict") || feedback.querySelector(".verdict");
    if (verdict) {
      verdict.setAttribute("tabindex", "-1");
      verdict.focus();
    }
  }

  // Hints: reveal in place (the server records the reveal).
  var hintForm = document.querySelector(".hint-form");
  if (hintForm) {
    hintForm.addEventListener("submit", function (event) {
      event.preventDefault();
      post(page.dataset.hintUrl).then(function (r) { return r.json(); }).then(function (data) {
        if (!data.hint_html) return;
        var p = document.createElement("div");
        p.className = "hint-text";
        var label = document.createElement("strong");
        label.textContent = "💡 " + strings.hint + ":";
        p.appendChild(label);
        p.appendChild(document.createTextNode(" "));
        var body = document.createElement("div");
        body.className = "hint-body";
        body.innerHTML = data.hint_html; // Markdown rendered and sanitized by the server
        p.appendChild(body);
        p.setAttribute("tabindex", "-1");
        hintForm.replaceWith(p);
        p.focus();
      });
    });
  }

  // Integrity signals: leaving the page and pasting are noted, never held against anyone.
  var leftAt = null;
  function left() { if (leftAt === null) leftAt = Date.now(); }
  function back() {
    if (leftAt === null) return;
    var seconds = (Date.now() - leftAt) / 1000;
    leftAt = null;
    post(page.dataset.signalUrl, { kind: "focus_lost", position: position, seconds: seconds });
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") left(); else back();
  });
  window.addEventListener("blur", left);
  window.addEventListener("focus", back);
  if (form) {
    form.addEventListener("paste", function () {
      post(page.dataset.signalUrl, { kind: "paste", position: position });
    });
  }
})();
