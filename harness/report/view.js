"use strict";
// The item browser of `harness view` (harness/report/view.py writes the index and the body chunks this reads).
// Everything is drawn with textContent: no record text is ever parsed as HTML.
(function () {
  const F = {WRONG: 1, UNPARSED: 2, TRUNCATED: 4, ENGINE: 8, SCORER: 16, UNSCORED: 32, DISAGREE: 64, PDIFF: 128};
  const FILTERS = [
    ["wrong", F.WRONG, "wrong"], ["unparsed", F.UNPARSED, "unparsed"], ["truncated", F.TRUNCATED, "truncated"],
    ["engine", F.ENGINE, "engine error"], ["scorer", F.SCORER, "scorer error"], ["unscored", F.UNSCORED, "unscored"],
    ["disagree", F.DISAGREE, "repeats disagree"]];
  const FLAG_TAGS = [[F.TRUNCATED, "trunc", "t"], [F.UNPARSED, "unparsed", "u"], [F.ENGINE, "engine err", "e"],
    [F.SCORER, "scorer err", "e"], [F.UNSCORED, "unscored", "e"], [F.DISAGREE, "repeats differ", "d"],
    [F.PDIFF, "prompt hash differs", "x"]];
  const PAGE = 100;
  const IDX = JSON.parse(document.getElementById("hv-index").textContent);
  const RUNS = IDX.runs;
  const TWO = RUNS.length === 2;
  const st = {b: 0, flags: 0, flip: false, only: false, cat: -1, q: "", full: false, fullHits: null, page: 0,
    sel: -1, sort: "default", rows: []};
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    if (attrs) for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const k of kids) if (k !== null && k !== undefined) e.append(k);
    return e;
  }
  const fmt = (v, d) => (v === null || v === undefined) ? "" : (typeof v === "number" && d !== undefined ? v.toFixed(d) : String(v));
  const pretty = (x) => typeof x === "string" ? x : JSON.stringify(x, null, 2);

  // ---- body chunks: gzip + base64 in <script type="application/octet-stream" id="hvc-N">, inflated on demand ----
  const cache = new Map();
  const parsed = new Promise((res) => {
    if (document.readyState !== "loading") res(); else document.addEventListener("DOMContentLoaded", () => res());
  });
  async function chunk(n) {
    if (cache.has(n)) { const v = cache.get(n); cache.delete(n); cache.set(n, v); return v; }
    let node = document.getElementById("hvc-" + n);
    if (!node) { await parsed; node = document.getElementById("hvc-" + n); }
    if (!node) throw new Error("chunk " + n + " is missing from this file");
    const bin = atob(node.textContent);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    if (typeof DecompressionStream === "undefined") throw new Error("this browser has no DecompressionStream; " +
      "open the file in Chromium 80+, Firefox 113+ or Safari 16.4+");
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    const value = JSON.parse(await new Response(stream).text());
    cache.set(n, value);
    while (cache.size > 24) cache.delete(cache.keys().next().value);
    return value;
  }
  async function body(B, r, i) {
    const R = B.runs[r];
    if (R.c[i] < 0) return null;
    const b = (await chunk(R.c[i])).items[R.o[i]];
    return {b, prompt: Array.isArray(b.p) ? (await chunk(b.p[0])).prompts[b.p[1]] : null};
  }

  // ---- rows: filters, search, order ----
  const bench = () => IDX.benchmarks[st.b];
  function flipped(B, i) {
    const a = B.runs[0].s[i], b = B.runs[1].s[i];
    return a !== null && b !== null && a !== b;
  }
  function onlyOne(B, i) { return (B.runs[0].c[i] < 0) !== (B.runs[1].c[i] < 0); }
  function anyFlags(B, i) { let f = 0; for (const R of B.runs) if (R.f[i] !== null) f |= R.f[i]; return f; }
  function indexMatch(B, i, q) {
    if (B.sid[i].toLowerCase().includes(q)) return true;
    if (B.cat[i] >= 0 && B.cats[B.cat[i]].toLowerCase().includes(q)) return true;
    for (const R of B.runs) {
      if (R.x[i] && R.x[i].toLowerCase().includes(q)) return true;
      if (R.t[i] && R.t[i].toLowerCase().includes(q)) return true;
    }
    return false;
  }
  function computeRows() {
    const B = bench(), q = st.q.trim().toLowerCase(), out = [];
    for (let i = 0; i < B.n; i++) {
      if (st.flags && (anyFlags(B, i) & st.flags) !== st.flags) continue;
      if (st.cat >= 0 && B.cat[i] !== st.cat) continue;
      if (TWO && st.flip && !flipped(B, i)) continue;
      if (TWO && st.only && !onlyOne(B, i)) continue;
      if (q) {
        if (st.full) { if (!st.fullHits || !st.fullHits.has(i)) continue; } else if (!indexMatch(B, i, q)) continue;
      }
      out.push(i);
    }
    const key = {
      tokens: (i) => -Math.max(...B.runs.map((R) => R.ct[i] || 0)),
      latency: (i) => -Math.max(...B.runs.map((R) => R.lat[i] || 0)),
    }[st.sort];
    if (key) out.sort((a, b) => key(a) - key(b) || a - b);
    else if (TWO) out.sort((a, b) => (flipped(B, b) - flipped(B, a)) || a - b);  // verdict changed: first
    st.rows = out;
  }

  async function fullSearch() {
    const B = bench(), q = st.q.trim().toLowerCase(), hits = new Set(), b0 = st.b;
    if (!q) { st.fullHits = null; return; }
    $("hv-count").textContent = "searching the text of " + B.n + " items…";
    for (let i = 0; i < B.n; i++) {
      if (indexMatch(B, i, q)) { hits.add(i); continue; }
      for (let r = 0; r < B.runs.length; r++) {
        const got = await body(B, r, i);
        if (!got) continue;
        const b = got.b;
        const hay = [b.a, b.r, b.x, b.t, b.e, b.d && JSON.stringify(b.d), b.ee && JSON.stringify(b.ee),
          got.prompt && JSON.stringify(got.prompt)];
        if (hay.some((h) => h && h.toLowerCase().includes(q))) { hits.add(i); break; }
      }
      if (i % 500 === 499) {
        $("hv-count").textContent = "searching the text… " + (i + 1) + " / " + B.n;
        await new Promise((r) => setTimeout(r, 0));
        if (st.b !== b0 || st.q.trim().toLowerCase() !== q || !st.full) return;
      }
    }
    st.fullHits = hits;
  }

  // ---- header, tabs, filters ----
  function header() {
    const h = $("hv-head");
    h.textContent = "";
    h.append(el("h1", {text: "Items: " + RUNS.map((r) => r.model + " (" + r.run_id + ")").join("  vs  ")}));
    for (const r of RUNS) {
      h.append(el("div", {class: "meta", text: (TWO ? "run " + r.label + ": " : "") + r.dir + (r.engine ? " · engine " +
        r.engine : "") + (r.created ? " · created " + r.created : "") + (r.complete === false ? " · incomplete" : "")}));
    }
    h.append(el("div", {class: "meta", text: "Written " + IDX.generated + " by harness view; offline, nothing is " +
      "fetched." + (TWO ? " Items are joined by (benchmark, sample id, repeat); items whose verdict changed come first." : "")}));
  }
  function tabs() {
    const t = $("hv-tabs");
    t.textContent = "";
    IDX.benchmarks.forEach((B, k) => {
      const sc = B.runs.map((R) => R.score === null || R.score === undefined ? "–" : R.score.toFixed(2)).join(" → ");
      const invalid = B.runs.some((R) => R.valid === false);
      t.append(el("button", {class: (k === st.b ? "on" : "") + (invalid ? " invalid" : ""), "data-bench": B.name,
        title: invalid ? B.runs.map((R) => R.invalid_reason).filter(Boolean).join("; ") : null,
        onclick: () => { select(k); }}, B.name, el("span", {class: "sc", text: sc + " · " + B.n})));
    });
  }
  function select(k) {
    st.b = k; st.cat = -1; st.page = 0; st.sel = -1; st.fullHits = null;
    tabs(); filters(); refresh();
  }
  function filters() {
    const B = bench(), f = $("hv-filters");
    f.textContent = "";
    for (const [id, bit, label] of FILTERS) {
      f.append(el("label", {}, el("input", {type: "checkbox", id: "hv-f-" + id, checked: (st.flags & bit) !== 0,
        onchange: (e) => { st.flags = e.target.checked ? st.flags | bit : st.flags & ~bit; st.page = 0; refresh(); }}),
      " " + label));
    }
    if (TWO) {
      f.append(el("label", {}, el("input", {type: "checkbox", id: "hv-f-flip", checked: st.flip,
        onchange: (e) => { st.flip = e.target.checked; st.page = 0; refresh(); }}), " verdict changed"));
      f.append(el("label", {}, el("input", {type: "checkbox", id: "hv-f-only", checked: st.only,
        onchange: (e) => { st.only = e.target.checked; st.page = 0; refresh(); }}), " in one run only"));
    }
    if (B.cats.length) {
      const s = el("select", {id: "hv-f-cat", onchange: (e) => { st.cat = +e.target.value; st.page = 0; refresh(); }},
        el("option", {value: "-1", text: "all categories"}));
      B.cats.forEach((c, k) => s.append(el("option", {value: String(k), text: c, selected: k === st.cat})));
      f.append(s);
    }
    const sort = el("select", {id: "hv-sort", onchange: (e) => { st.sort = e.target.value; st.page = 0; refresh(); }});
    for (const [v, t] of [["default", TWO ? "changed first" : "id order"], ["tokens", "most tokens first"],
      ["latency", "slowest first"]]) sort.append(el("option", {value: v, text: t, selected: st.sort === v}));
    f.append(sort);
    let timer = null;
    f.append(el("input", {type: "search", id: "hv-q", placeholder: "search id, answer, gold, category", value: st.q,
      oninput: (e) => { clearTimeout(timer); timer = setTimeout(() => { st.q = e.target.value; st.page = 0; refresh(true); }, 200); }}));
    f.append(el("label", {title: "also search prompts, reasoning, answers and score details (decompresses the " +
      "benchmark's items)"}, el("input", {type: "checkbox", id: "hv-full", checked: st.full,
      onchange: (e) => { st.full = e.target.checked; st.page = 0; refresh(true); }}), " full text"));
    const notes = $("hv-notes");
    notes.textContent = "";
    B.runs.forEach((R, r) => {
      for (const n of R.notes) notes.append(el("div", {text: (TWO ? RUNS[r].label + ": " : "") + n}));
      if (R.valid === false && R.invalid_reason) notes.append(el("div", {text: (TWO ? RUNS[r].label + ": " : "") +
        "score flagged invalid: " + R.invalid_reason}));
    });
  }

  // ---- table ----
  function verdictCell(R, i) {
    if (R.c[i] < 0) return el("td", {class: "dim", text: "absent"});
    const f = R.f[i], s = R.s[i];
    if (f & F.ENGINE) return el("td", {class: "err", text: "engine error"});
    if (f & F.SCORER) return el("td", {class: "err", text: "scorer error"});
    if (f & F.UNSCORED || s === null) return el("td", {class: "dim", text: "unscored"});
    if (s === 1) return el("td", {class: "ok", text: "✓"});
    if (s === 0) return el("td", {class: "bad", text: "✗"});
    return el("td", {class: "r", text: s.toFixed(3)});
  }
  function head() {
    const tr = el("tr", {}, el("th", {text: "#"}), el("th", {text: "id"}), el("th", {text: "rep"}),
      el("th", {text: "category"}));
    for (const r of RUNS) {
      const p = TWO ? r.label + " " : "";
      tr.append(el("th", {text: p + "verdict"}), el("th", {text: p + "extracted"}), el("th", {text: p + "tokens"}),
        el("th", {text: p + "latency"}));
    }
    tr.append(el("th", {text: "gold"}), el("th", {text: "flags"}));
    const th = $("hv-table").tHead;
    th.textContent = "";
    th.append(tr);
  }
  function drawTable() {
    const B = bench(), tb = $("hv-table").tBodies[0], rows = st.rows;
    const pages = Math.max(1, Math.ceil(rows.length / PAGE));
    st.page = Math.min(st.page, pages - 1);
    const frag = document.createDocumentFragment();
    for (const i of rows.slice(st.page * PAGE, st.page * PAGE + PAGE)) {
      const fl = flipped2(B, i);
      const tr = el("tr", {class: "item" + (i === st.sel ? " sel" : "") + (fl ? " flip" : ""), "data-i": String(i),
        onclick: () => openItem(i)}, el("td", {class: "r", text: String(i + 1)}), el("td", {text: B.sid[i], title: B.sid[i]}),
      el("td", {class: "r", text: String(B.rep[i])}), el("td", {text: B.cat[i] >= 0 ? B.cats[B.cat[i]] : ""}));
      for (const R of B.runs) {
        tr.append(verdictCell(R, i), el("td", {text: fmt(R.x[i]), title: R.x[i] || null}),
          el("td", {class: "r", text: fmt(R.ct[i])}), el("td", {class: "r", text: fmt(R.lat[i], 1)}));
      }
      const gold = B.runs.map((R) => R.t[i]).find((t) => t !== null && t !== undefined);
      const flags = el("td");
      const all = anyFlags(B, i);
      if (fl) flags.append(el("span", {class: "flag x", text: B.runs[0].s[i] > B.runs[1].s[i] ? "A>B" : "A<B"}));
      for (const [bit, label, cls] of FLAG_TAGS) if (all & bit) flags.append(el("span", {class: "flag " + cls, text: label}));
      tr.append(el("td", {text: fmt(gold), title: gold || null}), flags);
      frag.append(tr);
    }
    tb.textContent = "";
    tb.append(frag);
    const total = B.n;
    const c = $("hv-count");
    c.textContent = rows.length === total ? total + " items" : rows.length + " of " + total + " items";
    c.dataset.shown = String(rows.length);
    c.dataset.total = String(total);
    if (TWO) {
      let n = 0;
      for (let i = 0; i < B.n; i++) if (flipped(B, i)) n++;
      c.append(el("span", {class: "dim", text: " · verdict changed on " + n}));
      c.dataset.flipped = String(n);
    }
    const pg = $("hv-pager");
    pg.textContent = "";
    pg.append(el("button", {disabled: st.page === 0, onclick: () => { st.page--; drawTable(); }, text: "‹ prev"}),
      el("span", {text: "page " + (st.page + 1) + " of " + pages}),
      el("button", {disabled: st.page >= pages - 1, onclick: () => { st.page++; drawTable(); }, text: "next ›"}));
  }
  const flipped2 = (B, i) => TWO && flipped(B, i);
  let seq = 0;
  async function refresh(search) {
    const mine = ++seq;
    if (search && st.full && st.q.trim()) { await fullSearch(); if (mine !== seq) return; }
    if (!st.full) st.fullHits = null;
    computeRows();
    drawTable();
    syncHash();
  }
  function syncHash() {  // the URL names the view (benchmark, filters, search, item): it can be bookmarked or sent
    const B = bench(), p = new URLSearchParams();
    p.set("b", B.name);
    const f = FILTERS.filter((x) => st.flags & x[1]).map((x) => x[0]);
    if (f.length) p.set("f", f.join(","));
    if (st.cat >= 0) p.set("c", B.cats[st.cat]);
    if (st.flip) p.set("flip", "1");
    if (st.q) p.set("q", st.q);
    if (st.sel >= 0) { p.set("s", B.sid[st.sel]); p.set("r", String(B.rep[st.sel])); }
    history.replaceState(null, "", "#" + p.toString());
  }

  // ---- one item ----
  function kv(pairs) {
    const dl = el("dl", {class: "kv"});
    for (const [k, v] of pairs) if (v !== null && v !== undefined && v !== "") dl.append(el("dt", {text: k}),
      el("dd", {}, v instanceof Node ? v : String(v)));
    return dl;
  }
  function folded(title, text, open) {
    const d = el("details", open ? {open: true} : {});
    const pre = el("pre");
    d.append(el("summary", {text: title}), pre);
    const fill = () => { if (!pre.textContent) pre.textContent = text; };
    if (open) fill(); else d.addEventListener("toggle", fill);
    return d;
  }
  function verdictText(b) {
    if (b.ek && b.ek !== "scorer") return ["err", (b.ek === "context" ? "prompt does not fit the model" : "engine error")];
    if (b.ek === "scorer") return ["err", "scorer error"];
    if (b.un || b.s === null) return ["dim", "no verdict yet"];
    return [b.s === 1 ? "ok" : (b.s === 0 ? "bad" : ""), b.s === 1 ? "correct (1)" : b.s === 0 ? "wrong (0)" : "score " + b.s];
  }
  function decidedBy(d) {
    if (!d) return null;
    const out = [];
    if (d.rule) out.push("extraction rule: " + d.rule);
    if (d.judge && typeof d.judge === "object") out.push("judge: " + Object.entries(d.judge).filter(([k]) => k !== "reasoning")
      .map(([k, v]) => k + "=" + (typeof v === "string" ? v : JSON.stringify(v))).join(", "));
    else if (d.judge !== undefined && d.judge !== null) out.push("judge: " + pretty(d.judge));
    if (d.verdict !== undefined) out.push("verdict: " + pretty(d.verdict));
    if (d.passed !== undefined && d.total !== undefined) out.push("tests passed: " + d.passed + " / " + d.total);
    if (d.reward !== undefined) out.push("reward: " + d.reward);
    if (d.loose_prompt !== undefined || d.strict_prompt !== undefined) out.push("prompt-level: strict " +
      d.strict_prompt + ", loose " + d.loose_prompt);
    return out.length ? out.join(" · ") : null;
  }
  function lcbTests(d) {
    const box = el("div");
    box.append(el("h3", {text: "Tests"}));
    const strip = el("div", {class: "tests"});
    const failed = d.kind ? (d.test || d.passed + 1) : null;  // the sandbox stops at the first failing test
    for (let t = 1; t <= d.total; t++) {
      let cls = "n", tip = "not run (the sandbox stops at the first failure, as upstream)";
      if (t <= d.passed) { cls = "p"; tip = "passed"; }
      else if (failed !== null && t === failed) { cls = "f"; tip = d.reason || d.kind; }
      strip.append(el("span", {class: cls, title: "test " + t + ": " + tip, text: String(t)}));
    }
    box.append(strip, kv([["passed", d.passed + " of " + d.total], ["failure", d.kind], ["reason", d.reason],
      ["failing test", d.test]]));
    if (d.error) box.append(folded("error output", d.error, true));
    return box;
  }
  function instructions(d) {
    const t = el("table", {class: "small"}, el("tr", {}, el("th", {text: "instruction"}), el("th", {text: "strict"}),
      el("th", {text: "loose"})));
    const mark = (v) => el("td", {class: v === true ? "ok" : v === false ? "bad" : "dim", text: v === true ? "✓" : v === false ? "✗" : "?"});
    d.instructions.forEach((name, k) => t.append(el("tr", {}, el("td", {text: String(name)}),
      mark((d.strict_instructions || [])[k]), mark((d.loose_instructions || [])[k]))));
    return el("div", {}, el("h3", {text: "Instructions"}), t);
  }
  function content(c) {
    if (c === null || c === undefined) return null;
    if (typeof c === "string") return el("pre", {text: c});
    if (Array.isArray(c)) return el("pre", {text: c.map((p) => p && p.text !== undefined ? p.text : JSON.stringify(p)).join("\n")});
    return el("pre", {text: pretty(c)});
  }
  function conversation(t) {
    const box = el("div");
    box.append(el("h3", {text: "Conversation (τ²)"}), kv([["termination", t.termination_reason], ["steps", t.steps],
      ["tool errors", t.tool_errors], ["note", t.note],
      ["tokens", t.usage ? Object.entries(t.usage).map(([k, u]) => k + " " + JSON.stringify(u)).join("; ") : null]]));
    for (const m of t.messages || []) {
      const parts = [m.tool_messages ? m.tool_messages : [m]];
      for (const mm of parts[0]) {
        const who = mm.role + (mm.requestor && mm.role === "tool" ? " (" + mm.requestor + ")" : "") +
          (mm.turn_idx !== undefined ? " · turn " + mm.turn_idx : (m.turn_idx !== undefined ? " · turn " + m.turn_idx : "")) +
          (mm.error ? " · error" : "");
        const box2 = el("div", {class: "msg " + mm.role}, el("div", {class: "who", text: who}));
        const c = content(mm.content);
        if (c) box2.append(c);
        for (const tc of mm.tool_calls || []) {
          const name = tc.name || (tc.function && tc.function.name);
          const args = tc.arguments !== undefined ? tc.arguments : (tc.function && tc.function.arguments);
          box2.append(el("div", {class: "call", text: "→ " + name + "(" + (typeof args === "string" ? args :
            JSON.stringify(args)) + ")" + (tc.requestor ? "  [" + tc.requestor + "]" : "")}));
        }
        box.append(box2);
      }
    }
    return box;
  }
  function reward(d) {
    const box = el("div", {}, el("h3", {text: "Reward"}));
    box.append(kv([["reward", d.reward], ["basis", (d.reward_basis || []).join(", ")],
      ["breakdown", d.reward_breakdown ? Object.entries(d.reward_breakdown).map(([k, v]) => k + " " + v).join(", ") : null],
      ["database matches", d.db_match === undefined ? null : String(d.db_match)], ["note", d.note]]));
    const table = (title, rows, cols) => {
      if (!rows || !rows.length) return;
      const t = el("table", {class: "small"}, el("tr", {}, ...cols.map((c) => el("th", {text: c[0]}))));
      for (const r of rows) t.append(el("tr", {}, ...cols.map((c) => {
        const v = r[c[1]];
        return typeof v === "boolean" ? el("td", {class: v ? "ok" : "bad", text: v ? "✓" : "✗"}) :
          el("td", {text: typeof v === "string" ? v : JSON.stringify(v)});
      })));
      box.append(el("div", {class: "dim", text: title}), t);
    };
    table("expected actions", d.action_checks, [["by", "requestor"], ["action", "name"], ["arguments", "arguments"], ["done", "match"]]);
    table("environment assertions", d.env_assertions, [["check", "func_name"], ["arguments", "arguments"], ["met", "met"]]);
    table("information to communicate", d.communicate_checks, [["info", "info"], ["met", "met"]]);
    return box;
  }
  function runPanel(B, r, i, got) {
    const R = RUNS[r], box = el("div", {class: "run"});
    if (TWO) box.append(el("div", {class: "lbl", text: "Run " + R.label + " · " + R.run_id}));
    if (!got) { box.append(el("p", {class: "dim", text: "not in this run"})); return box; }
    const b = got.b;
    const [cls, vt] = verdictText(b);
    box.append(kv([["verdict", el("span", {class: cls, text: vt})], ["extracted", b.x === null ? (b.ek ? "" : "none (unparsed)") : b.x],
      ["gold", b.t], ["decided by", decidedBy(b.d)], ["error", b.e], ["finish", b.fr],
      ["tokens", "prompt " + (fmt(b.tok[0]) || "–") + " · completion " + (fmt(b.tok[1]) || "–") + (b.tok[2] !== null ? " · reasoning " + b.tok[2] : "")],
      ["latency", b.lat === null ? null : b.lat.toFixed(2) + " s"], ["seed", b.seed], ["scorer", b.sc], ["written", b.time]]));
    if (got.prompt) {
      const d = el("details");
      d.append(el("summary", {text: "Prompt (" + got.prompt.length + " message" + (got.prompt.length === 1 ? "" : "s") + ")"}));
      d.addEventListener("toggle", () => {
        if (d.childNodes.length > 1) return;
        if (b.pm === false) d.append(el("div", {class: "note", text: "rebuilt now; its sha256 differs from the prompt that was sent (" + b.ps + ")"}));
        for (const m of got.prompt) d.append(el("div", {class: "msg " + m.role}, el("div", {class: "who", text: m.role}), content(m.content)));
      });
      box.append(d);
    } else {
      box.append(el("div", {class: "note", text: "Prompt not available here (sha256 " + (b.ps || "not recorded") + ")" +
        (B.runs[r].notes.length ? ": " + B.runs[r].notes[0] : "")}));
    }
    if (b.meta) box.append(kv([["prompt meta", JSON.stringify(b.meta)]]));
    if (b.r) box.append(folded("Reasoning (" + b.r.length.toLocaleString() + " characters)", b.r, false));
    box.append(el("h3", {text: "Answer"}), el("pre", {class: "answer", text: b.a || "(empty)"}));
    const d = b.d || {};
    if (d.judge_raw) box.append(folded("Judge's answer (rationale)", d.judge_raw, true));
    if (Array.isArray(d.instructions)) box.append(instructions(d));
    if (typeof d.total === "number" && typeof d.passed === "number") box.append(lcbTests(d));
    if (b.ee && b.ee.tau2) { box.append(reward(d)); box.append(conversation(b.ee.tau2)); }
    if (b.d) box.append(folded("Score details (JSON)", JSON.stringify(b.d, null, 2), false));
    if (b.req) box.append(folded("Request settings", JSON.stringify(b.req, null, 2), false));
    if (b.ee && !b.ee.tau2) box.append(folded("Engine output (engine_extra)", JSON.stringify(b.ee, null, 2), false));
    return box;
  }
  async function openItem(i) {
    const B = bench(), b0 = st.b;
    st.sel = i;
    for (const tr of $("hv-table").tBodies[0].rows) tr.classList.toggle("sel", +tr.dataset.i === i);
    syncHash();
    const pane = $("hv-detail");
    pane.textContent = "";
    pane.append(el("h2", {text: B.name + " · " + B.sid[i] + " · repeat " + B.rep[i] + (B.cat[i] >= 0 ? " · " + B.cats[B.cat[i]] : "")}));
    let got;
    try {
      got = await Promise.all(B.runs.map((_, r) => body(B, r, i)));
    } catch (e) {
      pane.append(el("p", {class: "err", text: "cannot read this item: " + e.message}));
      return;
    }
    if (st.sel !== i || st.b !== b0) return;
    const cols = el("div", {class: "cols", style: "--n:" + B.runs.length, id: "hv-item", "data-i": String(i)});
    got.forEach((g, r) => cols.append(runPanel(B, r, i, g)));
    pane.append(cols);
  }
  function step(d) {
    const rows = st.rows;
    if (!rows.length) return;
    let k = rows.indexOf(st.sel) + d;
    k = Math.max(0, Math.min(rows.length - 1, k));
    if (Math.floor(k / PAGE) !== st.page) { st.page = Math.floor(k / PAGE); drawTable(); }
    openItem(rows[k]);
    const tr = $("hv-table").querySelector('tr[data-i="' + rows[k] + '"]');
    if (tr) tr.scrollIntoView({block: "nearest"});
  }
  document.addEventListener("keydown", (e) => {
    if (e.target && (e.target.tagName === "INPUT" || e.target.tagName === "SELECT")) return;
    if (e.key === "j") step(1); else if (e.key === "k") step(-1);
    else if (e.key === "n") { st.page++; drawTable(); } else if (e.key === "p") { st.page = Math.max(0, st.page - 1); drawTable(); }
  });

  // ---- start: the first table page is drawn from the index alone, before the body chunks are parsed ----
  header();
  const h = new URLSearchParams(location.hash.slice(1));
  const start = Math.max(0, IDX.benchmarks.findIndex((B) => B.name === h.get("b")));
  st.b = start;
  // a URL can open a filtered view: #b=NAME&f=wrong,truncated&c=CATEGORY&flip=1&q=TEXT&s=ID&r=REPEAT
  for (const id of (h.get("f") || "").split(",")) { const hit = FILTERS.find((x) => x[0] === id); if (hit) st.flags |= hit[1]; }
  if (h.get("c") !== null) st.cat = IDX.benchmarks[st.b].cats.indexOf(h.get("c"));
  st.flip = TWO && h.get("flip") === "1";
  st.q = h.get("q") || "";
  tabs(); filters(); head(); computeRows(); drawTable();
  performance.mark("hv-first-table");
  const root = document.documentElement;
  root.dataset.firstTableMs = performance.now().toFixed(1);
  requestAnimationFrame(() => setTimeout(() => { root.dataset.firstFrameMs = performance.now().toFixed(1); }, 0));
  parsed.then(() => { root.dataset.parsedMs = performance.now().toFixed(1); });
  window.addEventListener("load", () => { root.dataset.loadMs = performance.now().toFixed(1); });
  if (h.get("s") !== null) {
    const B = bench();
    for (let i = 0; i < B.n; i++) if (B.sid[i] === h.get("s") && String(B.rep[i]) === (h.get("r") || "0")) { openItem(i); break; }
  }
  window.harnessView = {state: st, index: IDX, openItem, refresh, select};
})();
