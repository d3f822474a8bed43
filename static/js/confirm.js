// Destructive actions ask first: a form with data-confirm="question" submits only when the user
// agrees. Without JavaScript the form still works (the server re-checks everything it must).
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form && form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);
