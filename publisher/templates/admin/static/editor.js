// The console's post editor, on top of a form that works without JavaScript:
// - keeps a draft copy in the store as the person types (every few seconds and on leaving
//   a field), so a closed tab or a crash loses nothing;
// - reloads the live preview (page and email, phone and desktop width) from that copy;
// - warns before leaving the page with changes not saved to the post;
// - asks before the buttons marked data-confirm (Publish now, Unpublish, Move to trash);
// - puts the body's plain textarea in a Markdown editor (OverType, vendored under
//   static/vendor/overtype by tools/vendor_editor.py) and suggests tags as they are typed.
"use strict";
(function () {
  const form = document.querySelector("form[data-autosave]");
  if (form) markdownEditor(document.getElementById("body"));
  if (form) tagSuggestions(document.getElementById("tags"));
  document.addEventListener("submit", (event) => {
    const button = event.submitter;
    const question = button && button.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  });
  if (!form) return;

  const status = document.getElementById("autosave-status");
  const frame = document.getElementById("preview-frame");
  const token = form.querySelector("input[name=csrf_token]").value;
  const every = 3000;
  let kept = snapshot(); // what the post file (or the last autosave) holds
  let saved = kept; // what the post file holds
  let timer = null;
  let leaving = false;

  function snapshot() {
    const data = new FormData(form);
    data.delete("csrf_token");
    data.delete("picture");
    return new URLSearchParams(data).toString();
  }

  function say(text) {
    if (status) status.textContent = text;
  }

  async function autosave() {
    timer = null;
    const now = snapshot();
    if (now === kept) return;
    const data = new FormData(form);
    data.delete("picture");
    try {
      const response = await fetch(form.dataset.autosave, {
        method: "POST",
        body: new URLSearchParams(data),
        headers: { "X-CSRF-Token": token, Accept: "application/json" },
        credentials: "same-origin",
      });
      if (!response.ok) throw new Error(String(response.status));
      const answer = await response.json();
      kept = now;
      say("Draft copy kept at " + answer.saved_at + ". Save to change the post.");
      reload();
    } catch (error) {
      say("Could not keep a draft copy (" + error.message + "); your text is still here.");
    }
  }

  function later() {
    if (timer === null) timer = window.setTimeout(autosave, every);
  }

  form.addEventListener("input", later);
  form.addEventListener("change", () => {
    if (timer !== null) window.clearTimeout(timer);
    autosave();
  });
  form.addEventListener("submit", () => {
    leaving = true;
  });
  window.addEventListener("beforeunload", (event) => {
    if (!leaving && snapshot() !== saved) {
      event.preventDefault();
      event.returnValue = ""; // older browsers need it to ask
    }
  });

  // The preview: which view (page, email) and which width (phone, desktop).
  const view = { as: "page", width: "desktop" };
  function reload() {
    if (!frame) return;
    const url = new URL(frame.dataset.src, window.location.href);
    url.searchParams.set("as", view.as);
    url.searchParams.set("draft", "1");
    url.searchParams.set("t", String(Date.now()));
    const shown = view.as + ":" + view.width;
    frame.onload = () => {
      frame.dataset.shown = shown; // what the frame shows once loaded (tests wait for it)
    };
    frame.src = url.toString();
    frame.classList.toggle("phone", view.width === "phone");
    frame.title = "Preview of the " + (view.as === "email" ? "email" : "page") + " at " + view.width + " width";
  }
  document.querySelectorAll("[data-preview]").forEach((button) => {
    button.addEventListener("click", () => {
      const [key, value] = button.dataset.preview.split(":");
      view[key] = value;
      document.querySelectorAll(`[data-preview^="${key}:"]`).forEach((other) => {
        other.setAttribute("aria-pressed", String(other === button));
      });
      reload();
    });
  });
  const panel = document.getElementById("preview-live");
  if (panel) panel.hidden = false;
  reload();

  // The body in OverType: a real textarea (same name and id, so the form, the label, the
  // autosave and the tests see the same field) over a highlighted copy of the Markdown.
  // Without the library (or without JavaScript) the plain textarea stays.
  function markdownEditor(plain) {
    if (!plain || !window.OverType) return;
    // The stylesheet is static/vendor/overtype/overtype.css: the console's policy allows
    // no inline <style>, so the library must not add its own.
    window.OverType.stylesInjected = true;
    const holder = document.createElement("div");
    holder.className = "markdown-editor";
    plain.after(holder);
    const props = { name: "body", id: "body", spellcheck: "true" };
    props["aria-describedby"] = plain.getAttribute("aria-describedby") || "";
    const value = plain.value;
    plain.remove();
    new window.OverType(holder, {
      value: value,
      toolbar: true,
      spellcheck: true,
      fontSize: "15px",
      padding: "12px",
      textareaProps: props,
    });
  }

  // Tags are typed separated by commas; the datalist suggests the site's known tags for
  // the one being typed (keeping those before it), and not those already given.
  function tagSuggestions(input) {
    const list = input && document.getElementById(input.getAttribute("list"));
    if (!list) return;
    const known = Array.from(list.options, (option) => option.value);
    function suggest() {
      const cut = input.value.lastIndexOf(",");
      const before = cut < 0 ? "" : input.value.slice(0, cut + 1) + " ";
      const given = new Set(
        input.value.split(",").slice(0, -1).map((tag) => tag.trim().toLowerCase()),
      );
      const left = known.filter((tag) => !given.has(tag.toLowerCase()));
      list.replaceChildren(...left.map((tag) => new Option(before + tag, before + tag)));
    }
    input.addEventListener("input", suggest);
    suggest();
  }
})();
