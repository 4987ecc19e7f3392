// Actions tab: pick an action, give JSON arguments, call it, see the output or the error.
import { api } from "../api.js";
import { h, clear, errorBox } from "../dom.js";
import { jsonTree } from "../tree.js";

function signature(a) {
  const params = a.params.map((p) => `${p.name}${p.required ? "" : "?"}: ${p.type}`);
  if (a.var_args) params.push("...args");
  return `(${params.join(", ")})`;
}

export function actionsPanel(ctx, root) {
  const actions = ctx.detail.type.actions;
  if (!actions.length) {
    root.append(h("div.placeholder", "This actor type has no actions."));
    return {};
  }
  let current = null;
  const list = h("ul.action-list", { testid: "action-list" });
  const title = h("div.action-title.mono");
  const args = h("textarea.editor.mono.args", { testid: "action-args", rows: 4, spellcheck: false });
  const params = h("input.mono", { placeholder: "connection params (JSON, optional)", testid: "action-params" });
  const result = h("div.result", { testid: "action-result" });
  const callBtn = h("button.primary", { testid: "action-call", onclick: () => call() }, "Call ▶");
  args.addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) call(); });

  for (const a of actions) {
    const li = h("li", { testid: `action-${a.name}`, onclick: () => pick(a, li) },
      h("span.name.mono", a.name), h("span.sig.mono", signature(a)));
    list.append(li);
  }

  function pick(a, li) {
    current = a;
    for (const el of list.children) el.classList.toggle("selected", el === li);
    clear(title, h("span.type", a.name), h("span.muted", signature(a)));
    args.value = JSON.stringify(a.params.filter((p) => p.required).map((p) =>
      p.type === "int" || p.type === "float" ? 0 : p.type === "str" ? "" : null));
    clear(result);
  }

  async function call() {
    if (!current) return;
    let parsedArgs, parsedParams;
    try {
      parsedArgs = JSON.parse(args.value || "[]");
      if (!Array.isArray(parsedArgs)) parsedArgs = [parsedArgs];
      parsedParams = params.value.trim() ? JSON.parse(params.value) : undefined;
    } catch (err) {
      clear(result, errorBox({ body: { code: "invalid_json", message: err.message } }));
      return;
    }
    callBtn.disabled = true;
    clear(result, h("span.muted", "calling…"));
    try {
      const res = await api.call(ctx.actorId, current.name, parsedArgs, parsedParams);
      clear(result, h("div.result-head.ok", "✓ output", h("span.muted", ` ${res.duration_ms.toFixed(1)} ms`)),
        h("div", { testid: "action-output" }, jsonTree(res.output)));
      result.dataset.output = JSON.stringify(res.output);
    } catch (err) {
      clear(result, h("div.result-head.err", "✗ error"), errorBox(err));
    } finally { callBtn.disabled = false; }
  }

  root.append(h("div.split", list, h("div.action-form", title,
    h("label.muted", "arguments (JSON array)"), args, params,
    h("div.row-end", h("span.muted", "Ctrl+Enter calls"), callBtn), result)));
  pick(actions[0], list.firstChild);
  return {};
}
