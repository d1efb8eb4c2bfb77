// Surveys and voice prompts: play prompt audio in the page, play a question's prompts
// in order, pre-fill the recording form from a grid cell, and follow a render's progress.
// Every link works without this script: it opens the file, or the page with the form filled.
(function () {
  "use strict";
  var player = new Audio();
  var queue = [];

  function playNext() {
    var next = queue.shift();
    if (!next) return;
    player.src = next;
    player.play().catch(function () { queue = []; });
  }
  player.addEventListener("ended", playNext);

  document.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target.closest("a.playable, button.play-all, a.record-link") : null;
    if (!target) return;
    event.preventDefault();
    if (target.classList.contains("record-link")) {
      document.getElementById("upload-key").value = target.dataset.key;
      document.getElementById("upload-language").value = target.dataset.language;
      document.getElementById("upload").scrollIntoView({ behavior: "smooth" });
      document.querySelector("#upload input[type=file]").focus();
      return;
    }
    if (target.classList.contains("play-all")) {
      var links = target.closest(".voice").querySelectorAll("a.playable");
      queue = Array.prototype.map.call(links, function (a) { return a.href; });
    } else {
      queue = [target.href];
    }
    player.pause();
    playNext();
  });

  var render = document.getElementById("render");
  if (!render || render.dataset.state !== "running") return;
  var bar = render.querySelector("progress");
  var text = render.querySelector(".progress-text");
  var button = render.querySelector(".render-form button");

  function poll() {
    fetch(render.dataset.status, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (state) {
        if (state.state === "running") {
          bar.max = state.total || 1;
          bar.value = state.done || 0;
          text.textContent = "Rendering… " + (state.done || 0) + " of " + (state.total || "?");
          window.setTimeout(poll, 1000);
        } else {
          // Finished: the grid and the summary are the server's to show.
          text.textContent = "Finished. Updating the grid…";
          button.disabled = false;
          window.location.reload();
        }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
})();
