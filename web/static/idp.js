// The pages' only script, and an optional one: every page works without it.
// It adds a show-password toggle to each password input marked data-reveal.
// Loaded with the page's CSP nonce; it reads no cookie, token or URL.
(function () {
  "use strict";
  document.querySelectorAll("input[data-reveal]").forEach(function (input) {
    var d = input.dataset;
    var button = document.createElement("button");
    button.type = "button";
    button.className = "reveal";
    button.setAttribute("aria-controls", input.id);
    function show(visible) {
      input.type = visible ? "text" : "password";
      button.textContent = visible ? d.hide : d.show;
      button.setAttribute("aria-label", visible ? d.hideLabel : d.showLabel);
    }
    button.addEventListener("click", function () {
      show(input.type === "password");
      input.focus();
    });
    // A password manager or the browser may save what is shown: hide the
    // password again before the form is sent.
    if (input.form) {
      input.form.addEventListener("submit", function () { show(false); });
    }
    show(false);
    input.insertAdjacentElement("afterend", button);
  });
})();
