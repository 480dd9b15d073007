// anketa: the staff pages' one script: the report's print button (the page is complete
// without it; the browser's own Print works the same).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-print]").forEach(function (b) {
    b.addEventListener("click", function () { window.print(); });
  });
});
