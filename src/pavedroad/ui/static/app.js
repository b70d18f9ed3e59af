// pavedroad dashboard: the little that needs a script. Pages work without it, except the
// kill switch, whose form sits in a confirmation dialog on purpose.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Buttons with data-dialog open the <dialog> of that id; [data-close] closes it.
  for (const button of document.querySelectorAll("[data-dialog]")) {
    button.addEventListener("click", () => {
      const dialog = document.getElementById(button.dataset.dialog);
      if (dialog) dialog.showModal();
    });
  }
  for (const button of document.querySelectorAll("[data-close]")) {
    button.addEventListener("click", () => button.closest("dialog").close());
  }
  // Selects marked data-autosubmit (the time range picker) apply at once.
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.submit());
  }
});
