// The voucher sheet's print button: shown only where this script runs (CSP: no inline handler).
"use strict";
(function () {
  var button = document.getElementById("print-sheet");
  if (!button) return;
  button.hidden = false;
  button.addEventListener("click", function () { window.print(); });
})();
