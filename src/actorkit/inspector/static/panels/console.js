// Console tab (dev mode only): Python evaluated inside the actor, `self` bound to it.
import { api } from "../api.js";
import { h, errorBox } from "../dom.js";

const history = [];

export function consolePanel(ctx, root) {
  const out = h("div.console-out.mono", { testid: "console-out" },
    h("div.muted", "Python inside the actor: `self` is the actor, top-level await works, " +
      "the code runs as one turn (state changes persist). Enter runs · Shift+Enter new line."));
  const input = h("textarea.console-in.mono", { testid: "console-in", rows: 2, spellcheck: false,
    placeholder: "self.state" });
  let pos = history.length;
  input.addEventListener("keydown", async (e) => {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      const code = input.value;
      if (!code.trim()) return;
      history.push(code); pos = history.length; input.value = "";
      out.append(h("div.c-in", h("span.prompt", ">>> "), code));
      try {
        const res = await api.console(ctx.actorId, code);
        if (res.stdout) out.append(h("div.c-stdout", res.stdout));
        out.append(res.ok ? h("div.c-result", { testid: "console-result" }, res.repr)
          : h("div.c-error", { testid: "console-error" }, res.error));
      } catch (err) { out.append(errorBox(err)); }
      out.scrollTop = out.scrollHeight;
    } else if (e.key === "ArrowUp" && !input.value.includes("\n") && pos > 0) {
      e.preventDefault(); input.value = history[--pos];
    } else if (e.key === "ArrowDown" && pos < history.length) {
      e.preventDefault(); pos += 1; input.value = history[pos] || "";
    }
  });
  root.append(h("div.console", out, input));
  setTimeout(() => input.focus());
  return {};
}
