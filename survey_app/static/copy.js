// Copy buttons (`data-copy="TEXT"`), such as the one beside a new invitation link.
// A static file (never inline) so the content security policy can forbid inline scripts.
"use strict";

document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  try {
    await navigator.clipboard.writeText(button.dataset.copy);
    button.textContent = "Copied";
  } catch {
    // No clipboard (plain http on another host): select the link for Ctrl+C instead.
    const link = button.previousElementSibling;
    window.getSelection().selectAllChildren(link);
    button.textContent = "Press Ctrl+C";
  }
});
