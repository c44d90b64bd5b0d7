// The challenge form: show only the grading fields of the chosen answer format. Without
// this script every group shows, each titled with the formats it is for.
(function () {
  "use strict";
  function update(select) {
    var chosen = "for-" + select.value;
    document.querySelectorAll("fieldset.grading-fields").forEach(function (fieldset) {
      fieldset.hidden = select.value !== "" && !fieldset.classList.contains(chosen);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var select = document.getElementById("id_answer_format");
    if (!select) return;
    update(select);
    select.addEventListener("change", function () { update(select); });
  });
})();
