// alert-router dashboard: the only script of its own. Every control form carries a
// data-confirm question; nothing is sent unless the operator confirms it.
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
