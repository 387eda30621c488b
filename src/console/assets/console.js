// hookroute console: the only script. It refreshes the live regions (elements with data-live,
// polled every 2 s, skipped while focus is inside one so keyboard users keep their place) and
// runs "retry all shown" in batches with a progress bar. Every page works without it.
(function () {
  "use strict";
  var PERIOD = 2000;

  function schedule(region) {
    setTimeout(function () { refresh(region); }, PERIOD);
  }

  function refresh(region) {
    var active = document.activeElement;
    if (document.hidden || (active && active !== document.body && region.contains(active))) {
      schedule(region);
      return;
    }
    fetch(region.getAttribute("data-live"), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        if (html !== region.getAttribute("data-last")) {
          region.innerHTML = html;
          region.setAttribute("data-last", html);
        }
      })
      .catch(function () {})
      .then(function () { schedule(region); });
  }

  function retryInBatches(form, event) {
    event.preventDefault();
    var ids = form.elements.ids.value.split(",").filter(Boolean);
    var csrf = form.elements.csrf.value;
    var size = parseInt(form.getAttribute("data-batch"), 10) || 25;
    var bar = form.querySelector("progress");
    var status = form.querySelector("[role=status]");
    var button = form.querySelector("button");
    button.disabled = true;
    bar.hidden = false;
    bar.max = ids.length;
    var retried = 0;
    var step = function (start) {
      if (start >= ids.length) {
        window.location.href = "/ui/dlq?done=retry_all&n=" + retried;
        return;
      }
      var body = new URLSearchParams();
      body.set("csrf", csrf);
      body.set("ids", ids.slice(start, start + size).join(","));
      body.set("format", "json");
      fetch(form.action, { method: "POST", body: body, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (answer) {
          retried += answer.retried;
          var done = Math.min(ids.length, start + size);
          bar.value = done;
          status.textContent = "Requeued " + retried + " (" + done + " of " + ids.length + " done)";
          step(start + size);
        })
        .catch(function (why) {
          status.textContent = "Stopped after " + retried + " requeued: the server answered " + why;
          button.disabled = false;
        });
    };
    step(0);
  }

  document.querySelectorAll("[data-live]").forEach(schedule);
  document.querySelectorAll("form[data-batch]").forEach(function (form) {
    form.addEventListener("submit", function (event) { retryInBatches(form, event); });
  });
})();
