// Mandate Vault dashboard: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";

  // Copy buttons: <button data-copy="element-id">.
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-copy]") : null;
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) return;
    var text = source.value !== undefined ? source.value : source.textContent;
    var status = button.parentElement && button.parentElement.querySelector(".copied");
    function done(message) { if (status) status.textContent = message; }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done("Copied."); }, function () {
        source.select(); done("Press Ctrl+C to copy.");
      });
    } else {
      source.select(); done("Selected: press Ctrl+C to copy.");
    }
  });

  // A form is sent once: its submit buttons are disabled after the first submit.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.method && form.method.toLowerCase() !== "post") return;
    var limit = form.getAttribute("data-max-bytes");
    if (limit) {
      var input = form.querySelector("input[type=file]");
      var file = input && input.files && input.files[0];
      if (file && file.size > Number(limit)) {
        event.preventDefault();
        var error = form.querySelector("[data-file-error]");
        if (error) error.textContent = "The file is larger than the " + Number(limit).toLocaleString() + " byte cap.";
        input.setAttribute("aria-invalid", "true");
        return;
      }
    }
    window.setTimeout(function () {
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
    }, 0);
  });

  // Back/forward restores pages from the cache with their buttons still disabled.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("button[type=submit][disabled]").forEach(function (b) { b.disabled = false; });
  });
})();
