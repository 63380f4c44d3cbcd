/* shopevents dashboard: a little plain JavaScript. Every page works without it; this adds
   auto-submitting filters, copy buttons, confirmations and the live request list.
   Untrusted text is only ever set with textContent. */
(function () {
  "use strict";

  function on(sel, ev, fn) {
    document.querySelectorAll(sel).forEach(function (el) { el.addEventListener(ev, fn); });
  }

  // Selects that submit their form on change (date-range interval, split, store switcher).
  on("select[data-autosubmit]", "change", function (e) { e.target.form.submit(); });
  document.querySelectorAll("[data-js-hide]").forEach(function (el) { el.hidden = true; });

  // Confirmations on destructive buttons.
  on("[data-confirm]", "click", function (e) {
    if (!window.confirm(e.currentTarget.getAttribute("data-confirm"))) e.preventDefault();
  });

  // Copy buttons: data-copy="#element-id".
  on("[data-copy]", "click", function (e) {
    var btn = e.currentTarget;
    var src = document.querySelector(btn.getAttribute("data-copy"));
    if (!src) return;
    var text = src.value !== undefined && src.tagName === "TEXTAREA" ? src.value : src.textContent;
    var done = function () {
      var old = btn.textContent;
      btn.textContent = "Copied";
      setTimeout(function () { btn.textContent = old; }, 1500);
    };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(done, function () { selectText(src); });
    } else {
      selectText(src);
    }
  });
  function selectText(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }

  // Quarantine: select every row.
  on("input[data-select-all]", "change", function (e) {
    document.querySelectorAll("input[name=id]").forEach(function (box) { box.checked = e.target.checked; });
  });

  // --- the live request list (integration debugger) -----------------------------------------
  var table = document.getElementById("reqs");
  if (!table) return;
  var body = table.querySelector("tbody");
  var base = table.getAttribute("data-base");
  var after = parseInt(table.getAttribute("data-after") || "0", 10);
  var status = document.getElementById("live");
  var paused = false;
  var empty = document.getElementById("reqs-empty");

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  var tz = table.getAttribute("data-tz") || "UTC";
  var fmt;
  try {
    fmt = new Intl.DateTimeFormat("sv-SE", {
      timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false
    });
  } catch (e) { fmt = null; }
  function time(iso) {
    var d = new Date(iso);
    if (isNaN(d)) return iso || "";
    return fmt ? fmt.format(d) : d.toISOString().replace("T", " ").slice(0, 19);
  }
  function chips(item) {
    var box = el("div", "chips");
    (item.results || []).forEach(function (r) {
      var text = (r.type || "?") + ": " + r.status;
      if (r.warnings && r.warnings.length) text += " · " + r.warnings.length + " warning" + (r.warnings.length > 1 ? "s" : "");
      var b = el("span", "badge " + (r.status === "accepted" && r.warnings && r.warnings.length ? "warn" : r.status), text);
      if (r.code) b.title = r.code + " at " + (r.path || "/") + ": " + (r.message || "");
      box.appendChild(b);
    });
    if (item.cart) box.appendChild(el("span", "badge " + item.cart.status, "cart: " + (item.cart.outcome || item.cart.status)));
    if (item.entityInfo) box.appendChild(el("span", "badge " + item.entityInfo.status, "entityInfo: " + item.entityInfo.status));
    if (!box.childNodes.length) box.appendChild(el("span", "faint", "no events"));
    return box;
  }
  function row(item) {
    var tr = el("tr", "req");
    tr.setAttribute("data-id", item.id);
    var a = el("a", null, "#" + item.id);
    a.href = base + "/debugger/requests/" + item.id;
    var td = el("td"); td.appendChild(a); td.appendChild(el("div", "faint small", item.channel)); tr.appendChild(td);
    var t = el("td", "mono", time(item.receivedAt)); t.title = item.receivedAt; tr.appendChild(t);
    var who = el("td");
    if (item.contactId) {
      var ca = el("a", "contact");
      ca.textContent = item.contactEmail || "anonymous " + String(item.contactId).slice(-8);
      ca.href = base + "/contacts/" + encodeURIComponent(item.contactId);
      who.appendChild(ca);
    } else {
      who.appendChild(el("span", "faint", "none"));
    }
    tr.appendChild(who);
    var v = el("td"); v.appendChild(chips(item)); tr.appendChild(v);
    tr.appendChild(el("td", "num", item.accepted + " / " + item.rejected));
    return tr;
  }
  function pre(text) { var p = el("pre", "code"); p.textContent = text; return p; }
  function detail(tr) {
    var next = tr.nextElementSibling;
    if (next && next.classList.contains("detail-row")) { next.remove(); return; }
    var dr = el("tr", "detail-row");
    var td = el("td"); td.colSpan = 5; td.textContent = "Loading…"; dr.appendChild(td);
    tr.after(dr);
    fetch(base + "/debugger/requests/" + tr.getAttribute("data-id") + ".json", { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (d) {
        td.textContent = "";
        var list = el("ul", "verdicts");
        (d.results || []).forEach(function (r) {
          var li = el("li");
          li.appendChild(el("span", "badge " + r.status, r.status));
          li.appendChild(document.createTextNode(" event " + r.index + " (" + (r.type || "?") + ")"));
          if (r.code) li.appendChild(el("div", "muted", r.code + " at " + (r.path || "/") + ": " + r.message));
          (r.warnings || []).forEach(function (w) {
            li.appendChild(el("div", "muted", "warning " + w.code + " at " + (w.path || "/") + ": " + w.message));
          });
          list.appendChild(li);
        });
        td.appendChild(list);
        var two = el("div", "two");
        var left = el("div"); left.appendChild(el("h3", null, "Raw body")); left.appendChild(pre(d.bodyPretty || d.body));
        var right = el("div"); right.appendChild(el("h3", null, "Response")); right.appendChild(pre(d.responsePretty || ""));
        two.appendChild(left); two.appendChild(right);
        td.appendChild(two);
      })
      .catch(function () { td.textContent = "Could not load this request."; });
  }
  body.addEventListener("click", function (e) {
    if (e.target.closest("a")) return;
    var tr = e.target.closest("tr.req");
    if (tr) detail(tr);
  });
  function poll() {
    if (paused || document.hidden) return;
    fetch(base + "/debugger/requests.json?after=" + after, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (d) {
        var items = d.items || [];
        if (status) status.className = "live";
        for (var i = items.length - 1; i >= 0; i--) {
          var tr = row(items[i]);
          tr.classList.add("new");
          body.insertBefore(tr, body.firstChild);
          after = Math.max(after, items[i].id);
        }
        if (items.length && empty) { empty.remove(); empty = null; }
        var rows = body.querySelectorAll("tr.req");
        for (var j = rows.length - 1; j >= 200; j--) {
          var extra = rows[j].nextElementSibling;
          if (extra && extra.classList.contains("detail-row")) extra.remove();
          rows[j].remove();
        }
      })
      .catch(function () { if (status) status.className = "live paused"; });
  }
  var toggle = document.getElementById("live-toggle");
  if (toggle) {
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      paused = !paused;
      toggle.textContent = paused ? "Resume" : "Pause";
      if (status) status.className = paused ? "live paused" : "live";
      if (status) status.querySelector(".txt").textContent = paused ? "Paused" : "Live";
    });
  }
  if (table.getAttribute("data-live") === "0") {
    if (status) { status.className = "live paused"; status.querySelector(".txt").textContent = "Paused"; }
    if (toggle) toggle.hidden = true;
    return;
  }
  setInterval(poll, 2000);
})();
