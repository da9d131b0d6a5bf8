/* The saved draft's preview beside the change form: a phone-width toggle, a
 * variant (category set) and language picker that reload the frame, and the
 * same choice carried into the "send a test copy to me" form.
 */
(function () {
  "use strict";

  function setUp(aside) {
    var frame = aside.querySelector(".side-preview-frame");
    var phone = aside.querySelector(".side-preview-phone");
    var language = aside.querySelector("select[name=preview_language]");
    var test = aside.querySelector("form.side-preview-test");
    var testCategories = test.querySelector(".side-preview-test-categories");
    var testLanguage = test.querySelector("input[name=language]");
    var defaultLanguage = testLanguage.value;

    function chosen() {
      return Array.prototype.map.call(aside.querySelectorAll("input[name=preview_categories]:checked"), function (box) {
        return box.value;
      });
    }

    function update() {
      var params = new URLSearchParams();
      chosen().forEach(function (id) { params.append("categories", id); });
      if (language.value) { params.set("language", language.value); }
      var query = params.toString();
      frame.src = aside.dataset.emailUrl + (query ? "?" + query : "");
      testCategories.textContent = "";
      chosen().forEach(function (id) {
        var input = document.createElement("input");
        input.type = "hidden";
        input.name = "categories";
        input.value = id;
        testCategories.appendChild(input);
      });
      testLanguage.value = language.value || defaultLanguage;
    }

    phone.addEventListener("click", function () {
      var on = !aside.classList.contains("side-preview-phone-width");
      aside.classList.toggle("side-preview-phone-width", on);
      phone.setAttribute("aria-pressed", on ? "true" : "false");
    });
    aside.addEventListener("change", function (event) {
      if (event.target.name === "preview_categories" || event.target.name === "preview_language") { update(); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".digest-side-preview").forEach(setUp);
  });
})();
