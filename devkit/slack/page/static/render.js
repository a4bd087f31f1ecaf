// Slack's text formats and the Block Kit elements coachbot uses, as HTML. Anything else is a
// clear placeholder naming its type. No dependencies: loaded before page.js, which calls
// Render.mrkdwn / Render.markdown / Render.blocks.
"use strict";

const Render = (() => {
  const EMOJI = { eyes: "👀", white_check_mark: "✅", warning: "⚠️", x: "❌", hourglass: "⌛",
    hourglass_flowing_sand: "⏳", thumbsup: "👍", "+1": "👍", thumbsdown: "👎", "-1": "👎",
    tada: "🎉", wave: "👋", bulb: "💡", memo: "📝", page_facing_up: "📄", paperclip: "📎" };

  const escape = (s) => String(s ?? "").replace(/[&<>"']/g, (c) =>
    ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const emoji = (s) => s.replace(/:([a-z0-9_+\-]+):/g, (m, name) => EMOJI[name] || m);

  let names = {};  // user id -> display name, for <@U…> mentions
  const setNames = (map) => { names = map; };

  // Slack's own link syntax, already HTML-escaped: &lt;@U1&gt;, &lt;#C1|name&gt;, &lt;url|text&gt;, &lt;!here&gt;
  const slackLinks = (s) => s.replace(/&lt;([@#!]?)([^|&]+?)(?:\|([^&]*?))?&gt;/g, (m, sigil, target, label) => {
    if (sigil === "@") return `<span class="mention">@${escape(names[target] || label || target)}</span>`;
    if (sigil === "#") return `<span class="mention">#${escape(label || target)}</span>`;
    if (sigil === "!" && target.startsWith("date^")) return label || "";  // <!date^…|fallback>, already escaped
    if (sigil === "!") return `<span class="mention">@${escape(label || target)}</span>`;
    if (/^(https?:|mailto:)/.test(target)) return `<a href="${target}" target="_blank" rel="noopener">${label || target}</a>`;
    return m;
  });

  // Inline marks shared by both formats, on escaped text outside code spans.
  const inline = (s, bold, italic, strike, underscore = null) => {
    const parts = s.split(/(`[^`\n]+`)/);
    return parts.map((part) => {
      if (/^`[^`\n]+`$/.test(part)) return `<code>${part.slice(1, -1)}</code>`;
      let out = part;
      out = out.replace(bold, "$1<strong>$2</strong>");
      out = out.replace(italic, "$1<em>$2</em>");
      if (underscore) out = out.replace(underscore, "$1<em>$2</em>");
      out = out.replace(strike, "$1<del>$2</del>");
      return emoji(out);
    }).join("");
  };

  // Lines into paragraphs, lists and quotes; ``inlineFn`` formats each line's text.
  const blocksOfLines = (text, inlineFn, headings) => {
    const fenced = String(text ?? "").split(/```/);
    return fenced.map((chunk, i) => {
      if (i % 2 === 1) return `<pre>${escape(chunk.replace(/^\n/, ""))}</pre>`;
      const html = [];
      let list = null;
      const closeList = () => { if (list) { html.push(`</${list}>`); list = null; } };
      for (const raw of escape(chunk).split("\n")) {
        const line = raw.trimEnd();
        let m;
        if (headings && (m = line.match(/^(#{1,3})\s+(.*)$/))) {
          closeList(); html.push(`<h${m[1].length}>${inlineFn(m[2])}</h${m[1].length}>`);
        } else if ((m = line.match(/^\s*(?:[-*•])\s+(.*)$/))) {
          if (list !== "ul") { closeList(); html.push("<ul>"); list = "ul"; }
          html.push(`<li>${inlineFn(m[1])}</li>`);
        } else if ((m = line.match(/^\s*\d+[.)]\s+(.*)$/))) {
          if (list !== "ol") { closeList(); html.push("<ol>"); list = "ol"; }
          html.push(`<li>${inlineFn(m[1])}</li>`);
        } else if ((m = line.match(/^&gt;\s?(.*)$/))) {
          closeList(); html.push(`<blockquote>${inlineFn(m[1])}</blockquote>`);
        } else if (line === "") {
          closeList();
        } else {
          closeList(); html.push(`<p>${inlineFn(line)}</p>`);
        }
      }
      closeList();
      return html.join("");
    }).join("");
  };

  // Slack mrkdwn: *bold*, _italic_, ~strike~, `code`, ```pre```, > quote, <links|and> <@mentions>.
  const mrkdwn = (text) => blocksOfLines(text, (s) => slackLinks(inline(s,
    /(^|[\s(])\*([^*\n]+)\*/g, /(^|[\s(])_([^_\n]+)_/g, /(^|[\s(])~([^~\n]+)~/g)), false);

  // Markdown (markdown_text, streams, markdown blocks): **bold**, *italic*, ~~strike~~, [text](url), # headings.
  const markdown = (text) => blocksOfLines(text, (s) => slackLinks(inline(s,
    /(^|[^*])\*\*([^*\n]+)\*\*/g, /(^|[^*\w])\*([^*\n]+)\*/g, /(^|[^~])~~([^~\n]+)~~/g,
    /(^|[^\w])_([^_\n]+)_(?!\w)/g)
    .replace(/\[([^\]]+)\]\((https?:[^)\s]+)\)/g, '<a href="$2" target="_blank" rel="noopener">$1</a>')), true);

  const textObject = (t) => !t ? "" : t.type === "mrkdwn" ? mrkdwn(t.text) : `<p>${emoji(escape(t.text))}</p>`;
  const plain = (t) => escape(t?.text ?? "");
  const placeholder = (kind, what) =>
    `<div class="bk-placeholder" data-unsupported="${escape(what)}">[${escape(kind)} <code>${escape(what)}</code> is not drawn by this page]</div>`;
  const data = (obj) => escape(JSON.stringify(obj));

  // An interactive element; ``blockId`` goes into the action as Slack's payload carries it.
  const element = (el, blockId, ctx) => {
    const base = { type: el.type, action_id: el.action_id, block_id: blockId };
    switch (el.type) {
      case "button": {
        const action = { ...base, text: el.text, value: el.value, style: el.style };
        return `<button type="button" class="bk-button ${escape(el.style || "")}" data-action="${data(action)}">${plain(el.text)}</button>`;
      }
      case "feedback_buttons": {
        const one = (b, label) => b ? `<button type="button" class="bk-button feedback" title="${escape(b.accessibility_label || label)}"
          data-action="${data({ ...base, value: b.value, text: b.text })}">${plain(b.text) || label}</button>` : "";
        return one(el.positive_button, "Good") + one(el.negative_button, "Bad");
      }
      case "static_select": {
        const options = (el.options || []).map((o) =>
          `<option value="${escape(o.value)}" data-option="${data(o)}">${plain(o.text)}</option>`).join("");
        return `<select class="bk-select" data-action="${data(base)}"><option value="">${plain(el.placeholder) || "Choose…"}</option>${options}</select>`;
      }
      case "image":
        return `<span class="bk-image" title="${escape(el.alt_text)}">🖼 ${escape(el.alt_text || "image")}</span>`;
      case "mrkdwn": case "plain_text":
        return `<span class="text">${textObject(el)}</span>`;
      default:
        return placeholder("element", el.type);
    }
  };

  // A modal's input: the element, named so the page can read its state back on submit.
  const input = (block, ctx) => {
    const el = block.element || {};
    const id = `${block.block_id}:${el.action_id}`;
    const name = `data-input="${data({ block_id: block.block_id, action_id: el.action_id, type: el.type })}"`;
    let control;
    if (el.type === "plain_text_input") {
      const value = escape(el.initial_value || "");
      const ph = el.placeholder ? `placeholder="${plain(el.placeholder)}"` : "";
      control = el.multiline ? `<textarea id="${escape(id)}" rows="4" ${name} ${ph}>${value}</textarea>`
        : `<input id="${escape(id)}" ${name} ${ph} value="${value}">`;
    } else if (el.type === "static_select") {
      const options = (el.options || []).map((o) => `<option value="${escape(o.value)}" data-option="${data(o)}"
        ${el.initial_option?.value === o.value ? "selected" : ""}>${plain(o.text)}</option>`).join("");
      control = `<select id="${escape(id)}" ${name}><option value=""></option>${options}</select>`;
    } else {
      control = placeholder("input element", el.type);
    }
    const error = ctx.errors?.[block.block_id] ? `<div class="error">${escape(ctx.errors[block.block_id])}</div>` : "";
    const hint = block.hint ? `<div class="hint">${plain(block.hint)}</div>` : "";
    return `<div class="bk-input"><label for="${escape(id)}">${plain(block.label)}${block.optional ? " <span class='hint'>(optional)</span>" : ""}</label>${control}${hint}${error}</div>`;
  };

  const richText = (block) => (block.elements || []).map((section) => {
    const inner = (section.elements || []).map((e) => {
      if (e.type === "text") {
        let t = escape(e.text);
        if (e.style?.bold) t = `<strong>${t}</strong>`;
        if (e.style?.italic) t = `<em>${t}</em>`;
        if (e.style?.code) t = `<code>${t}</code>`;
        return t.replace(/\n/g, "<br>");
      }
      if (e.type === "link") return `<a href="${escape(e.url)}">${escape(e.text || e.url)}</a>`;
      if (e.type === "user") return `<span class="mention">@${escape(names[e.user_id] || e.user_id)}</span>`;
      if (e.type === "emoji") return EMOJI[e.name] || `:${escape(e.name)}:`;
      return "";
    }).join("");
    if (section.type === "rich_text_preformatted") return `<pre>${inner}</pre>`;
    if (section.type === "rich_text_quote") return `<blockquote>${inner}</blockquote>`;
    if (section.type === "rich_text_list") return `<ul>${(section.elements || []).map((s) => `<li>${richText({ elements: [s] })}</li>`).join("")}</ul>`;
    return `<p>${inner}</p>`;
  }).join("");

  const block = (b, ctx) => {
    const id = b.block_id || "";
    switch (b.type) {
      case "section": {
        const fields = b.fields ? `<div class="bk-fields">${b.fields.map((f) => `<div class="text">${textObject(f)}</div>`).join("")}</div>` : "";
        const accessory = b.accessory ? `<div>${element(b.accessory, id, ctx)}</div>` : "";
        return `<div class="bk-section"><div class="text">${textObject(b.text)}${fields}</div>${accessory}</div>`;
      }
      case "header": return `<div class="bk-header">${plain(b.text)}</div>`;
      case "divider": return `<hr class="bk-divider">`;
      case "markdown": return `<div class="text">${markdown(b.text)}</div>`;
      case "context":
        return `<div class="bk-context">${(b.elements || []).map((e) => element(e, id, ctx)).join("")}</div>`;
      case "actions": case "context_actions":
        return `<div class="bk-actions">${(b.elements || []).map((e) => element(e, id, ctx)).join("")}</div>`;
      case "input": return input(b, ctx);
      case "rich_text": return `<div class="text">${richText(b)}</div>`;
      default: return placeholder("block", b.type);
    }
  };

  const blocks = (list, ctx = {}) =>
    (list || []).map((b) => `<div class="bk-block" data-block-type="${escape(b.type)}">${block(b, ctx)}</div>`).join("");

  return { escape, mrkdwn, markdown, blocks, plain, setNames, emoji: (name) => EMOJI[name] || `:${name}:` };
})();
