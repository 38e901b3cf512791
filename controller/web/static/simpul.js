// Behaviour the pages' markup asks for with data- attributes. The Content-Security-Policy
// (script-src 'self') forbids inline handlers such as onchange="...", so they live here.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  function ready() {
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () {
        if (select.form) select.form.requestSubmit();
      });
    });
    // Destructive actions: ask here; the server asks again on a page when the answer is
    // missing (no JavaScript), so the field only saves a round trip.
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) {
          event.preventDefault();
          return;
        }
        var field = form.querySelector("input[name=confirmed]");
        if (!field) {
          field = document.createElement("input");
          field.type = "hidden";
          field.name = "confirmed";
          form.appendChild(field);
        }
        field.value = "yes";
      });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
