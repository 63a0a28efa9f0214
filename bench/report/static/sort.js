/* drumbench leaderboard: sortable columns. No dependencies, no network.
 * A header with data-sort="num" sorts by each cell's data-value (empty = no value, always last);
 * data-sort="text" sorts by data-value as text. The first click on a metric sorts best first
 * (data-better="higher" | "lower"); the next click reverses. */
(function () {
  "use strict";

  function cellKey(row, idx, type) {
    var cell = row.cells[idx];
    if (!cell) { return null; }
    var raw = cell.getAttribute("data-value");
    if (raw === null || raw === "") { return null; }
    if (type === "num") {
      var v = parseFloat(raw);
      return isNaN(v) ? null : v;
    }
    return raw.toLowerCase();
  }

  function sortBy(table, th, idx) {
    var type = th.getAttribute("data-sort");
    var state = th.getAttribute("aria-sort");
    var ascending;
    if (state === "ascending") { ascending = false; }
    else if (state === "descending") { ascending = true; }
    else { ascending = th.getAttribute("data-better") !== "higher"; }

    var headers = table.tHead.rows[0].cells;
    for (var i = 0; i < headers.length; i++) { headers[i].removeAttribute("aria-sort"); }
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");

    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var ka = cellKey(a, idx, type), kb = cellKey(b, idx, type);
      if (ka === null && kb === null) {
        return parseInt(a.getAttribute("data-index"), 10) - parseInt(b.getAttribute("data-index"), 10);
      }
      if (ka === null) { return 1; }
      if (kb === null) { return -1; }
      if (ka < kb) { return ascending ? -1 : 1; }
      if (ka > kb) { return ascending ? 1 : -1; }
      return parseInt(a.getAttribute("data-index"), 10) - parseInt(b.getAttribute("data-index"), 10);
    });
    for (var j = 0; j < rows.length; j++) { body.appendChild(rows[j]); }
  }

  function init() {
    var tables = document.querySelectorAll("table.sortable");
    Array.prototype.forEach.call(tables, function (table) {
      var headers = table.tHead.rows[0].cells;
      Array.prototype.forEach.call(headers, function (th, idx) {
        if (!th.hasAttribute("data-sort")) { return; }
        th.tabIndex = 0;
        th.addEventListener("click", function (ev) {
          if (ev.target.closest && ev.target.closest("a")) { return; }
          sortBy(table, th, idx);
        });
        th.addEventListener("keydown", function (ev) {
          if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); sortBy(table, th, idx); }
        });
      });
    });
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); }
  else { init(); }
})();
