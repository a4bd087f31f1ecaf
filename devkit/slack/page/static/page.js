// The page's state is built only from the feed (/feed, Server-Sent Events): the Web API calls
// coachbot made, its response_url posts, and what the person here did. Actions go to /act/*,
// which sends them to coachbot as Slack would.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const E = Render.escape;
const parse = (v) => { if (typeof v !== "string") return v; try { return JSON.parse(v); } catch { return v; } };

const S = {
  cfg: null,
  me: null,                 // the user id the person acts as
  place: "app",             // "app" (coachbot's App Home) or "channel" (#team)
  tab: "messages",          // App Home tab: "messages" or "home"
  messages: new Map(),      // "channel ts" -> message
  statuses: new Map(),      // "channel thread_ts" -> status text
  prompts: new Map(),       // "channel" or "channel thread_ts" -> {title, prompts}
  ephemeral: [],            // {channel, thread_ts, user, text, blocks, format, after}
  views: new Map(),         // view id -> view (modals and homes)
  homes: new Map(),         // user -> home view id
  modals: new Map(),        // user -> [view ids], top last
  modalErrors: {},
  triggers: new Map(),      // trigger_id -> user who caused it
  responseUrls: new Map(),  // response id -> {user, channel, thread_ts}
  deliveries: new Map(),    // feed id of a user action -> delivery
  reactions: new Map(),     // "channel ts" -> [names]
  thread: null,             // {channel, ts} open in the side pane
  renderedModal: "",
};

const key = (channel, ts) => `${channel} ${ts}`;
const person = (id) => S.cfg.people.find((p) => p.user_id === id) || { name: id, user_id: id };
const dmOf = (id) => person(id).dm_channel;
const here = () => (S.place === "channel" ? S.cfg.channel.id : dmOf(S.me));

// ------------------------------------------------------------------ the feed

function apply(entry) {
  if (entry.kind === "user") onUser(entry);
  else if (entry.kind === "call") {
    if (entry.status === 200 && entry.response?.ok) onCall(entry.method, entry.args || {}, entry.response);
  } else if (entry.kind === "response_url") onResponseUrl(entry);
  else if (entry.kind === "delivery") S.deliveries.set(entry.of, entry);
  scheduleRender();
}

// One redraw per frame however many entries arrive (a reload replays the whole feed at once).
let redrawPending = false;
function scheduleRender() {
  if (redrawPending) return;
  redrawPending = true;
  requestAnimationFrame(() => { redrawPending = false; render(); });
}

function onUser(e) {
  if (e.trigger_id) S.triggers.set(e.trigger_id, e.user);
  if (e.response_id) S.responseUrls.set(e.response_id, { user: e.user, channel: e.channel || e.target?.channel,
    thread_ts: e.target?.thread_ts, ts: e.target?.ts, ephemeral_id: e.target?.ephemeral_id });
  if (e.action === "message") {
    S.messages.set(key(e.channel, e.ts), { channel: e.channel, ts: e.ts, thread_ts: e.thread_ts, user: e.user,
      text: e.text, format: "user", files: e.files, feedId: e.id });
  }
}

function textOf(args) {
  if (args.markdown_text) return { text: String(args.markdown_text), format: "markdown" };
  return { text: String(args.text ?? ""), format: args.mrkdwn === false ? "plain" : "mrkdwn" };
}

function streamText(args) {
  let text = args.markdown_text ? String(args.markdown_text) : "";
  for (const c of parse(args.chunks) || []) if (c?.type === "markdown_text") text += c.text || "";
  return text;
}

function botMessage(channel, ts, thread_ts, fields) {
  const m = { channel, ts, thread_ts: thread_ts || null, bot: true, user: S.cfg.bot.user_id, ...fields };
  S.messages.set(key(channel, ts), m);
  if (m.thread_ts) S.statuses.delete(key(channel, m.thread_ts));  // Slack clears the status on a reply
  return m;
}

