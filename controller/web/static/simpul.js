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
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
