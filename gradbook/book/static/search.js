// Search the book offline: the index is a script beside this one (search-index.js), loaded
// the first time the box is used, and matched here; nothing is fetched from another host.
(function () {
  "use strict";
  var box, list, loading = false;
  var ORDER = { claim: 0, page: 1, section: 2, formula: 3 };

  function load(then) {
    if (window.GRADBOOK_SEARCH) { then(); return; }
    if (loading) return;
    loading = true;
    var script = document.createElement("script");
    script.src = "search-index.js";
    script.onload = then;
    document.head.appendChild(script);
  }

  function matches(entry, words) {
    var hay = (entry[1] + " " + entry[3]).toLowerCase();
    for (var i = 0; i < words.length; i++) if (hay.indexOf(words[i]) < 0) return false;
    return true;
  }

  function rank(entry, query) {
    var exact = entry[0] === "claim" && entry[1].toLowerCase() === query ? -10 : 0;
    var inTitle = entry[1].toLowerCase().indexOf(query) >= 0 ? 0 : 5;
    return exact + inTitle + ORDER[entry[0]];
  }

  function show() {
    var query = box.value.trim().toLowerCase();
    list.textContent = "";
    if (query.length < 2 || !window.GRADBOOK_SEARCH) return;
    var words = query.split(/\s+/), hits = [];
    window.GRADBOOK_SEARCH.forEach(function (entry, i) {
      if (matches(entry, words)) hits.push([rank(entry, query), i, entry]);
    });
    hits.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
    hits.slice(0, 40).forEach(function (hit) {
      var entry = hit[2], item = document.createElement("li"), link = document.createElement("a");
      link.href = entry[2];
      link.textContent = entry[1];
      var kind = document.createElement("span");
      kind.className = "kind";
      kind.textContent = entry[0];
      item.appendChild(link);
      item.appendChild(kind);
      list.appendChild(item);
    });
    if (!hits.length) {
      var none = document.createElement("li");
      none.textContent = "nothing found";
      list.appendChild(none);
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    box = document.getElementById("search-box");
    list = document.getElementById("search-results");
    if (!box || !list) return;
    box.addEventListener("focus", function () { load(show); });
    box.addEventListener("input", function () { load(show); show(); });
    box.addEventListener("keydown", function (event) {  // Enter opens the first result
      var first = list.querySelector("a");
      if (event.key === "Enter" && first) window.location.href = first.href;
    });
  });
})();