function onCall(method, args, response) {
  const channel = String(args.channel || args.channel_id || response.channel || "");
  switch (method) {
    case "chat.postMessage":
      botMessage(response.channel, response.ts, args.thread_ts, { ...textOf(args), blocks: parse(args.blocks) });
      break;
    case "chat.update": {
      const m = S.messages.get(key(channel, args.ts));
      if (m) {
        if (args.text !== undefined || args.markdown_text) Object.assign(m, textOf(args));
        if (args.blocks !== undefined) m.blocks = parse(args.blocks);
      }
      break;
    }
    case "chat.delete": S.messages.delete(key(channel, args.ts)); break;
    case "chat.startStream":
      botMessage(response.channel, response.ts, args.thread_ts, { text: streamText(args), format: "markdown", streaming: true });
      break;
    case "chat.appendStream": case "chat.stopStream": {
      const m = S.messages.get(key(channel, args.ts));
      if (!m) break;
      m.text += streamText(args);
      if (method === "chat.stopStream") { m.streaming = false; if (args.blocks) m.blocks = parse(args.blocks); }
      break;
    }
    case "chat.postEphemeral":
      S.ephemeral.push({ id: S.ephemeral.length, channel, thread_ts: args.thread_ts, user: args.user, ...textOf(args), blocks: parse(args.blocks), at: Date.now() });
      break;
    case "assistant.threads.setStatus":
      if (args.status) S.statuses.set(key(args.channel_id, args.thread_ts), String(args.status));
      else S.statuses.delete(key(args.channel_id, args.thread_ts));
      break;
    case "assistant.threads.setSuggestedPrompts": {
      const where = args.thread_ts ? key(args.channel_id, args.thread_ts) : String(args.channel_id);
      S.prompts.set(where, { title: args.title, prompts: parse(args.prompts) || [] });
      break;
    }
    case "reactions.add": case "reactions.remove": {
      const k = key(channel, args.timestamp), list = S.reactions.get(k) || [];
      S.reactions.set(k, method === "reactions.add" ? [...list, args.name] : list.filter((n) => n !== args.name));
      break;
    }
    case "files.completeUploadExternal": {
      const files = parse(args.files) || [];
      botMessage(channel, String(Date.now() / 1000), args.thread_ts, { text: args.initial_comment || "", format: "mrkdwn",
        files: files.map((f) => ({ name: f.title || f.id })) });
      break;
    }
    case "views.open": {
      const user = S.triggers.get(args.trigger_id || args.interactivity_pointer);
      S.views.set(response.view.id, response.view);
      if (user) S.modals.set(user, [...(S.modals.get(user) || []), response.view.id]);
      break;
    }
    case "views.update": S.views.set(response.view.id, response.view); S.modalErrors = {}; break;
    case "views.publish": S.views.set(response.view.id, response.view); S.homes.set(String(args.user_id), response.view.id); break;
    default: break;  // reads (users.info, conversations.*, files.info, auth.test) draw nothing
  }
}

function onResponseUrl(e) {
  const origin = S.responseUrls.get(e.response_id);
  const body = typeof e.body === "object" && e.body ? e.body : { text: String(e.body ?? "") };
  if (!origin) return;
  if (body.response_type === "in_channel") {
    botMessage(origin.channel, String(Date.now() / 1000), origin.thread_ts, { ...textOf(body), blocks: body.blocks });
  } else if (body.replace_original && S.ephemeral[origin.ephemeral_id]) {  // an ephemeral's button answered in place
    Object.assign(S.ephemeral[origin.ephemeral_id], { ...textOf(body), blocks: body.blocks });
  } else {
    S.ephemeral.push({ id: S.ephemeral.length, channel: origin.channel, thread_ts: origin.thread_ts, user: origin.user, ...textOf(body), blocks: body.blocks, at: Date.now() });
  }
}

// ------------------------------------------------------------------ drawing

