// The phone simulator's keypad and screen. The page works without this file (forms post
// and the page shows the new screen); with it, keys are pressed on a keypad, replies are
// sent without reloading, and a voice prompt's files play one after another.
"use strict";

(function () {
  const root = document.getElementById("simulator");
  if (!root) return;
  document.documentElement.classList.add("js");
  const mode = root.dataset.mode;
  const form = document.getElementById("send-form");
  const reply = document.getElementById("reply");
  const keypad = document.getElementById("keypad");
  const errorBox = document.getElementById("sim-error");
  let busy = false;

  keypad.hidden = false;

  function showError(message) {
    errorBox.textContent = message || "";
    errorBox.hidden = !message;
  }

  async function post(action, body) {
    const response = await fetch(action, {
      method: "POST",
      body: body,
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    if (response.redirected || !(response.headers.get("Content-Type") || "").includes("json")) {
      // Signed out, or the form expired: the page itself says what to do.
      window.location.assign(response.url);
      return null;
    }
    const data = await response.json();
    if (!response.ok) {
      showError(data.error || "The simulator could not do that.");
      return null;
    }
    showError("");
    return data;
  }

  async function submit(action, extra) {
    if (busy) return;
    busy = true;
    const body = new FormData(form);
    for (const [name, value] of Object.entries(extra || {})) body.set(name, value);
    let data = null;
    try {
      data = await post(action, body);
    } catch (error) {
      showError("The service did not answer: " + error.message);
    } finally {
      busy = false; // before the new screen shows: a key pressed on it is never dropped
    }
    if (data) (mode === "ussd" ? showScreen : showVoice)(data);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const button = event.submitter;
    const action = (button && button.getAttribute("formaction")) || form.action;
    const extra = button && button.dataset.action === "silence" ? { silence: "1" } : {};
    submit(action, extra);
  });

  // The dial form posts as it is; a new session shows its first screen without a reload.
  const dial = document.getElementById("dial-form");
  if (dial) {
    dial.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (busy) return;
      busy = true;
      let data = null;
      try {
        data = await post(dial.action, new FormData(dial));
      } catch (error) {
        showError("The service did not answer: " + error.message);
      } finally {
        busy = false;
      }
      if (data) (mode === "ussd" ? showScreen : showVoice)(data);
    });
  }

  // -- USSD --------------------------------------------------------------------------

  function showScreen(data) {
    document.getElementById("screen-text").textContent = data.screen;
    const meta = document.getElementById("screen-meta");
    meta.textContent = data.screen
      ? `${data.length}/${data.limit} characters · ${data.final ? "session ended" : "reply below"}`
      : "Session ended.";
    reply.value = "";
    reply.disabled = data.final;
    if (!data.final) reply.focus();
  }

  // -- voice -------------------------------------------------------------------------

  const player = document.getElementById("player");
  const playButton = document.getElementById("play");
  let queue = [];
  let input = form.dataset.input ? JSON.parse(form.dataset.input) : { type: "none" };

  function describe(spec) {
    const keys = (k) => (k ? ` ${k} goes back.` : "");
    if (spec.type === "keys") {
      const ends = spec.max_digits === 1 ? "One key answers." : `End with ${spec.end}.`;
      return `Press keys: ${ends}${keys(spec.back)} ${spec.repeat} repeats.`;
    }
    if (spec.type === "several") {
      return `One choice at a time: its number and ${spec.end}; ${spec.end} alone when done.${keys(spec.back)}`;
    }
    if (spec.type === "record") {
      return "The caller answers by voice: type what they would say, then Send.";
    }
    return "";
  }

  function showVoice(data) {
    const list = document.getElementById("sounds");
    list.replaceChildren();
    for (const sound of data.sounds) {
      const item = document.createElement("li");
      item.textContent = sound.text || sound.key;
      if (!sound.url) {
        item.className = "missing";
        const tag = document.createElement("span");
        tag.className = "tag";
        tag.textContent = "no audio: skipped";
        item.append(" ", tag);
      }
      item.dataset.url = sound.url || "";
      list.append(item);
    }
    const warnings = document.getElementById("warnings");
    warnings.replaceChildren();
    for (const text of data.warnings || []) {
      const p = document.createElement("p");
      p.className = "warning";
      p.textContent = text;
      warnings.append(p);
    }
    input = data.input || { type: "none" };
    document.getElementById("call-state").textContent = data.final ? "Call ended." : "On the call.";
    document.getElementById("input-hint").textContent = data.final ? "" : describe(input);
    document.getElementById("spoken").hidden = input.type !== "record";
    reply.value = "";
    reply.disabled = data.final;
    play();
  }

  function play() {
    const items = Array.from(document.querySelectorAll("#sounds li"));
    queue = items.filter((item) => item.dataset.url);
    playButton.hidden = queue.length === 0;
    next();
  }

  function next() {
    document.querySelectorAll("#sounds li.playing").forEach((li) => li.classList.remove("playing"));
    const item = queue.shift();
    if (!item) return;
    item.classList.add("playing");
    player.src = item.dataset.url;
    player.play().catch(() => {
      // Autoplay refused before the first click: the Play button starts it.
      item.classList.remove("playing");
      queue = [];
    });
  }

  if (mode === "voice") {
    document.querySelectorAll("#sounds li").forEach((item) => {
      const audio = item.querySelector("audio");
      item.dataset.url = audio ? audio.getAttribute("src") : "";
    });
    player.addEventListener("ended", next);
    player.addEventListener("error", next);
    playButton.addEventListener("click", play);
    playButton.hidden = !document.querySelector("#sounds audio");
    document.getElementById("input-hint").textContent = describe(input);
  }

  function stopPlaying() {
    queue = [];
    player.pause();
  }

  // -- the keypad --------------------------------------------------------------------

  keypad.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-key]");
    if (!button || reply.disabled) return;
    const key = button.dataset.key;
    if (mode === "ussd") {
      reply.value += key;
      return;
    }
    // As on a call: any key cuts the prompt short, and the entry ends as the IVR ends it.
    stopPlaying();
    reply.value += key;
    const pressed = reply.value;
    if (input.type === "keys") {
      const first = pressed.length === 1 && (key === input.repeat || key === input.back);
      const full = input.max_digits && pressed.length >= input.max_digits;
      if (key === input.end || first || full) submit(form.action);
    } else if (input.type === "several" && key === input.end) {
      // One choice per entry, `end` alone when done; a first entry may repeat or go back.
      const entries = pressed.split(key);
      const first = entries.length === 2 && (entries[0].startsWith(input.repeat) || entries[0] === input.back);
      if (pressed === key || pressed.endsWith(key + key) || first) submit(form.action);
    } else if (input.type === "record" && pressed.length === 1) {
      if (key === input.repeat || key === input.back) submit(form.action);
    }
  });
})();
