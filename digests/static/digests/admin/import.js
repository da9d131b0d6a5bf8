/* The import page: clicking a problem of pasted text selects its line in the text box. */
(function () {
  "use strict";

  function selectLine(textarea, number) {
    var lines = textarea.value.split("\n");
    var start = 0;
    for (var i = 0; i < number - 1 && i < lines.length; i++) { start += lines[i].length + 1; }
    var end = start + (lines[number - 1] || "").length;
    textarea.focus();
    textarea.setSelectionRange(start, end);
    var height = textarea.scrollHeight / Math.max(lines.length, 1);
    textarea.scrollTop = Math.max(0, (number - 3) * height);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var textarea = document.querySelector("textarea.digest-paste");
    if (!textarea) { return; }
    textarea.closest(".form-row").querySelectorAll(".import-problems li[data-line]").forEach(function (item) {
      item.classList.add("import-problem-link");
      item.addEventListener("click", function () { selectLine(textarea, parseInt(item.dataset.line, 10)); });
    });
  });
})();
