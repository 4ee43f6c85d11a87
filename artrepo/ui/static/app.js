// artrepo dashboard: small enhancements only; every page works without this file.
"use strict";

// Filter the rows of long tables as you type (the server-side filters still apply).
for (const table of document.querySelectorAll("table[data-filterable]")) {
  const rows = Array.from(table.tBodies[0] ? table.tBodies[0].rows : []);
  if (rows.length < 8) continue;
  const input = document.createElement("input");
  input.type = "search";
  input.placeholder = "Filter these rows…";
  input.className = "rowfilter";
  input.setAttribute("aria-label", "Filter rows");
  table.before(input);
  input.addEventListener("input", () => {
    const needle = input.value.trim().toLowerCase();
    for (const row of rows) row.hidden = needle !== "" && !row.textContent.toLowerCase().includes(needle);
  });
}

// Filter forms apply as soon as a choice changes.
for (const select of document.querySelectorAll("form.filters select")) {
  select.addEventListener("change", () => select.form.submit());
}

// In a DAG, hovering a node lights it, its neighbours and the edges between them.
for (const svg of document.querySelectorAll("svg.dag")) {
  const edges = Array.from(svg.querySelectorAll(".edge"));
  const nodes = new Map(Array.from(svg.querySelectorAll(".node")).map((n) => [n.dataset.node, n]));
  const clear = () => {
    svg.classList.remove("dim");
    for (const el of svg.querySelectorAll(".lit")) el.classList.remove("lit");
  };
  for (const [id, node] of nodes) {
    node.addEventListener("mouseenter", () => {
      clear();
      svg.classList.add("dim");
      node.classList.add("lit");
      for (const e of edges) {
        if (e.dataset.from !== id && e.dataset.to !== id) continue;
        e.classList.add("lit");
        const other = nodes.get(e.dataset.from === id ? e.dataset.to : e.dataset.from);
        if (other) other.classList.add("lit");
      }
    });
    node.addEventListener("mouseleave", clear);
  }
}
