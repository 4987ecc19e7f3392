// State tab: the live state as a JSON tree; Edit replaces it (validated by the server).
import { api } from "../api.js";
import { h, clear, time, errorBox } from "../dom.js";
import { jsonTree } from "../tree.js";

export function statePanel(ctx, root) {
  let state = ctx.detail.state;
  let editing = false;
  const stamp = h("span.muted", { testid: "state-updated" }, "");
  const view = h("div.state-view", { testid: "state-view" });
  const editBtn = h("button", { testid: "state-edit", onclick: () => edit() }, "Edit");
  const toolbar = h("div.toolbar", editBtn,
    h("button", { onclick: async () => { state = (await ctx.refresh()).state; show(); } }, "Refresh"),
    h("span.spacer"), stamp);
  root.append(toolbar, view);

  function show(flash = false) {
    if (editing) return;
    if (!ctx.detail.has_state) {
      clear(view, h("div.placeholder", "This actor type has no state."));
      editBtn.disabled = true;
      return;
    }
    const tree = jsonTree(state, { open: 3 });
    view.dataset.json = JSON.stringify(state);
    clear(view, tree);
    if (flash) { view.classList.remove("flash"); void view.offsetWidth; view.classList.add("flash"); }
  }

  function edit() {
    editing = true;
    editBtn.disabled = true;
    const text = h("textarea.editor.mono", { testid: "state-editor", spellcheck: false,
      value: JSON.stringify(state, null, 2), rows: 16 });
    const errors = h("div");
    const save = async () => {
      let value;
      try { value = JSON.parse(text.value); } catch (err) {
        clear(errors, errorBox({ body: { code: "invalid_json", message: err.message } }));
        return;
      }
      try {
        state = (await api.setState(ctx.actorId, value)).state;
        ctx.detail.state = state;
        done();
      } catch (err) { clear(errors, errorBox(err)); }
    };
    const done = () => { editing = false; editBtn.disabled = false; show(true); };
    text.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) save();
      if (e.key === "Escape") done();
    });
    clear(view, h("div.edit-box", text, errors, h("div.row-end",
      h("span.muted", "Ctrl+Enter saves · Esc cancels"),
      h("button", { onclick: done, testid: "state-cancel" }, "Cancel"),
      h("button.primary", { onclick: save, testid: "state-save" }, "Save"))));
    text.focus();
  }

  show();
  return {
    onEvent(e) {
      if (e.kind !== "state") return;
      state = e.state;
      stamp.textContent = `updated ${time(e.time)}`;
      show(true);
    },
  };
}
