// The agent console: looks a caller up, shows the view, posts events with the agent's key.
// No framework and no build step; every value from the APIs is set as text, never as HTML.
"use strict";

(() => {
  const KEY_STORAGE = "touchpoint.agentKey";
  const OFFER_CHANNEL = "call_centre";
  const REFRESH_DELAYS_MS = [150, 300, 500, 800, 1200, 2000, 3000];
  const OFFER_REFRESH_TYPES = new Set([
    "purchase", "return", "complaint", "complaint_resolved", "membership", "consent",
  ]);
  const state = {
    config: null,
    customerId: null,
    view: null,
    decision: null,
    secrets: null,
    callStartedAt: null,
    live: null,
    provisional: new Map(),
    arrivedLive: new Set(),
    respondedOffers: new Set(),
    viewRefresh: 0,
  };
  const $ = (id) => document.getElementById(id);

  class ApiError extends Error {
    constructor(status, detail) {
      super(detail);
      this.status = status;
    }
  }

  const token = () => sessionStorage.getItem(KEY_STORAGE);

  // The key id (tp_<key id>_<secret>) names the agent on the events it posts; it is not secret.
  function agentId() {
    const parts = (token() || "").split("_");
    return parts.length >= 3 ? parts[1] : "agent";
  }

  function randomHex(bytes) {
    const values = crypto.getRandomValues(new Uint8Array(bytes));
    return Array.from(values, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function newEventId() {
    if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
    const h = randomHex(16);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20)}`;
  }

  function detailOf(data) {
    if (data && typeof data === "object" && "detail" in data) {
      const detail = data.detail;
      if (Array.isArray(detail)) {
        return detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`).join("; ");
      }
      return String(detail);
    }
    return typeof data === "string" ? data : "request failed";
  }

  async function api(base, path, { method = "GET", params = null, body = null } = {}) {
    const url = new URL(base + path, window.location.origin);
    for (const [name, value] of Object.entries(params || {})) {
      if (value !== null && value !== undefined) url.searchParams.set(name, value);
    }
    const headers = { Authorization: `Bearer ${token()}` };
    if (body !== null) headers["Content-Type"] = "application/json";
    const response = await fetch(url, {
      method,
      headers,
      body: body === null ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = text;
      }
    }
    if (response.status === 401) {
      signOut("Your key was refused: sign in again.");
    }
    if (!response.ok) throw new ApiError(response.status, detailOf(data));
    return data;
  }

  const profileUrl = () => state.config.profile_url || "";

  // ---- small DOM helpers ----------------------------------------------------------------
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function fill(container, items, empty) {
    container.replaceChildren(...items);
    if (!items.length && empty) container.append(el("li", { class: "empty", text: empty }));
  }

  function when(iso) {
    if (!iso) return "—";
    const date = new Date(iso);
    return date.toLocaleString(undefined, {
      month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    });
  }

  function message(text, kind = "alert") {
    const box = $("message");
    box.hidden = !text;
    box.textContent = text || "";
    box.setAttribute("role", kind);
  }

  // ---- sign in --------------------------------------------------------------------------
  function showSignedIn() {
    const signedIn = Boolean(token());
    $("sign-in").hidden = signedIn;
    $("sign-out").hidden = !signedIn;
    $("agent-name").textContent = signedIn ? `agent ${agentId()}` : "not signed in";
    if (signedIn) $("query").focus();
    else $("key").focus();
  }

  function signOut(reason) {
    sessionStorage.removeItem(KEY_STORAGE);
    closeLive();
    state.customerId = null;
    $("customer").hidden = true;
    showSignedIn();
    if (reason) message(reason);
  }

  // ---- look-up --------------------------------------------------------------------------
  function identify(raw) {
    const value = raw.trim();
    if (value.includes("@")) return { email: value };
    const digits = value.replace(/\D/g, "");
    if (/^[+\d\s().\-/]+$/.test(value) && digits.length >= 6) return { phone: value };
    return { loyalty_id: value };
  }

  async function lookUp(raw) {
    if (!raw.trim()) return;
    if (!token()) {
      showSignedIn();
      return;
    }
    message(null);
    const params = identify(raw);
    let view;
    try {
      view = await api(profileUrl(), "/v1/customers/lookup", { params });
    } catch (error) {
      if (params.phone && (error.status === 404 || error.status === 422)) {
        try {
          view = await api(profileUrl(), "/v1/customers/lookup", {
            params: { loyalty_id: raw.trim() },
          });
        } catch {
          view = null;
        }
      }
      if (!view) {
        message(error.status === 404 ? "No customer with this phone, loyalty id or e-mail."
          : `Look-up failed: ${error.message}`);
        return;
      }
    }
    openCustomer(view);
  }

  function openCustomer(view) {
    const switched = state.customerId !== view.customer_id;
    state.customerId = view.customer_id;
    if (switched) {
      state.provisional.clear();
      state.arrivedLive.clear();
      state.respondedOffers.clear();
      state.decision = null;
      state.secrets = null;
      state.callStartedAt = Date.now();
    }
    state.view = view;
    $("customer").hidden = false;
    render();
    loadOffers();
    loadSecrets();
    if (switched) openLive(view.customer_id);
  }

  // Reload the view until every provisional line (posted here or seen live) is folded in.
  async function refreshView() {
    const customerId = state.customerId;
    const round = ++state.viewRefresh;
    for (const delay of [0, ...REFRESH_DELAYS_MS]) {
      if (delay) await new Promise((resolve) => setTimeout(resolve, delay));
      if (round !== state.viewRefresh || customerId !== state.customerId) return;
      try {
        state.view = await api(profileUrl(), `/v1/customers/${encodeURIComponent(customerId)}`);
      } catch (error) {
        message(`Refresh failed: ${error.message}`);
        return;
      }
      const folded = new Set(state.view.timeline.map((line) => line.event_id));
      for (const eventId of [...state.provisional.keys()]) {
        if (folded.has(eventId)) state.provisional.delete(eventId);
      }
      render();
      if (!state.provisional.size) break;
    }
    loadSecrets();
  }

  async function loadOffers({ until = null } = {}) {
    const customerId = state.customerId;
    for (const delay of [0, ...(until ? REFRESH_DELAYS_MS : [])]) {
      if (delay) await new Promise((resolve) => setTimeout(resolve, delay));
      if (customerId !== state.customerId) return;
      try {
        state.decision = await api(
          state.config.recommend_url,
          `/v1/customers/${encodeURIComponent(customerId)}/next-offers`,
          { params: { channel: OFFER_CHANNEL } },
        );
      } catch (error) {
        state.decision = { error: error.message, offers: [], suppressed: [] };
      }
      renderOffers();
      if (!until || until(state.decision)) return;
    }
  }

  // Texts (unmasked identifiers, complaint key points, notes, commitments) need
  // profiles:read_pii; without it the page stays masked.
  async function loadSecrets() {
    const customerId = state.customerId;
    try {
      const secrets = await api(
        profileUrl(), `/v1/customers/${encodeURIComponent(customerId)}/private`,
      );
      if (customerId === state.customerId) state.secrets = secrets;
    } catch {
      if (customerId === state.customerId) state.secrets = null;
    }
    render();
  }

  // ---- rendering ------------------------------------------------------------------------
  function render() {
    const view = state.view;
    if (!view) return;
    renderWho(view);
    renderComplaints(view);
    renderCommitments(view);
    renderTimeline(view);
  }

  function renderWho(view) {
    const rfm = view.rfm || {};
    const member = view.member ? `yes${view.member_tier ? ` · ${view.member_tier}` : ""}` : "no";
    const facts = [
      ["Member", member],
      ["Value tier", view.tier],
      ["Lifecycle", view.lifecycle],
      ["RFM", `R${rfm.r} F${rfm.f} M${rfm.m}${view.rfm_band ? ` · ${view.rfm_band}` : ""}`],
      ["Last purchase", rfm.recency_days === null || rfm.recency_days === undefined
        ? "never" : `${rfm.recency_days} days ago`],
      [`In ${rfm.window_days} days`, `${rfm.frequency} purchases, ${rfm.monetary}`],
      ["Prefers", [view.channels?.preferred_channel, view.channels?.preferred_store
        && `store ${view.channels.preferred_store}`].filter(Boolean).join(", ") || "—"],
      ["Last seen", when(view.last_seen_at)],
    ];
    $("who").replaceChildren(...facts.flatMap(([name, value]) => [
      el("dt", { text: name }), el("dd", { text: value ?? "—" }),
    ]));
    const unmasked = state.secrets?.identifiers;
    const identifiers = unmasked
      ? unmasked.map((item) => el("li", {}, `${item.kind}: `, el("strong", { text: item.value })))
      : view.identifiers.map((item) => el("li", { text: `${item.kind}: ${item.masked}` }));
    fill($("identifiers"), identifiers, "none");
    fill($("interests"), view.interests.slice(0, 5).map(
      (interest) => el("li", { text: interest.category }),
    ), null);
    if (!view.interests.length) $("interests").append(el("li", { class: "empty", text: "none yet" }));
  }

  function secretOf(list, idName, id) {
    return (state.secrets?.[list] || []).find((item) => item[idName] === id) || null;
  }

  function renderComplaints(view) {
    const open = view.open_complaints || [];
    fill($("complaints"), open.map((complaint) => {
      const texts = secretOf("complaints", "complaint_id", complaint.complaint_id);
      const status = complaint.status || "open";
      const age = complaint.age_hours !== undefined && complaint.age_hours !== null
        ? `${complaint.age_hours} h` : `${complaint.age_days ?? 0} d`;
      const who = [complaint.owner && `owner ${complaint.owner}`,
        complaint.escalated_to && `escalated to ${complaint.escalated_to}`].filter(Boolean);
      const card = el("li", {
        class: `card complaint${complaint.overdue ? " overdue" : ""}`,
        "data-complaint-id": complaint.complaint_id,
        "data-status": status,
      },
      el("div", { class: "title" },
        `${complaint.category || "complaint"} · ${complaint.severity || "?"} · `,
        el("span", { class: "status", text: status.replace("_", " ") })),
      el("div", { class: "meta" },
        `opened ${when(complaint.opened_at)} (${age} ago)`,
        who.length ? ` · ${who.join(", ")}` : ""),
      complaint.due_at ? el("div", { class: "due" },
        complaint.overdue ? "OVERDUE: was due " : "due ", when(complaint.due_at)) : null,
      texts ? privateText([["Key points", texts.key_points], ["Escalation", texts.escalation_reason],
        ["Remedy", texts.remedy]]) : null,
      el("div", { class: "row" },
        actionButton("Assign", () => complaintAction(complaint, "assign")),
        actionButton("Escalate", () => complaintAction(complaint, "escalate")),
        actionButton("Remedy", () => complaintAction(complaint, "remedy")),
        actionButton("Resolve", () => complaintAction(complaint, "resolve"))));
      return card;
    }), "No open complaints.");
    const closed = view.closed_complaints || [];
    $("closed-box").hidden = !closed.length;
    fill($("closed-complaints"), closed.map((complaint) => el("li", {
      "data-complaint-id": complaint.complaint_id,
    },
    `${complaint.category || "complaint"} · resolved ${when(complaint.resolved_at)}`,
    complaint.hours_to_resolve !== null && complaint.hours_to_resolve !== undefined
      ? ` in ${Math.round(complaint.hours_to_resolve * 10) / 10} h` : "",
    complaint.satisfaction ? ` · satisfaction ${complaint.satisfaction}/5 ` : " ",
    complaint.satisfaction ? null
      : actionButton("Follow-up", () => complaintAction(complaint, "follow_up")))), null);
  }

  function privateText(pairs) {
    const shown = pairs.filter(([, text]) => text);
    if (!shown.length) return null;
    return el("div", { class: "private" }, ...shown.map(([name, text]) => `${name}: ${text}\n`));
  }

  function renderCommitments(view) {
    const commitments = view.commitments || [];
    fill($("commitments"), commitments.map((commitment) => {
      const text = secretOf("commitments", "commitment_id", commitment.commitment_id)?.text;
      return el("li", {
        class: `commitment ${commitment.status || "open"}`,
        "data-commitment-id": commitment.commitment_id,
      },
      el("div", { class: "title", text: text || `commitment ${commitment.commitment_id}` }),
      el("div", { class: "meta" },
        `${commitment.status === "expired" ? "EXPIRED, was due" : "due"} ${when(commitment.due_at)}`,
        ` · by ${commitment.agent_id || "?"}`,
        commitment.store_id ? ` at store ${commitment.store_id}` : "",
        ` on ${when(commitment.made_at)}`),
      actionButton("Fulfilled", () => fulfilCommitment(commitment)));
    }), "No open commitments.");
  }

  function renderTimeline(view) {
    const notes = new Map((state.secrets?.notes || []).map((note) => [note.event_id, note.note]));
    const folded = new Set(view.timeline.map((line) => line.event_id));
    const pending = [...state.provisional.values()].filter((line) => !folded.has(line.event_id));
    const lines = [...pending, ...view.timeline]
      .sort((a, b) => (a.occurred_at < b.occurred_at ? 1 : -1))
      .slice(0, 25);
    fill($("timeline"), lines.map((line) => el("li", {
      class: state.arrivedLive.has(line.event_id) ? "new" : null,
      "data-event-id": line.event_id,
      "data-type": line.type,
    },
    el("time", { datetime: line.occurred_at, text: when(line.occurred_at) }),
    el("span", { class: "channel", text: line.channel }),
    el("span", {},
      line.line || `${line.type}${line.store_id ? ` at store ${line.store_id}` : ""} (arriving)`,
      notes.has(line.event_id) ? el("div", { class: "private", text: notes.get(line.event_id) })
        : null))), "No interactions yet.");
  }

  function renderOffers() {
    const decision = state.decision || { offers: [], suppressed: [] };
    if (decision.error) {
      fill($("offers"), [el("li", { class: "empty", text: `Offers unavailable: ${decision.error}` })]);
    } else {
      fill($("offers"), decision.offers.map((offer) => el("li", {
        class: "card offer",
        "data-offer-id": offer.offer_id,
      },
      el("div", { class: "title", text: `${offer.rank}. ${offer.title}` }),
      el("div", { class: "meta", text: `${offer.kind}${offer.pinned ? ` · first: ${offer.pinned}` : ""}` }),
      el("ul", { class: "reasons" }, ...offer.reasons.map((reason) => el("li", { text: reason }))),
      state.respondedOffers.has(offer.offer_id) ? el("div", { class: "meta", text: "answer recorded" })
        : el("div", { class: "row" },
          actionButton("Accepted", () => respondToOffer(offer, "accepted"),
            `Customer accepted ${offer.title}`),
          actionButton("Rejected", () => respondToOffer(offer, "rejected"),
            `Customer rejected ${offer.title}`)))), "No offer fits now.");
    }
    const left = [...(decision.suppressed || []), ...(decision.consent_removed || [])];
    fill($("suppressed"), left.map((item) => el("li", { text: `${item.offer_id}: ${item.reason}` })),
      "Nothing suppressed.");
  }

  function actionButton(label, handler, accessibleName = null) {
    return el("button", {
      type: "button", class: "secondary", "aria-label": accessibleName, onclick: handler,
    }, label);
  }

  // ---- posting events -------------------------------------------------------------------
  async function postEvent(type, payload) {
    const body = {
      event_id: newEventId(),
      type,
      channel: OFFER_CHANNEL,
      occurred_at: new Date().toISOString(),
      customer: { customer_id: state.customerId },
      agent_id: agentId(),
      payload,
    };
    await api(state.config.ingest_url, "/v1/events", { method: "POST", body });
    state.provisional.set(body.event_id, {
      event_id: body.event_id, occurred_at: body.occurred_at, type, channel: body.channel,
      store_id: null, line: null,
    });
    message(`Recorded: ${type.replaceAll("_", " ")}.`, "status");
    refreshView();
    return body;
  }

  async function guarded(action) {
    try {
      await action();
      return true;
    } catch (error) {
      message(`Not recorded (${error.status || "error"}): ${error.message}`);
      return false;
    }
  }

  async function respondToOffer(offer, outcome) {
    const decision = state.decision;
    const done = await guarded(() => postEvent("offer_response", {
      decision_id: decision.decision_id, offer_id: offer.offer_id, outcome,
    }));
    if (!done) return;
    state.respondedOffers.add(offer.offer_id);
    renderOffers();
    // The learner folds the answer asynchronously: ask again until the offer has moved on.
    loadOffers({
      until: (next) => !next.offers.some((shown) => shown.offer_id === offer.offer_id),
    });
  }

  const optional = (value) => (value && value.trim() ? value.trim() : null);

  async function logCall(form) {
    const data = new FormData(form);
    const payload = {
      reason: data.get("reason").trim(),
      duration_seconds: Math.min(86400, Math.round((Date.now() - state.callStartedAt) / 1000)),
      outcome: data.get("outcome"),
    };
    const note = optional(data.get("note"));
    if (note) payload.note = note;
    const promise = optional(data.get("commitment"));
    if (promise) {
      const due = data.get("due") ? new Date(data.get("due"))
        : new Date(Date.now() + 2 * 24 * 3600 * 1000);
      payload.commitment = {
        commitment_id: `K-${randomHex(6)}`, text: promise, due_at: due.toISOString(),
      };
    }
    if (await guarded(() => postEvent("call", payload))) form.reset();
  }

  async function openComplaint(form) {
    const data = new FormData(form);
    const payload = {
      complaint_id: `C-${randomHex(6)}`,
      category: data.get("category").trim(),
      severity: data.get("severity"),
    };
    const text = optional(data.get("text"));
    if (text) payload.text = text;
    if (await guarded(() => postEvent("complaint", payload))) form.reset();
  }

  const COMPLAINT_ACTIONS = {
    assign: {
      title: "Assign the complaint", type: "complaint_assigned",
      fields: [{ name: "owner", label: "Owner", required: true, value: () => agentId() }],
    },
    escalate: {
      title: "Escalate the complaint", type: "complaint_escalated",
      fields: [
        { name: "escalated_to", label: "Escalate to", required: true },
        { name: "reason", label: "Why", textarea: true },
      ],
    },
    remedy: {
      title: "Offer a remedy", type: "complaint_remedy",
      fields: [{ name: "remedy", label: "Remedy offered", required: true, textarea: true }],
    },
    resolve: {
      title: "Resolve the complaint", type: "complaint_resolved",
      fields: [{ name: "resolution", label: "Resolution", required: true, textarea: true }],
    },
    follow_up: {
      title: "Follow-up: customer satisfaction", type: "complaint_follow_up",
      fields: [
        { name: "satisfaction", label: "Satisfaction (1 = very unhappy, 5 = very happy)",
          options: ["5", "4", "3", "2", "1"], number: true },
        { name: "comment", label: "Comment", textarea: true },
      ],
    },
  };

  function complaintAction(complaint, kind) {
    const action = COMPLAINT_ACTIONS[kind];
    ask(action.title, action.fields, (values) => postEvent(action.type, {
      complaint_id: complaint.complaint_id, ...values,
    }));
  }

  function fulfilCommitment(commitment) {
    ask("Mark the commitment fulfilled", [{ name: "note", label: "Note", textarea: true }],
      (values) => postEvent("commitment_fulfilled", {
        commitment_id: commitment.commitment_id, ...values,
      }));
  }

  // One dialog for every complaint and commitment step: fields in, payload values out.
  function ask(title, fields, submit) {
    const dialog = $("action-dialog");
    $("action-title").textContent = title;
    const controls = fields.map((field) => {
      const id = `action-${field.name}`;
      let control;
      if (field.options) {
        control = el("select", { id, name: field.name },
          ...field.options.map((option) => el("option", { value: option, text: option })));
      } else if (field.textarea) {
        control = el("textarea", { id, name: field.name, rows: "3", maxlength: "4000",
          required: field.required || null });
      } else {
        control = el("input", { id, name: field.name, maxlength: "200",
          required: field.required || null });
        if (field.value) control.value = field.value();
      }
      return [field, control, el("label", { for: id, text: field.label })];
    });
    $("action-fields").replaceChildren(...controls.flatMap(([, control, label]) => [label, control]));
    const form = $("action-form");
    form.onsubmit = async (event) => {
      event.preventDefault();
      const values = {};
      for (const [field, control] of controls) {
        const value = control.value.trim();
        if (!value) continue;
        values[field.name] = field.number ? Number(value) : value;
      }
      if (await guarded(() => submit(values))) dialog.close();
    };
    dialog.showModal();
    controls[0][1].focus();
  }

  // ---- live feed ------------------------------------------------------------------------
  function setLive(on, text) {
    const badge = $("live-status");
    badge.className = `live ${on ? "on" : "off"}`;
    badge.textContent = text || (on ? "live: on" : "live: off");
  }

  function closeLive() {
    if (state.live) state.live.abort();
    state.live = null;
    setLive(false);
  }

  // fetch() rather than EventSource, so the key travels in the Authorization header.
  async function openLive(customerId) {
    closeLive();
    const controller = new AbortController();
    state.live = controller;
    try {
      const response = await fetch(
        `${profileUrl()}/v1/customers/${encodeURIComponent(customerId)}/live`,
        {
          headers: { Authorization: `Bearer ${token()}`, Accept: "text/event-stream" },
          signal: controller.signal,
          cache: "no-store",
        },
      );
      if (!response.ok) {
        setLive(false, `live: ${response.status}`);
        return;
      }
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replaceAll("\r\n", "\n");
        let end = buffer.indexOf("\n\n");
        while (end >= 0) {
          handleFrame(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf("\n\n");
        }
      }
    } catch (error) {
      if (controller.signal.aborted) return;
    }
    if (state.live === controller) {
      setLive(false, "live: reconnecting");
      setTimeout(() => {
        if (state.live === controller && state.customerId === customerId) openLive(customerId);
      }, 2000);
    }
  }

  function handleFrame(frame) {
    let kind = "message";
    let data = "";
    for (const line of frame.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") kind = value;
      else if (field === "data") data += value;
    }
    if (kind === "ready") setLive(true);
    else if (kind === "interaction") onInteraction(JSON.parse(data));
  }

  function onInteraction(line) {
    state.arrivedLive.add(line.event_id);
    const known = state.view?.timeline.some((shown) => shown.event_id === line.event_id);
    if (!known && !state.provisional.has(line.event_id)) {
      state.provisional.set(line.event_id, { ...line, line: null });
    }
    // The console's own offer look-ups come back as offer_presented: not news to the agent.
    if (line.type !== "offer_presented") {
      setLive(true, `live: new ${line.type.replaceAll("_", " ")} (${line.channel})`);
    }
    render();
    refreshView();
    if (OFFER_REFRESH_TYPES.has(line.type)) loadOffers();
  }

  // ---- start ----------------------------------------------------------------------------
  async function start() {
    state.config = await (await fetch("config.json", { cache: "no-store" })).json();
    $("sign-in-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const value = $("key").value.trim();
      if (!value) return;
      sessionStorage.setItem(KEY_STORAGE, value);
      $("key").value = "";
      message(null);
      showSignedIn();
    });
    $("sign-out").addEventListener("click", () => signOut(null));
    $("search").addEventListener("submit", (event) => {
      event.preventDefault();
      lookUp($("query").value);
    });
    $("call-form").addEventListener("submit", (event) => {
      event.preventDefault();
      logCall(event.target);
    });
    $("complaint-form").addEventListener("submit", (event) => {
      event.preventDefault();
      openComplaint(event.target);
    });
    $("action-cancel").addEventListener("click", () => $("action-dialog").close());
    document.addEventListener("keydown", (event) => {
      const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement?.tagName);
      if (event.key === "/" && !typing) {
        event.preventDefault();
        $("query").focus();
        $("query").select();
      }
    });
    showSignedIn();
    document.body.dataset.ready = "true";
  }

  start();
})();
