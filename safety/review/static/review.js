// The reviewer's page: plain JavaScript over the review API. The key stays in sessionStorage.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const state = { key: sessionStorage.getItem("cg-review-key"), policy: null, case: null, action: null, mediaUrl: null };

  function esc(text) {
    const div = document.createElement("div");
    div.textContent = text == null ? "" : String(text);
    return div.innerHTML;
  }

  async function api(method, path, body) {
    const headers = { Authorization: "Bearer " + state.key };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (!response.ok) {
      let message = response.status + " " + response.statusText;
      try { const data = await response.json(); message = (data.error && data.error.message) || message; } catch (e) { /* not JSON */ }
      const error = new Error(message);
      error.status = response.status;
      throw error;
    }
    return response;
  }
  const json = async (method, path, body) => (await api(method, path, body)).json();

  function say(text) { $("message").textContent = text || ""; }

  async function signIn(key) {
    state.key = key;
    try {
      const me = await json("GET", "/v1/whoami");
      if (!me.scopes.includes("reviewer")) throw new Error("this key has no reviewer scope");
      sessionStorage.setItem("cg-review-key", key);
      $("who").textContent = me.name + (me.roles.length ? " · " + me.roles.join(", ") : "");
      $("signin").classList.add("hidden");
      $("app").classList.remove("hidden");
      $("signout").classList.remove("hidden");
      state.policy = await json("GET", "/v1/review/policy");
      await Promise.all([refreshQueues(), refreshHistory()]);
      const held = await json("GET", "/v1/review/claims/current");  // resume a held case
      showCase(held.case);
    } catch (error) {
      state.key = null;
      sessionStorage.removeItem("cg-review-key");
      $("signin-error").textContent = "Sign-in failed: " + error.message;
    }
  }

  async function refreshQueues() {
    const data = await json("GET", "/v1/review/queues");
    const rows = data.queues.filter((q) => q.mine).map((q) =>
      `<tr data-queue="${esc(q.name)}"><td>${esc(q.name)}</td><td class="open">${q.open}</td><td>${q.claimed}</td><td>${fmtAge(q.oldest_age_s)}</td></tr>`);
    $("queues").querySelector("tbody").innerHTML = rows.join("") || `<tr><td colspan="4" class="muted">no queues for this key</td></tr>`;
    $("rate").textContent = data.decisions_last_hour + " decisions in the last hour";
  }

  function fmtAge(seconds) {
    if (seconds < 90) return Math.round(seconds) + " s";
    if (seconds < 5400) return Math.round(seconds / 60) + " min";
    return Math.round(seconds / 3600) + " h";
  }

  async function refreshHistory() {
    const data = await json("GET", "/v1/review/history?limit=15");
    $("history").querySelector("tbody").innerHTML = data.decisions.map((d) =>
      `<tr><td>${esc(d.action)}</td><td>${esc(d.reason_code)}</td><td class="muted">${esc(d.item_id || d.case_id)}</td></tr>`).join("")
      || `<tr><td class="muted">no decisions yet</td></tr>`;
  }

  function conceal() {
    const video = $("video");
    video.pause();
    video.muted = true;
    video.classList.add("blurred");
    $("veil").classList.remove("hidden");
  }

  function reveal() {
    if (!state.case) return;
    const video = $("video");
    video.classList.remove("blurred");
    video.muted = false;
    $("veil").classList.add("hidden");
  }

  async function loadMedia(caseId) {
    if (state.mediaUrl) { URL.revokeObjectURL(state.mediaUrl); state.mediaUrl = null; }
    $("video").removeAttribute("src");
    try {
      const blob = await (await api("GET", `/v1/review/cases/${encodeURIComponent(caseId)}/media`)).blob();
      state.mediaUrl = URL.createObjectURL(blob);
      $("video").src = state.mediaUrl;
    } catch (error) {
      say("media unavailable: " + error.message);
    }
  }

  // Scores as a reviewer reads them: named signals and measures, percentages, words for
  // "nothing found" (a negative value), evidence as short sentences (no versions, no JSON).
  const label = (key) => String(key).replace(/[_.]+/g, " ").replace(/^./, (c) => c.toUpperCase());
  function readable(key, value) {
    if (typeof value === "boolean") return value ? "yes" : "no";
    if (typeof value !== "number") return Array.isArray(value) ? value.map(String).join(", ") : String(value);
    if (value < 0) return /age/i.test(key) ? "no face" : "not found";
    if (/age/i.test(key) && value > 1) return `${Math.round(value)} years`;
    if (value >= 0 && value <= 1) return `${Math.round(value * 100)}%`;
    return String(Math.round(value * 100) / 100);
  }
  function evidenceLine(e) {
    const parts = Object.entries(e || {}).filter(([k, v]) => k !== "kind" && v !== null && v !== undefined && v !== "")
      .map(([k, v]) => `${label(k).toLowerCase()}: ${typeof v === "object" && !Array.isArray(v) ? Object.entries(v).map(([a, b]) => `${label(a).toLowerCase()} ${readable(a, b)}`).join(", ") : readable(k, v)}`);
    return `<li><strong>${esc(label(e.kind || "evidence"))}</strong>${parts.length ? " — " + esc(parts.join("; ")) : ""}</li>`;
  }
  function scoresHtml(snapshot) {
    const scores = snapshot.scores || {};
    const names = Object.keys(scores);
    if (!names.length) return "no classifier scores";
    return names.map((name) => {
      const s = scores[name];
      const rows = Object.entries(s.scores || {}).map(([k, v]) =>
        `<tr><td>${esc(label(k))}</td><td class="num">${esc(readable(k, v))}</td></tr>`).join("");
      const evidence = (s.evidence || []).slice(0, 6).map(evidenceLine).join("");
      return `<h3 class="classifier">${esc(label(name))}</h3>
        <table>${rows}</table>${evidence ? `<ul class="evidence">${evidence}</ul>` : ""}`;
    }).join("");
  }

  function showCase(c) {
    state.case = c;
    state.action = null;
    document.querySelectorAll("[data-action]").forEach((b) => b.classList.remove("sel"));
    $("reason-code").innerHTML = "";
    $("note").value = "";
    say("");
    conceal();
    if (!c) {
      $("case").classList.add("hidden");
      $("empty").classList.remove("hidden");
      $("scores").textContent = "–";
      return;
    }
    $("empty").classList.add("hidden");
    $("case").classList.remove("hidden");
    const snap = c.snapshot || {};
    const badges = [`<span class="badge">${esc(c.kind)}</span>`, `<span class="badge">queue ${esc(c.queue)}</span>`,
      `<span class="badge ${c.severity <= 1 ? "bad" : ""}">severity ${c.severity}</span>`];
    if (c.minors) badges.push(`<span class="badge bad">minors</span>`);
    if (c.report_count) badges.push(`<span class="badge">${c.report_count} report(s)</span>`);
    $("case-head").innerHTML = `<p id="case-id"><strong>${esc(c.case_id)}</strong> · item ${esc(c.item_id)} · ${badges.join("")}</p>`;
    $("caption").innerHTML = `<strong>Caption:</strong> ${esc(snap.caption || "(none)")}` +
      (snap.appeal_statement ? `<br><strong>Appeal:</strong> ${esc(snap.appeal_statement)}` : "");
    const decision = snap.feed_decision;
    const prov = snap.provenance || {};
    $("reasons").innerHTML = `<strong>Why it is here</strong><ul class="reasons">${c.reasons.map((r) => `<li>${esc(r)}</li>`).join("")}</ul>` +
      (decision ? `<p class="muted">feed decision v${decision.version}: ${esc(decision.action)} (${esc(decision.policy)})</p>` : "") +
      `<p class="muted">provenance claimed by the platform (not verified): C2PA ${esc(prov.c2pa_state || "unknown")} · watermark ${esc(prov.watermark_id || "none")} · generation ${esc(prov.generation_id || "none")}</p>` +
      verifiedHtml(snap) + reportsHtml(c) +
      (c.decisions.length ? `<p class="muted">earlier: ${c.decisions.map((d) => esc(d.action + "/" + d.reason_code)).join(", ")}</p>` : "");
    $("scores").innerHTML = scoresHtml(snap);
    loadMedia(c.case_id);
  }

  function verifiedHtml(snap) {
    const evidence = (((snap.scores || {}).deepfake || {}).evidence || []).find((e) => e.kind === "provenance");
    if (!evidence) return `<p class="muted">provenance not verified by cameoguard yet</p>`;
    const signs = (evidence.ai_generated || []).map(esc).join("; ") || "no sign of AI generation";
    return `<p class="muted">provenance verified by cameoguard: ${esc(evidence.verdict || "")} · ${signs}</p>`;
  }

  function reportsHtml(c) {
    if (!(c.reports || []).length) return "";
    return `<strong>User reports</strong><ul class="reasons">${c.reports.map((r) =>
      `<li>${esc(r.reason)}${r.note ? ": " + esc(r.note) : ""}</li>`).join("")}</ul>`;
  }

  function choose(action) {
    if (!state.case || !state.policy) return;
    state.action = action;
    document.querySelectorAll("[data-action]").forEach((b) => b.classList.toggle("sel", b.dataset.action === action));
    // No reason is pre-selected: a decision is recorded with the reason the reviewer chose
    // (a lone reason is the only choice there is).
    const codes = state.policy.reason_codes[action];
    const prompt = codes.length === 1 ? "" : `<option value="" selected disabled>choose a reason…</option>`;
    $("reason-code").innerHTML = prompt + codes.map((code) => `<option value="${esc(code)}">${esc(code)}</option>`).join("");
  }

  async function claim() {
    say("");
    try {
      const data = await json("POST", "/v1/review/claims");
      if (!data.case) say("Your queues are empty.");
      showCase(data.case);
    } catch (error) { say(error.message); }
    refreshQueues();
  }

  async function decide() {
    if (!state.case) return;
    if (!state.action) { say("Pick a decision first (a, t, r or e)."); return; }
    if (!$("reason-code").value) { say("Choose a reason for this decision first."); $("reason-code").focus(); return; }
    const body = { action: state.action, reason_code: $("reason-code").value, note: $("note").value };
    try {
      await json("POST", `/v1/review/cases/${encodeURIComponent(state.case.case_id)}/decision`, body);
      showCase(null);
      say("");
      $("empty").textContent = "Decided: " + body.action + " (" + body.reason_code + "). Claim the next case.";
    } catch (error) { say(error.message); }
    refreshQueues();
    refreshHistory();
  }

  async function release() {
    if (!state.case) return;
    try {
      await json("POST", `/v1/review/cases/${encodeURIComponent(state.case.case_id)}/release`);
      showCase(null);
      $("empty").textContent = "Skipped: the case goes behind the others for you. Claim the next case.";
    } catch (error) { say(error.message); }
    refreshQueues();
  }

  $("signin-form").addEventListener("submit", (event) => { event.preventDefault(); signIn($("key").value.trim()); });
  $("signout").addEventListener("click", () => { sessionStorage.removeItem("cg-review-key"); location.reload(); });
  $("gray").addEventListener("change", (event) => {
    document.body.classList.toggle("gray", event.target.checked);
    localStorage.setItem("cg-review-gray", event.target.checked ? "1" : "");
  });
  $("claim").addEventListener("click", claim);
  $("reveal").addEventListener("click", reveal);
  $("decide").addEventListener("click", decide);
  $("release").addEventListener("click", release);
  document.querySelectorAll("[data-action]").forEach((b) => b.addEventListener("click", () => choose(b.dataset.action)));

  const keys = { n: claim, v: reveal, a: () => choose("approve"), t: () => choose("age_restrict"),
                 r: () => choose("remove"), e: () => choose("escalate"), x: release };
  document.addEventListener("keydown", (event) => {
    if (!state.key || event.ctrlKey || event.metaKey || event.altKey) return;
    const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
    if (event.key === "Enter" && document.activeElement.tagName !== "TEXTAREA" && state.action) {
      event.preventDefault(); decide(); return;
    }
    if (typing) return;
    const handler = keys[event.key];
    if (handler) { event.preventDefault(); handler(); }
  });

  if (localStorage.getItem("cg-review-gray")) { $("gray").checked = true; document.body.classList.add("gray"); }
  setInterval(() => { if (state.key) refreshQueues().catch(() => {}); }, 15000);
  if (state.key) signIn(state.key);
})();
