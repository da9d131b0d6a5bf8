/* The digest change page, progressively enhanced (everything works without it):
 *
 * - Character counts: every field with data-char-count="<limit>" shows a live
 *   count (plus data-char-count-extra characters the product adds, e.g. the
 *   date after the title in the subject), marked once over the limit. An empty
 *   limit only counts.
 * - Unsaved changes: leaving the page after an edit asks first (the browser's
 *   own "leave site?" dialog); saving does not.
 */
(function () {
  "use strict";

  function texts() {
    return document.querySelector(".digest-editor-texts") || {dataset: {}};
  }

  function length(value) {
    return Array.from(value).length;
  }

  function addCounter(field) {
    if (field.dataset.charCounted || field.closest(".empty-form")) { return; }
    field.dataset.charCounted = "1";
    var limit = parseInt(field.dataset.charCount, 10);
    var extra = parseInt(field.dataset.charCountExtra || "0", 10);
    var counter = document.createElement("span");
    counter.className = "char-count";
    counter.setAttribute("aria-live", "polite");
    function update() {
      var n = length(field.value) + extra;
      counter.textContent = isNaN(limit) ? n + " " + (texts().dataset.chars || "") : n + " / " + limit;
      counter.classList.toggle("char-count-over", !isNaN(limit) && n > limit);
    }
    field.addEventListener("input", update);
    field.parentNode.insertBefore(counter, field.nextSibling);
    update();
  }

  function watchUnsaved(form) {
    var dirty = false;
    function mark(event) {
      if (event.target && event.target.closest && event.target.closest(".empty-form")) { return; }
      dirty = true;
    }
    form.addEventListener("input", mark);
    form.addEventListener("change", mark);
    // Reordering by arrows or drag renumbers positions without an input event.
    form.addEventListener("digest:reordered", mark);
    form.addEventListener("submit", function () { dirty = false; });
    window.addEventListener("beforeunload", function (event) {
      if (!dirty) { return; }
      event.preventDefault();
      event.returnValue = texts().dataset.unsaved || "";
      return event.returnValue;
    });
  }

  function enhance(root) {
    root.querySelectorAll("[data-char-count]").forEach(addCounter);
  }

  document.addEventListener("DOMContentLoaded", function () {
    enhance(document);
    var form = document.getElementById("digest_form");
    if (form) { watchUnsaved(form); }
  });
  document.addEventListener("formset:added", function (event) { enhance(event.target); });
})();