function messageHtml(m, { inThread }) {
  const who = m.bot ? "coachbot" : person(m.user).name;
  const avatar = `<span class="avatar ${m.bot ? "bot" : ""}">${E(who[0].toUpperCase())}</span>`;
  const when = new Date(parseFloat(m.ts) * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  let body = m.blocks?.length ? Render.blocks(m.blocks, {}) : "";
  if (!body || m.format === "markdown") {
    const text = m.format === "markdown" ? Render.markdown(m.text) : m.format === "plain" ? `<p>${E(m.text)}</p>` : Render.mrkdwn(m.text);
    body = `<div class="text">${text}</div>` + (m.format === "markdown" ? body : "");
  }
  const files = (m.files || []).map((f) => `<div class="file">▤ ${E(f.name || f.title)}${f.size ? ` <span class="when">${f.size} bytes</span>` : ""}</div>`).join("");
  const reactions = (S.reactions.get(key(m.channel, m.ts)) || []).map((n) => `<span class="reaction">${Render.emoji(n)}</span>`).join("");
  const delivery = m.feedId && S.deliveries.get(m.feedId);
  const failed = delivery && !(delivery.status >= 200 && delivery.status < 300)
    ? `<div class="delivery-error">coachbot answered this event with ${delivery.status || delivery.error}</div>` : "";
  let replies = "";
  if (!inThread) {
    const count = threadReplies(m.channel, m.ts).length;
    const status = S.statuses.get(key(m.channel, m.ts));
    if (count) replies = `<button class="replies" data-thread="${E(m.ts)}">${count} ${count === 1 ? "reply" : "replies"}</button>`;
    if (status) replies += ` <span class="inline-status">coachbot ${E(status)}</span>`;
  }
  return `<div class="message ${m.bot ? "bot" : "person"} ${m.streaming ? "streaming" : ""}" data-ts="${E(m.ts)}" data-channel="${E(m.channel)}">
    ${avatar}<div class="body"><div><span class="who">${E(who)}</span>${m.bot ? '<span class="app-tag">APP</span>' : ""}<span class="when">${when}</span></div>
    ${body}${files}${reactions ? `<div class="reactions">${reactions}</div>` : ""}${failed}${replies}</div></div>`;
}

function ephemeralHtml(e) {
  const text = e.blocks?.length ? Render.blocks(e.blocks, {}) : `<div class="text">${e.format === "markdown" ? Render.markdown(e.text) : Render.mrkdwn(e.text)}</div>`;
  return `<div class="message bot ephemeral" data-id="${E(e.id)}"><span class="avatar bot">C</span><div class="body">
    <div><span class="who">coachbot</span><span class="app-tag">APP</span> <span class="only-you">Only visible to you</span></div>${text}</div></div>`;
}

const sorted = (list) => list.sort((a, b) => parseFloat(a.ts) - parseFloat(b.ts));
const topLevel = (channel) => sorted([...S.messages.values()].filter((m) => m.channel === channel && (!m.thread_ts || m.thread_ts === m.ts)));
const threadReplies = (channel, ts) => sorted([...S.messages.values()].filter((m) => m.channel === channel && m.thread_ts === ts && m.ts !== ts));
// Messages and the ephemeral answers only this person sees, by time (an ephemeral has no ts).
const inOrder = (messages, ephemerals) => [...messages, ...ephemerals.map((e) => ({ ...e, ephemeral: true }))]
  .sort((a, b) => (a.ephemeral ? a.at / 1000 : parseFloat(a.ts)) - (b.ephemeral ? b.at / 1000 : parseFloat(b.ts)));
const ephemeralsIn = (channel, thread_ts) => S.ephemeral.filter((e) => e.user === S.me && e.channel === channel && (e.thread_ts || null) === (thread_ts || null));

function promptsHtml(where) {
  const p = S.prompts.get(where);
  if (!p || !p.prompts.length) return "";
  return (p.title ? `<div class="title">${E(p.title)}</div>` : "") + p.prompts.map((x) =>
    `<button type="button" class="prompt" data-message="${E(x.message)}">${E(x.title)}</button>`).join("");
}

function stickToBottom(el, html) {
  const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
  el.innerHTML = html;
  if (atBottom) el.scrollTop = el.scrollHeight;
}

function render() {
  if (!S.cfg) return;
  const channel = here();
  const onHome = S.place === "app" && S.tab === "home";
  $("#nav-channel").classList.toggle("active", S.place === "channel");
  $("#nav-app").classList.toggle("active", S.place === "app");
  $("#title").textContent = S.place === "channel" ? `# ${S.cfg.channel.name}` : "coachbot";
  $("#tabs").innerHTML = S.place === "app" ? ["messages", "home"].map((t) =>
    `<button type="button" data-tab="${t}" class="${S.tab === t ? "active" : ""}">${t === "home" ? "Home" : "Messages"}</button>`).join("") : "";
  $("#home").hidden = !onHome;
  $("#messages").hidden = onHome;
  $("#composer").hidden = onHome;
  $("#prompts").hidden = onHome;
  $("#composer .hint").textContent = S.place === "channel" ? "Mention @coachbot to start a session · /coach · /perf" : "Each message starts a coaching session · /coach · /perf";
  if (onHome) {
    const view = S.views.get(S.homes.get(S.me));
    $("#home").innerHTML = !S.cfg.home_tab ? `<div class="placeholder">coachbot has no Home tab: <code>home_tab_enabled</code> is false in manifest.yml, so Slack shows none and sends no <code>app_home_opened</code> for it.</div>`
      : view ? Render.blocks(view.blocks, { view_id: view.id }) : `<div class="placeholder">coachbot has not published a Home view for ${E(person(S.me).name)} yet (no <code>views.publish</code>).</div>`;
  } else {
    const list = inOrder(topLevel(channel), ephemeralsIn(channel, null)).map((x) =>
      x.ephemeral ? ephemeralHtml(x) : messageHtml(x, { inThread: false })).join("");
    stickToBottom($("#messages"), list || `<div class="placeholder">No messages yet. ${S.place === "channel" ? "Say something to @coachbot." : "Ask coachbot anything about your work."}</div>`);
    $("#prompts").innerHTML = S.place === "app" ? promptsHtml(channel) : "";
  }
  const pane = $("#thread");
  pane.hidden = !S.thread || S.thread.channel !== channel || onHome;
  if (!pane.hidden) {
    const parent = S.messages.get(key(S.thread.channel, S.thread.ts));
    const list = [parent, ...threadReplies(S.thread.channel, S.thread.ts)].filter(Boolean);
    stickToBottom($("#thread-messages"), inOrder(list, ephemeralsIn(S.thread.channel, S.thread.ts)).map((x) =>
      x.ephemeral ? ephemeralHtml(x) : messageHtml(x, { inThread: true })).join(""));
    const status = S.statuses.get(key(S.thread.channel, S.thread.ts));
    $("#thread-status").textContent = status ? `coachbot ${status}` : "";
    $("#thread-prompts").innerHTML = promptsHtml(key(S.thread.channel, S.thread.ts));
  }
  renderModal();
}

function renderModal() {
  const stack = S.modals.get(S.me) || [];
  const view = S.views.get(stack[stack.length - 1]);
  const drawn = view ? `${view.id} ${view.hash} ${JSON.stringify(S.modalErrors)}` : "";
  if (drawn === S.renderedModal) return;  // redrawing would throw away what the person typed
  S.renderedModal = drawn;
  $("#modal-backdrop").hidden = !view;
  if (!view) return;
  $("#modal").dataset.viewId = view.id;
  $("#modal").innerHTML = `<header>${Render.plain(view.title)}</header>
    <div class="modal-body">${Render.blocks(view.blocks, { view_id: view.id, errors: S.modalErrors })}</div>
    <footer><button type="button" class="bk-button" data-modal="close">${Render.plain(view.close) || "Cancel"}</button>
    ${view.submit ? `<button type="button" class="bk-button primary" data-modal="submit">${Render.plain(view.submit)}</button>` : ""}</footer>`;
}

// ------------------------------------------------------------------ acting

async function act(kind, body) {
  const response = await fetch(`/act/${kind}`, { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user: S.me, ...body }) });
  const answer = await response.json();
  if (answer.status && !answer.ok) toast(`coachbot answered ${answer.status}${answer.error ? ` (${answer.error})` : ""}`);
  return answer;
}

