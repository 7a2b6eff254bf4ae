// The console's post editor, on top of a form that works without JavaScript:
// - keeps a draft copy in the store as the person types (every few seconds and on leaving
//   a field), so a closed tab or a crash loses nothing;
// - reloads the live preview (page and email, phone and desktop width) from that copy;
// - warns before leaving the page with changes not saved to the post;
// - asks before the buttons marked data-confirm (Publish now, Unpublish, Move to trash).
"use strict";
(function () {
  const form = document.querySelector("form[data-autosave]");
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
})();