function toast(text) {
  const el = $("#toast");
  el.textContent = text; el.hidden = false;
  clearTimeout(toast.timer); toast.timer = setTimeout(() => { el.hidden = true; }, 4000);
}

async function send(text, thread_ts) {
  const channel = here();
  const command = text.match(/^(\/\w+)\s*([\s\S]*)$/);
  if (command && !thread_ts) return act("command", { channel, command: command[1], text: command[2] });
  const answer = await act("message", { channel, text, thread_ts });
  if (!thread_ts && answer.ts) { S.thread = { channel, ts: answer.ts }; render(); }
  return answer;
}

async function upload(file, thread_ts, text) {
  const query = new URLSearchParams({ user: S.me, channel: here(), name: file.name, text: text || "" });
  if (thread_ts) query.set("thread_ts", thread_ts);
  const response = await fetch(`/act/upload?${query}`, { method: "POST", body: file, headers: { "Content-Type": file.type || "text/plain" } });
  const answer = await response.json();
  if (!thread_ts && answer.ts) { S.thread = { channel: here(), ts: answer.ts }; render(); }
}

function wireComposer(form, threadOf) {
  const textarea = $("textarea", form), picker = $("input[type=file]", form);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = textarea.value.trim();
    if (!text) return;
    textarea.value = "";
    send(text, threadOf());
  });
  textarea.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); form.requestSubmit(); }
  });
  $(".attach", form).addEventListener("click", () => picker.click());
  picker.addEventListener("change", () => {
    const file = picker.files[0];
    if (file) upload(file, threadOf(), textarea.value.trim());
    textarea.value = ""; picker.value = "";
  });
}

function targetOf(el) {
  const modal = el.closest("#modal");
  if (modal) return { view_id: modal.dataset.viewId };
  if (el.closest("#home")) return { view_id: S.homes.get(S.me) };
  const shown = el.closest(".ephemeral"), e = shown && S.ephemeral[Number(shown.dataset.id)];
  if (e) return { ephemeral_id: e.id, channel: e.channel, thread_ts: e.thread_ts, blocks: e.blocks, values: valuesIn(shown) };
  const message = el.closest(".message");
  return { channel: message?.dataset.channel, ts: message?.dataset.ts };
}

const modalValues = () => valuesIn(document.querySelector("#modal") || document);

// What is typed or chosen in the inputs under ``root`` (a modal, or an ephemeral message), as Slack's state.values.
function valuesIn(root) {
  const values = {};
  for (const el of root.querySelectorAll("[data-input]")) {
    const spec = JSON.parse(el.dataset.input);
    let state = { type: spec.type, value: el.value };
    if (spec.type === "static_select") {
      const option = el.selectedOptions[0]?.dataset.option;
      state = { type: spec.type, selected_option: option ? JSON.parse(option) : null };
    }
    (values[spec.block_id] ||= {})[spec.action_id] = state;
  }
  return values;
}

async function submitModal() {
  const viewId = $("#modal").dataset.viewId;
  const answer = await act("submit", { view_id: viewId, values: modalValues() });
  const body = parse(answer.body);
  if (body && body.response_action === "errors") { S.modalErrors = body.errors || {}; renderModal(); return; }
  if (body && body.response_action === "update" && body.view) { S.views.set(viewId, { ...S.views.get(viewId), ...body.view }); }
  else if (body && body.response_action === "clear") S.modals.set(S.me, []);
  else if (answer.ok) S.modals.set(S.me, (S.modals.get(S.me) || []).filter((id) => id !== viewId));
  S.modalErrors = {};
  render();
}

function openPlace(place, tab) {
  S.place = place;
  if (tab) S.tab = tab;
  if (place === "app") act("home", { tab: S.tab });  // Slack sends app_home_opened each time
  render();
}

document.addEventListener("click", (ev) => {
  const el = ev.target.closest("button");
  if (!el) return;
  if (el.dataset.nav) openPlace(el.dataset.nav, el.dataset.nav === "app" ? "messages" : null);
  else if (el.dataset.tab) openPlace("app", el.dataset.tab);
  else if (el.dataset.thread) { S.thread = { channel: here(), ts: el.dataset.thread }; render(); }
  else if (el.dataset.message) send(el.dataset.message, el.closest("#thread") ? S.thread?.ts : null);
  else if (el.dataset.modal === "close") { S.modals.set(S.me, (S.modals.get(S.me) || []).slice(0, -1)); S.modalErrors = {}; render(); }
  else if (el.dataset.modal === "submit") submitModal();
  else if (el.dataset.action) act("press", { action: JSON.parse(el.dataset.action), target: targetOf(el) });
  else if (el.classList.contains("close") && el.closest("#thread")) { S.thread = null; render(); }
});

document.addEventListener("change", (ev) => {
  const el = ev.target;
  if (!el.classList?.contains("bk-select") || !el.dataset.action) return;
  const option = el.selectedOptions[0]?.dataset.option;
  if (option) act("press", { action: { ...JSON.parse(el.dataset.action), selected_option: JSON.parse(option) }, target: targetOf(el) });
});

async function start() {
  S.cfg = await (await fetch("/config")).json();
  Render.setNames(Object.fromEntries([[S.cfg.bot.user_id, "coachbot"], ...S.cfg.people.map((p) => [p.user_id, p.name])]));
  const select = $("#acting-as");
  select.innerHTML = S.cfg.people.map((p) => `<option value="${E(p.user_id)}">${E(p.name)} (${E(p.role)})</option>`).join("");
  S.me = S.cfg.people[0].user_id;
  select.addEventListener("change", () => { S.me = select.value; S.thread = null; S.renderedModal = "x"; openPlace(S.place); });
  wireComposer($("#composer"), () => null);
  wireComposer($("#thread-composer"), () => S.thread?.ts);
  const feed = new EventSource("/feed");
  feed.onmessage = (ev) => apply(JSON.parse(ev.data));
  feed.onopen = () => { document.body.dataset.feed = "open"; };
  openPlace("app", "messages");
}

start();
